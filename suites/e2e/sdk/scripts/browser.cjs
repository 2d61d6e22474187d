// Drives the real posthog-js in headless Chromium through puppeteer-core, as a web page uses it.
// Env: SDK_DIR (node_modules with puppeteer-core), PAGE (the harness's page URL), CAPTURE (the
// deployment's capture URL), CHROMIUM, INPUT (JSON: {run, events, beaconEvents, plainEvents, company}).
// Prints one JSON object: events the SDK sent (uuid, name, page), flag answers, the requests the
// pages made to the deployment, failed requests and console errors.
const path = require('node:path')
const puppeteer = require(path.join(process.env.SDK_DIR, 'node_modules', 'puppeteer-core'))

const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

async function openPage(browser, out, label, query) {
  const page = await browser.newPage()
  await page.setUserAgent((await browser.userAgent()).replace('HeadlessChrome', 'Chrome'))
  await page.exposeFunction('shakedownSent', (json) => {
    const x = JSON.parse(json)
    if (x.beacon) out.beacons.push(x)
    else out.sent.push(x)
  })
  const capture = process.env.CAPTURE
  page.on('request', (r) => {
    if (!r.url().startsWith(capture)) return
    out.requests.push({ page: label, method: r.method(), url: r.url().slice(capture.length),
      type: r.headers()['content-type'] || '', resource: r.resourceType() })
  })
  page.on('requestfailed', (r) => out.failed.push(label + ': ' + r.url() + ' ' + (r.failure() ? r.failure().errorText : '')))
  page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warn') out.console.push(label + ' ' + m.type() + ': ' + m.text()) })
  page.on('pageerror', (e) => out.console.push(label + ' pageerror: ' + e.message))
  await page.goto(process.env.PAGE + query, { waitUntil: 'load', timeout: 20000 })
  return page
}

// main page: flags, identify, group, captures, then captures left to the unload beacon.
async function mainPage(browser, out, input) {
  const page = await openPage(browser, out, 'main', '?page=main')
  out.flags = await page.evaluate(async (input) => {
    const until = async (cond, ms) => { for (let t = 0; t < ms / 250 && !cond(); t++) await new Promise((r) => setTimeout(r, 250)); return cond() }
    if (!input.flags) {
      for (let i = 0; i < input.events; i++) posthog.capture('js-event', { run: input.run, i })
      const anon = posthog.get_distinct_id()
      posthog.identify(input.user, { plan: 'pro' }, { first_index: 0 })
      posthog.group('company', input.company, { seats: 40 })
      for (let i = 0; i < input.events; i++) posthog.capture('js-event', { run: input.run, i, identified: true })
      return { answers: {}, anon, user: posthog.get_distinct_id() }
    }
    const loaded = await Promise.race([new Promise((resolve) => posthog.onFeatureFlags(() => resolve(true))),
      new Promise((resolve) => setTimeout(() => resolve(false), 15000))])
    if (!loaded) return { error: 'posthog-js never reported its feature flags loaded' }
    const f = {}
    f['boolean'] = posthog.getFeatureFlag('shakedown-checkout')
    f['payload'] = posthog.getFeatureFlagPayload('shakedown-checkout')
    f['multivariate'] = posthog.getFeatureFlag('shakedown-pricing')
    f['person property mismatch'] = posthog.getFeatureFlag('shakedown-pro-only')
    f['group absent'] = posthog.getFeatureFlag('shakedown-group')
    const anon = posthog.get_distinct_id()
    for (let i = 0; i < input.events; i++) posthog.capture('js-event', { run: input.run, i })
    posthog.identify(input.user, { plan: 'pro' }, { first_index: 0 })
    await until(() => posthog.getFeatureFlag('shakedown-pro-only') === true, 15000)
    f['person property in request'] = posthog.getFeatureFlag('shakedown-pro-only')
    posthog.group('company', input.company, { seats: 40 })
    for (let t = 0; t < 20 && posthog.getFeatureFlag('shakedown-group') !== true; t++) {
      posthog.reloadFeatureFlags()
      await until(() => posthog.getFeatureFlag('shakedown-group') === true, 1000)
    }
    f['group property in request'] = posthog.getFeatureFlag('shakedown-group')
    for (let i = 0; i < input.events; i++) posthog.capture('js-event', { run: input.run, i, identified: true })
    return { answers: f, anon, user: posthog.get_distinct_id() }
  }, input)
  // Let the batches go out on their timer.
  await sleep(4000)
  // Capture more, then tell the page it is being left (the pagehide a real
  // navigation fires; during a real one the harness cannot watch the page):
  // posthog-js must hand those events to navigator.sendBeacon.
  await page.evaluate((input) => {
    for (let i = 0; i < input.beaconEvents; i++) posthog.capture('js-beacon', { run: input.run, i })
    window.dispatchEvent(new PageTransitionEvent('pagehide', { persisted: false }))
  }, input)
  await sleep(1500)
  await page.goto('about:blank')
  await page.close()
}

// plain page: compression turned off, events as plain JSON.
async function plainPage(browser, out, input) {
  const page = await openPage(browser, out, 'plain', '?page=plain&compression=off')
  await page.evaluate((input) => { for (let i = 0; i < input.plainEvents; i++) posthog.capture('js-plain', { run: input.run, i }) }, input)
  await sleep(4500)
  await page.goto('about:blank')
  await sleep(1000)
  await page.close()
}

async function main() {
  const input = JSON.parse(process.env.INPUT)
  const launch = () => puppeteer.launch({
    executablePath: process.env.CHROMIUM,
    headless: true,
    // A first start on a busy machine can take long (seen: over 30 s on 2 cores).
    timeout: 90000,
    // posthog-js ignores browsers that say they are automated.
    ignoreDefaultArgs: ['--enable-automation'],
    args: ['--no-sandbox', '--disable-blink-features=AutomationControlled', '--disable-background-networking', '--disable-dev-shm-usage'],
  })
  let browser
  try {
    browser = await launch()
  } catch (e) {
    console.error('chromium did not start (' + e.message + '); trying once more')
    browser = await launch()
  }
  const out = { sent: [], beacons: [], requests: [], failed: [], console: [] }
  try {
    await mainPage(browser, out, input)
    await plainPage(browser, out, input)
  } finally {
    await browser.close()
  }
  process.stdout.write(JSON.stringify(out) + '\n')
}

main().catch((e) => { console.error(e); process.exit(1) })
