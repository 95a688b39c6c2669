// WebKit for the end-to-end tests. WebKit is the engine of every iPhone browser, but Playwright's WebKit build
// cannot be installed here; Debian's webkit2gtk-driver can: WebKitWebDriver (a W3C WebDriver server) drives
// MiniBrowser, WebKitGTK's own browser, in automation mode, under xvfb-run (this MiniBrowser has no headless mode).
// webdriverio is the WebDriver client, in WebDriver classic (WebKitWebDriver refuses the BiDi session webdriverio
// asks for by default). Each driver is its own process group (xvfb-run, Xvfb, WebKitWebDriver, MiniBrowser and its
// web processes), stopped by PID and process group, even when a test fails.
import { execFileSync, spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { remote } from 'webdriverio'
import { ROOT } from './support.ts'
import type { Page } from '@playwright/test'
import type { ChildProcess } from 'node:child_process'
import type { AddressInfo } from 'node:net'

type Browser = Awaited<ReturnType<typeof remote>>

/** Folders of installed WebKitGTK builds (Debian: /usr/lib/x86_64-linux-gnu/webkit2gtk-4.1), newest API first */
function webkitLibDirs (): string[] {
  const roots = ['/usr/lib', '/usr/libexec', '/usr/lib64']
  try {
    roots.push(...readdirSync('/usr/lib').filter(d => d.endsWith('-linux-gnu')).map(d => join('/usr/lib', d)))
  } catch {}
  const dirs: string[] = []
  for (const root of roots) {
    try {
      for (const d of readdirSync(root)) if (/^webkit(2)?gtk-\d/.test(d)) dirs.push(join(root, d))
    } catch {}
  }
  const api = (dir: string): number => Number(/gtk-([\d.]+)$/.exec(dir)?.[1] ?? 0)
  return dirs.sort((a, b) => api(b) - api(a))
}

function onPath (cmd: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    if (dir !== '' && existsSync(join(dir, cmd))) return join(dir, cmd)
  }
  return undefined
}

/** WebKitWebDriver: /usr/bin/WebKitWebDriver (Debian), else beside a WebKitGTK build */
export function findWebKitWebDriver (): string | undefined {
  return onPath('WebKitWebDriver') ?? webkitLibDirs().map(dir => join(dir, 'WebKitWebDriver')).find(p => existsSync(p))
}

/** MiniBrowser, in a WebKitGTK build's folder (Debian's libwebkit2gtk-4.1-0 ships it) */
export function findMiniBrowser (): string | undefined {
  return webkitLibDirs().map(dir => join(dir, 'MiniBrowser')).find(p => existsSync(p))
}

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

async function freeTcpPort (): Promise<number> {
  const probe = createServer()
  await new Promise<void>(resolve => probe.listen(0, '127.0.0.1', resolve))
  const { port } = probe.address() as AddressInfo
  await new Promise(resolve => probe.close(resolve))
  return port
}

const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

/** The PIDs of the children of `pid` whose command is `command` (Linux /proc) */
function childrenOf (pid: number, command: string): number[] {
  try {
    return readdirSync(`/proc/${pid}/task`)
      .flatMap(task => readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').trim().split(/\s+/))
      .filter(s => s !== '').map(Number)
      .filter(child => { try { return readFileSync(`/proc/${child}/cmdline`, 'utf8').split('\0')[0] === command } catch { return false } })
  } catch {
    return []
  }
}

// drivers still running when the test worker exits (Ctrl-C, a crash): their process groups are killed and their
// folders removed on the way out
const running = new Map<number, string>()
process.on('exit', () => {
  for (const [pgid, dir] of running) {
    try { process.kill(-pgid, 'SIGKILL') } catch {}
    rmSync(dir, { recursive: true, force: true })
  }
})

/** A WebKitWebDriver under `xvfb-run -a`, listening on a free port of 127.0.0.1 */
export class WebKitDriver {
  readonly port: number
  readonly driver: string
  readonly miniBrowser: string
  /** what xvfb-run, the driver and MiniBrowser wrote (not the pages' console: see WebKitPage.errors) */
  output = ''
  private readonly child: ChildProcess
  private readonly pgid: number
  /** our folder for xvfb-run's X authority file (so that no xvfb-run.* folder of its own is left in /tmp) */
  private readonly dir: string
  private readonly pages = new Set<WebKitPage>()

  private constructor (child: ChildProcess, dir: string, port: number, driver: string, miniBrowser: string) {
    this.child = child
    this.pgid = child.pid as number
    this.dir = dir
    this.port = port
    this.driver = driver
    this.miniBrowser = miniBrowser
    running.set(this.pgid, dir)
    child.stdout?.on('data', (d: Buffer) => { this.output += d.toString() })
    child.stderr?.on('data', (d: Buffer) => { this.output += d.toString() })
  }

  /** Starts the driver and waits (up to `timeout` ms) until it answers /status */
  static async start (timeout = 20_000): Promise<WebKitDriver> {
    const driver = findWebKitWebDriver()
    const miniBrowser = findMiniBrowser()
    if (driver == null) throw new Error('WebKitWebDriver is not installed (Debian: apt-get install webkit2gtk-driver)')
    if (miniBrowser == null) throw new Error('MiniBrowser is not installed (Debian: libwebkit2gtk-4.1-0)')
    if (onPath('xvfb-run') == null) throw new Error('xvfb-run is not installed (Debian: apt-get install xvfb)')
    const port = await freeTcpPort()
    const dir = mkdtempSync(join(tmpdir(), 'peerlane-webkit-'))
    // detached: xvfb-run leads a new process group, which everything it starts stays in
    const child = spawn('xvfb-run', ['-a', '-f', join(dir, 'Xauthority'), driver, `--port=${port}`, '--host=127.0.0.1'],
      { detached: true, stdio: ['ignore', 'pipe', 'pipe'] })
    const started = new WebKitDriver(child, dir, port, driver, miniBrowser)
    try {
      const deadline = Date.now() + timeout
      while (true) {
        if (child.exitCode != null || child.signalCode != null) throw new Error(`xvfb-run WebKitWebDriver exited (${child.exitCode ?? child.signalCode}):\n${started.output}`)
        const status = await fetch(`http://127.0.0.1:${port}/status`, { signal: AbortSignal.timeout(2_000) }).then(async r => await r.json(), () => undefined)
        if (status?.value?.ready === true) return started
        if (Date.now() > deadline) throw new Error(`WebKitWebDriver did not answer on port ${port} within ${timeout} ms:\n${started.output}`)
        await sleep(100)
      }
    } catch (err) {
      await started.stop()
      throw err
    }
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
    const exited = (): boolean => this.child.exitCode != null || this.child.signalCode != null
    const deadline = Date.now() + graceMs
    // the driver is xvfb-run's child once Xvfb is up: SIGTERM to it alone, and xvfb-run stops Xvfb and exits
    let drivers = childrenOf(this.pgid, this.driver)
    while (!exited() && drivers.length === 0 && Date.now() < deadline) {
      await sleep(50)
      drivers = childrenOf(this.pgid, this.driver)
    }
    for (const pid of drivers) { try { process.kill(pid, 'SIGTERM') } catch {} }
    while (!exited() && Date.now() < deadline) await sleep(50)
    // then everything of the group still there (xvfb-run, Xvfb, MiniBrowser's web processes): SIGKILL
    try { process.kill(-this.pgid, 'SIGKILL') } catch {}
    const gone = Date.now() + 5_000
    while ((groupAlive(this.pgid) || !exited()) && Date.now() < gone) await sleep(50)
    rmSync(this.dir, { recursive: true, force: true })
    running.delete(this.pgid)
  }
}

/** Whether any process of group `pgid` is left */
function groupAlive (pgid: number): boolean {
  try {
    process.kill(-pgid, 0)
    return true
  } catch (err: any) {
    return err.code === 'EPERM'
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

/** What webkitSupport installs with, as root: the repository's own installer (one apt-get run for what is missing) */
function install (): string | undefined {
  if (process.getuid?.() !== 0 || !existsSync('/usr/bin/apt-get')) {
    return 'WebKit tests need webkit2gtk-driver and xvfb: sudo apt-get install webkit2gtk-driver xvfb (or, as root, node test-e2e/ensure-browsers.js)'
  }
  try {
    execFileSync(process.execPath, [join(ROOT, 'test-e2e/ensure-browsers.js')], { stdio: 'inherit', timeout: 600_000 })
    return undefined
  } catch (err: any) {
    return `webkit2gtk-driver and xvfb could not be installed (test-e2e/ensure-browsers.js: ${String(err.message).split('\n')[0]})`
  }
}

/**
 * Why WebKit cannot run here (a reason for test.skip), or undefined when it can: installs webkit2gtk-driver and
 * xvfb when they are missing and we may, then starts a driver and a MiniBrowser session once. Memoised per worker.
 */
export async function webkitSupport (): Promise<string | undefined> {
  probed ??= (async () => {
    if (process.platform !== 'linux') return 'WebKitGTK WebDriver (webkit2gtk-driver) runs on Linux only'
    const missing = (): boolean => findWebKitWebDriver() == null || findMiniBrowser() == null || onPath('xvfb-run') == null
    if (missing()) {
      const reason = install()
      if (reason != null) return reason
      if (missing()) return 'WebKitWebDriver, MiniBrowser or xvfb-run still missing after installing webkit2gtk-driver and xvfb'
    }
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
