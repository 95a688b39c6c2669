// Playwright fixtures: a real relay process on free ports and a static server for the built bundle (both from
// support.ts, which the benchmark shares), and browser processes (Debian's or Playwright's), all closed when the
// test ends.
import { test as base, chromium, firefox } from '@playwright/test'
import { chromiumLaunchOptions, firefoxLaunchOptions } from './browsers.ts'
import { RelayProcess, startCoturn, startSite } from './support.ts'
import type { Coturn } from './support.ts'
import type { Browser, BrowserContext, Page } from '@playwright/test'

export { RelayProcess }

export type BrowserKind = 'chromium' | 'firefox'

interface Fixtures {
  /** a relay process, started before the test and killed after it */
  relay: RelayProcess
  /** more relay processes (not started yet: call `prepare()` and/or `start()`), killed after the test */
  newRelay: (args?: string[]) => RelayProcess
  /** starts a new browser process of the given kind; closed after the test */
  launch: (kind: BrowserKind) => Promise<Browser>
  /** starts a browser with a persistent profile in `dir` (for identity-survives-restart tests) */
  launchPersistent: (kind: BrowserKind, dir: string) => Promise<BrowserContext>
  /** a coturn process on 127.0.0.1 (started on first use), stopped after the test */
  coturn: () => Promise<Coturn>
}

interface WorkerFixtures {
  /** URL of the test page, which loads dist/peerlane.min.js with a plain script tag */
  pageUrl: string
}

export const test = base.extend<Fixtures, WorkerFixtures>({
  pageUrl: [async ({}, use) => {
    const site = await startSite({ folders: ['dist', 'test-e2e'], start: '/test-e2e/page.html' })
    await use(site.url)
    await site.close()
  }, { scope: 'worker' }],

  relay: async ({}, use, testInfo) => {
    const relay = new RelayProcess(testInfo.outputPath('relay'))
    await relay.start()
    await use(relay)
    await relay.kill('SIGKILL')
  },

  newRelay: async ({}, use, testInfo) => {
    const relays: RelayProcess[] = []
    await use((args = []) => {
      const relay = new RelayProcess(testInfo.outputPath(`relay-${relays.length + 1}`), args)
      relays.push(relay)
      return relay
    })
    await Promise.all(relays.map(async r => r.kill('SIGKILL')))
  },

  launch: async ({}, use) => {
    const browsers: Browser[] = []
    await use(async kind => {
      const browser = kind === 'chromium' ? await chromium.launch(await chromiumLaunchOptions()) : await firefox.launch(firefoxLaunchOptions())
      browsers.push(browser)
      return browser
    })
    await Promise.all(browsers.map(async b => b.close()))
  },

  coturn: async ({}, use, testInfo) => {
    let started: Coturn | undefined
    await use(async () => { started ??= await startCoturn(testInfo.outputPath('coturn')); return started })
    await started?.stop()
  },

  launchPersistent: async ({}, use) => {
    const contexts: BrowserContext[] = []
    await use(async (kind, dir) => {
      const context = kind === 'chromium'
        ? await chromium.launchPersistentContext(dir, await chromiumLaunchOptions())
        : await firefox.launchPersistentContext(dir, firefoxLaunchOptions())
      contexts.push(context)
      return context
    })
    await Promise.all(contexts.map(async c => c.close().catch(() => {})))
  }
})

export { expect } from '@playwright/test'

let pages = 0

/**
 * Opens the test page in a new tab of `target`; page errors go to the test output. With PEERLANE_DEBUG set
 * (e.g. `PEERLANE_DEBUG='libp2p:webrtc*'`), libp2p's browser logs are enabled and printed too.
 */
export async function openPage (target: Browser | BrowserContext, url: string): Promise<Page> {
  const page = await target.newPage()
  const debug = process.env.PEERLANE_DEBUG
  if (debug != null) {
    const name = `page${++pages}`
    await page.addInitScript((debug) => { localStorage.debug = debug }, debug)
    page.on('console', m => { console.log(`${new Date().toISOString().slice(11, 23)} ${name}> ${m.text().replace(/%c|color: [#\w]+/g, '')}`) })
  }
  page.on('pageerror', err => { console.error(`[page error] ${err.message}`) })
  await page.goto(url)
  return page
}
