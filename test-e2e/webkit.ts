// WebKit for the end-to-end tests. WebKit is the engine of every iPhone browser, but Playwright's WebKit build
// cannot be installed here; Debian's webkit2gtk-driver can: WebKitWebDriver (a W3C WebDriver server) drives
// MiniBrowser, WebKitGTK's own browser, in automation mode, under xvfb-run (its processes: webkit-driver.ts).
// webdriverio is the WebDriver client, in WebDriver classic (WebKitWebDriver refuses the BiDi session webdriverio
// asks for by default).
import { remote } from 'webdriverio'
import { ensureWebKitInstalled, sleep, WebKitDriverProcess } from './webkit-driver.ts'
import type { Page } from '@playwright/test'

type Browser = Awaited<ReturnType<typeof remote>>

/** The W3C capabilities of a MiniBrowser session */
export function webkitCapabilities (miniBrowser: string): WebdriverIO.Capabilities {
  return {
    browserName: 'MiniBrowser',
    // WebKitWebDriver 2.50 fails to match the BiDi capability (webSocketUrl) that webdriverio 9 adds by default
    'wdio:enforceWebDriverClassic': true,
    'webkitgtk:browserOptions': {
      binary: miniBrowser,
      // --automation: the window WebKitWebDriver controls (with an ephemeral website data store, which still keeps
      // IndexedDB across reloads for the session's lifetime). This MiniBrowser (GTK 3, webkit2gtk-4.1) has no
      // --headless, hence xvfb-run; --enable-write-console-messages-to-stdout does not reach automation windows,
      // and --enable-webrtc=true adds nothing: Debian builds WebKitGTK without WebRTC
      args: ['--automation']
    },
    // page.evaluate's promises may take this long
    timeouts: { script: 90_000, pageLoad: 30_000, implicit: 0 }
  } as unknown as WebdriverIO.Capabilities
}

/** A WebKitWebDriver under `xvfb-run -a`, listening on a free port of 127.0.0.1, and its MiniBrowser sessions */
export class WebKitDriver {
  private readonly processes: WebKitDriverProcess
  private readonly pages = new Set<WebKitPage>()

  private constructor (processes: WebKitDriverProcess) {
    this.processes = processes
  }

  get port (): number { return this.processes.port }
  get driver (): string { return this.processes.driver }
  get miniBrowser (): string { return this.processes.miniBrowser }
  /** what xvfb-run, the driver and MiniBrowser wrote (not the pages' console: see WebKitPage.errors) */
  get output (): string { return this.processes.output }

  /** Starts the driver and waits (up to `timeout` ms) until it answers /status */
  static async start (timeout = 20_000): Promise<WebKitDriver> {
    return new WebKitDriver(await WebKitDriverProcess.start(timeout))
  }

  /** A new MiniBrowser session (its own browser process) showing `url` */
  async open (url: string): Promise<WebKitPage> {
    const browser = await remote({
      hostname: '127.0.0.1',
      port: this.port,
      path: '/',
      logLevel: 'error',
      connectionRetryCount: 0,
      connectionRetryTimeout: 120_000,
      capabilities: webkitCapabilities(this.miniBrowser)
    })
    const page = new WebKitPage(browser)
    this.pages.add(page)
    try {
      await page.goto(url)
      return page
    } catch (err) {
      await page.close()
      throw err
    }
  }

  /**
   * Ends the sessions, then stops the driver, after which xvfb-run stops its Xvfb; whatever of the process group
   * is left after that (or after `graceMs`) is killed, and our folder removed.
   */
  async stop (graceMs = 5_000): Promise<void> {
    await Promise.all([...this.pages].map(async page => await page.close()))
    await this.processes.stop(graceMs)
  }
}

export interface WaitOptions {
  /** ms; default 20 s */
  timeout?: number
  /** ms between polls; default 100 */
  interval?: number
  /** what is waited for, for the error */
  message?: string
}

/** A MiniBrowser window driven over WebDriver: the parts of Playwright's Page the tests use */
export class WebKitPage {
  readonly browser: Browser
  private closed = false

  constructor (browser: Browser) {
    this.browser = browser
  }

  /**
   * Runs `fn(arg)` in the page and resolves to its (awaited, JSON-serialisable) result, like Playwright's
   * page.evaluate. `fn` is sent as source: it must not use anything from the test's scope. An error thrown in the
   * page rejects with its name and message.
   */
  async evaluate<R, A = undefined> (fn: (arg: A) => R | Promise<R>, arg?: A): Promise<R> {
    const script = `const done = arguments[arguments.length - 1];
      Promise.resolve().then(() => (${fn.toString()})(arguments[0]))
        .then(value => done({ ok: true, value: value === undefined ? null : value }),
          err => done({ ok: false, name: String(err?.name ?? 'Error'), message: String(err?.message ?? err), stack: String(err?.stack ?? '') }))`
    const result = await this.browser.executeAsync(script, arg ?? null) as { ok: true, value: R } | { ok: false, name: string, message: string, stack: string }
    if (!result.ok) {
      const err = new Error(`in WebKit: ${result.name}: ${result.message}${result.stack !== '' ? `\n${result.stack}` : ''}`)
      err.name = result.name
      throw err
    }
    return result.value
  }

  /** Polls `fn(arg)` in the page until it returns something truthy, and resolves to that; rejects after `timeout` */
  async waitFor<R, A = undefined> (fn: (arg: A) => R | Promise<R>, arg?: A, options: WaitOptions = {}): Promise<NonNullable<R>> {
    const timeout = options.timeout ?? 20_000
    const deadline = Date.now() + timeout
    let last: unknown
    while (true) {
      try {
        const value = await this.evaluate(fn, arg)
        if (value != null && value !== false && value !== 0 && value !== '') return value as NonNullable<R>
        last = value
      } catch (err) {
        last = err
      }
      if (Date.now() > deadline) {
        throw new Error(`WebKit page: ${options.message ?? fn.toString().slice(0, 200)} not true within ${timeout} ms (last: ${last instanceof Error ? last.message : JSON.stringify(last)})`)
      }
      await sleep(options.interval ?? 100)
    }
  }

  async goto (url: string): Promise<void> {
    await this.browser.url(url)
    await this.recordErrors()
  }

  /** Reloads the page and waits for it to load */
  async reload (): Promise<void> {
    await this.collectErrors()
    await this.browser.refresh()
    await this.recordErrors()
  }

  /**
   * The page's uncaught errors, unhandled rejections and console.error/warn calls since it loaded (WebDriver
   * classic has no console events, and MiniBrowser does not print them in automation mode). Recording starts
   * once the page has loaded: what the script tag's own first run logs is not seen, nor libp2p's debug logs.
   */
  async errors (): Promise<string[]> {
    await this.collectErrors()
    return [...this.seen]
  }

  private readonly seen: string[] = []

  private async recordErrors (): Promise<void> {
    if (!/^https?:/.test(await this.browser.getUrl())) return
    await this.evaluate(() => {
      const w = window as any
      if (w.__webkitErrors != null) return
      const errors: string[] = w.__webkitErrors = []
      const text = (v: any): string => v instanceof Error ? `${v.name}: ${v.message}` : typeof v === 'string' ? v : JSON.stringify(v) ?? String(v)
      window.addEventListener('error', e => { errors.push(`uncaught ${text(e.error ?? e.message)}`) })
      window.addEventListener('unhandledrejection', e => { errors.push(`unhandled rejection ${text(e.reason)}`) })
      for (const level of ['error', 'warn'] as const) {
        const original = console[level].bind(console)
        console[level] = (...args: any[]) => { errors.push(`console.${level} ${args.map(text).join(' ')}`); original(...args) }
      }
    }).catch(() => {})
  }

  private async collectErrors (): Promise<void> {
    if (this.closed) return
    const fresh = await this.evaluate(() => ((window as any).__webkitErrors as string[] | undefined)?.splice(0) ?? []).catch(() => [] as string[])
    this.seen.push(...fresh)
  }

  /** Ends the session: WebKitWebDriver closes this MiniBrowser */
  async close (): Promise<void> {
    if (this.closed) return
    await this.collectErrors()
    this.closed = true
    await Promise.race([this.browser.deleteSession().catch(() => {}), sleep(10_000)])
  }
}

/**
 * `page` as the slice of Playwright's Page that peer-page.ts uses (evaluate, waitForFunction and the handle's
 * jsonValue), so its helpers drive a WebKit page with the very same in-page code
 */
export function asPlaywrightPage (page: WebKitPage): Page {
  return {
    evaluate: async (fn: any, arg: any) => await page.evaluate(fn, arg),
    waitForFunction: async (fn: any, arg: any, options: { timeout?: number } = {}) => {
      const value = await page.waitFor(fn, arg, { timeout: options.timeout ?? 20_000 })
      return { jsonValue: async () => value, dispose: async () => {} }
    }
  } as unknown as Page
}

let probed: Promise<string | undefined> | undefined

/**
 * Why WebKit cannot run here (a reason for test.skip), or undefined when it can: installs webkit2gtk-driver and
 * xvfb when they are missing and we may, then starts a driver and a MiniBrowser session once. Memoised per worker.
 */
export async function webkitSupport (): Promise<string | undefined> {
  probed ??= (async () => {
    if (process.platform !== 'linux') return 'WebKitGTK WebDriver (webkit2gtk-driver) runs on Linux only'
    const reason = ensureWebKitInstalled()
    if (reason != null) return reason
    let driver: WebKitDriver | undefined
    try {
      driver = await WebKitDriver.start()
      const page = await driver.open('about:blank')
      const agent = await page.evaluate(() => navigator.userAgent)
      if (!agent.includes('AppleWebKit')) return `MiniBrowser is not WebKit? user agent ${agent}`
      return undefined
    } catch (err: any) {
      return `WebKitWebDriver could not drive MiniBrowser: ${String(err.message).split('\n').slice(0, 3).join(' ')}`
    } finally {
      await driver?.stop()
    }
  })()
  return await probed
}
