// Drives the real posthog-js in Debian's Chromium through puppeteer-core.
// Env: SDK_DIR (node_modules with puppeteer-core), PAGE (the test page URL), CAPTURE (the stack's
// capture URL), EVENTS, RUN (a property value marking this run's events), CHROMIUM.
// Prints one JSON object: flag answers, the requests the page sent to the stack, console errors.
const path = require('node:path')
const puppeteer = require(path.join(process.env.SDK_DIR, 'node_modules', 'puppeteer-core'))

async function main() {
  const browser = await puppeteer.launch({
    executablePath: process.env.CHROMIUM,
    headless: true,
    ignoreDefaultArgs: ['--enable-automation'],
    args: ['--no-sandbox', '--disable-blink-features=AutomationControlled', '--disable-background-networking', '--disable-dev-shm-usage'],
  })
  const out = { requests: [], failed: [], console: [] }
  try {
    const page = await browser.newPage()
    const ua = (await browser.userAgent()).replace('HeadlessChrome', 'Chrome')
    await page.setUserAgent(ua)
    const capture = process.env.CAPTURE
    page.on('request', (r) => {
      if (r.url().startsWith(capture)) out.requests.push({ method: r.method(), url: r.url().slice(capture.length), type: r.headers()['content-type'] || '' })
    })
    page.on('requestfailed', (r) => out.failed.push(r.url() + ' ' + (r.failure() ? r.failure().errorText : '')))
    page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warn') out.console.push(m.type() + ': ' + m.text()) })
    page.on('pageerror', (e) => out.console.push('pageerror: ' + e.message))
    console.error('browser up, opening the page')
    await page.goto(process.env.PAGE, { waitUntil: 'load', timeout: 20000 })
    console.error('page loaded')

    const n = Number(process.env.EVENTS), run = process.env.RUN
    out.flags = await page.evaluate(async (n, run) => {
      const flagsLoaded = () => Promise.race([new Promise((resolve) => posthog.onFeatureFlags(() => resolve(true))),
        new Promise((resolve) => setTimeout(() => resolve(false), 10000))])
      if (!(await flagsLoaded())) return { error: 'posthog-js never reported its feature flags loaded' }
      const before = { checkout: posthog.getFeatureFlag('checkout'), pricing: posthog.getFeatureFlag('pricing'),
        payload: posthog.getFeatureFlagPayload('checkout'), proOnly: posthog.getFeatureFlag('pro-only') }
      for (let i = 0; i < n; i++) posthog.capture('js-event', { run, i })
      posthog.identify('js-user-' + run, { plan: 'pro' })
      // identify reloads the flags with the new person properties
      for (let t = 0; t < 40 && posthog.getFeatureFlag('pro-only') !== true; t++) await new Promise((r) => setTimeout(r, 250))
      return { before, proOnlyAfterIdentify: posthog.getFeatureFlag('pro-only'), distinctId: posthog.get_distinct_id() }
    }, n, run)
    console.error('flags: ' + JSON.stringify(out.flags))
    // posthog-js sends batches every few seconds; give it time, then flush by leaving the page.
    await new Promise((resolve) => setTimeout(resolve, 4000))
    await page.goto('about:blank')
    await new Promise((resolve) => setTimeout(resolve, 1000))
  } finally {
    await browser.close()
  }
  process.stdout.write(JSON.stringify(out) + '\n')
}

main().catch((e) => { console.error(e); process.exit(1) })
