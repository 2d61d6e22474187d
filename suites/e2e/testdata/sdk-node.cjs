// Drives the real posthog-node SDK against a stack, as a Node.js service would use it.
// Env: SDK_DIR (a directory whose node_modules holds posthog-node), TARGET, TOKEN, EVENTS, PEOPLE.
// Prints one JSON object: the uuids captured, flag answers and every error the SDK raised.
const path = require('node:path')
const { randomUUID } = require('node:crypto')
const { PostHog } = require(path.join(process.env.SDK_DIR, 'node_modules', 'posthog-node'))

async function main() {
  const errors = []
  const client = new PostHog(process.env.TOKEN, { host: process.env.TARGET, flushAt: 100, flushInterval: 100 })
  client.on('error', (e) => errors.push(String(e && e.message ? e.message : e)))
  const n = Number(process.env.EVENTS), people = Number(process.env.PEOPLE)
  const uuids = []
  for (let i = 0; i < n; i++) {
    const uuid = randomUUID()
    uuids.push(uuid)
    const properties = { $current_url: `https://shop.example/p/${i}` }
    if (i % 10 === 0) properties.$set = { plan: 'pro' }
    client.capture({ distinctId: `node-${i % people}`, event: '$pageview', properties, uuid, groups: { company: 'acme' } })
  }
  client.identify({ distinctId: 'node-1', properties: { email: 'n1@shop.example' } })
  client.alias({ distinctId: 'node-1', alias: 'node-1-alias' })
  client.groupIdentify({ groupType: 'company', groupKey: 'acme', properties: { seats: 40 } })
  await client.flush()

  const pro = { personProperties: { plan: 'pro' } }
  const deadline = Date.now() + 15000
  let checkout
  while (Date.now() < deadline) { // the stack's flag cache refreshes every few seconds
    checkout = await client.getFeatureFlag('checkout', 'node-3', pro)
    if (checkout === true) break
    await new Promise((r) => setTimeout(r, 250))
  }
  const all = await client.getAllFlags('node-3', pro)
  const payload = await client.getFeatureFlagPayload('checkout', 'node-3', undefined, pro)
  const free = await client.getFeatureFlag('pro-only', 'node-4', { personProperties: { plan: 'free' } })
  await client.shutdown()
  process.stdout.write(JSON.stringify({ uuids, checkout, all, payload, free, errors }) + '\n')
}

main().catch((e) => { console.error(e); process.exit(1) })
