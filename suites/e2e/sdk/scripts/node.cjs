// Drives the real posthog-node against a deployment, as a Node.js service uses it.
// Env: SDK_DIR (a directory whose node_modules holds posthog-node), TARGET, TOKEN,
// PHASE ("send" or "flags") and INPUT (JSON: the plan, or the flag queries).
// Prints one JSON object: {uuids, flags, errors}.
const path = require('node:path')
const { randomUUID } = require('node:crypto')
const { PostHog } = require(path.join(process.env.SDK_DIR, 'node_modules', 'posthog-node'))

async function send(client, p) {
  const uuids = []
  const capture = (distinctId, properties) => {
    const uuid = randomUUID()
    uuids.push(uuid)
    client.capture({ distinctId, event: '$pageview', properties, uuid, groups: { company: p.company } })
  }
  for (let i = 0; i < p.events; i++) {
    const properties = { $current_url: `https://shop.example/p/${i}`, run: p.run }
    if (i === 0) {
      properties.$set = { plan: 'free' }
      properties.$set_once = { first_index: 0 }
    } else if (i % 10 === 0 && i % p.people.length !== 0) {
      properties.$set = { plan: 'pro' }
    }
    capture(p.people[i % p.people.length], properties)
  }
  for (let i = 0; i < 5; i++) capture(p.anon, { run: p.run })
  client.alias({ distinctId: p.user, alias: p.anon })
  client.identify({ distinctId: p.user, properties: { email: p.user + '@shop.example' } })
  client.groupIdentify({ groupType: 'company', groupKey: p.company, properties: { seats: 40 } })
  for (let i = 0; i < 5; i++) capture(p.user, { run: p.run })
  await client.flush()
  // The second wave: everything above is delivered, so this comes after it.
  capture(p.people[0], { run: p.run, $set: { plan: 'pro' }, $set_once: { first_index: 1 } })
  await client.flush()
  return uuids
}

async function flags(client, queries) {
  const out = {}
  for (const q of queries) {
    const opts = { personProperties: q.personProperties, groups: q.groups, groupProperties: q.groupProperties }
    if (q.all) out[q.name] = await client.getAllFlags(q.distinctId, opts)
    else if (q.payload) out[q.name] = await client.getFeatureFlagPayload(q.key, q.distinctId, undefined, opts)
    else out[q.name] = await client.getFeatureFlag(q.key, q.distinctId, opts)
    if (out[q.name] === undefined) out[q.name] = null
  }
  return out
}

async function main() {
  const errors = []
  const client = new PostHog(process.env.TOKEN, { host: process.env.TARGET, flushAt: 100, flushInterval: 100 })
  client.on('error', (e) => errors.push(String(e && e.message ? e.message : e)))
  const input = JSON.parse(process.env.INPUT)
  const out = { errors }
  if (process.env.PHASE === 'send') out.uuids = await send(client, input)
  else out.flags = await flags(client, input)
  await client.shutdown()
  process.stdout.write(JSON.stringify(out) + '\n')
}

main().catch((e) => { console.error(e); process.exit(1) })
