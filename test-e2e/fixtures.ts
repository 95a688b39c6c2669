// Playwright fixtures: a real relay process on free ports, a static server for the built bundle, and
// browser processes (Debian's or Playwright's) that are all closed when the test ends.
import { spawn } from 'node:child_process'
import { createReadStream } from 'node:fs'
import { mkdir, readFile, rm, stat } from 'node:fs/promises'
import { createServer } from 'node:http'
import { extname, join, normalize } from 'node:path'
import { fileURLToPath } from 'node:url'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { test as base, chromium, firefox } from '@playwright/test'
import { chromiumLaunchOptions, firefoxLaunchOptions } from './browsers.ts'
import type { Browser, BrowserContext, Page } from '@playwright/test'
import type { ChildProcess } from 'node:child_process'
import type { AddressInfo } from 'node:net'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const CLI = join(ROOT, 'relay-server/bin/peerlane-relay.js')

/** A relay started from its CLI, exactly as an operator runs it */
export class RelayProcess {
  readonly dir: string
  /** extra CLI flags, e.g. `['--peer', otherRelay.address]` */
  readonly args: string[]
  private child?: ChildProcess
  private port = 0
  address = ''
  httpUrl = ''
  output = ''

  constructor (dir: string, args: string[] = []) {
    this.dir = dir
    this.args = args
  }

  /**
   * Creates the relay's key file and picks its port before it starts, and resolves to the address it
   * will have: other relays can be given it (`--peer`) before this one runs.
   */
  async prepare (): Promise<string> {
    await mkdir(this.dir, { recursive: true })
    const { loadOrCreateKey } = await import('../relay-server/key-file.ts')
    const { key } = await loadOrCreateKey(join(this.dir, 'relay.key'))
    const probe = createServer()
    await new Promise<void>(resolve => probe.listen(0, '127.0.0.1', resolve))
    this.port = (probe.address() as AddressInfo).port
    await new Promise(resolve => probe.close(resolve))
    return `/ip4/127.0.0.1/tcp/${this.port}/ws/p2p/${peerIdFromPrivateKey(key).toString()}`
  }

  /** Starts the relay (on the same port and key as before, after a restart) and waits for its addresses */
  async start (): Promise<void> {
    await mkdir(this.dir, { recursive: true })
    const addrFile = join(this.dir, 'addrs.json')
    await rm(addrFile, { force: true })
    const child = spawn(process.execPath, [CLI, '--port', String(this.port), '--http-port', '0', '--key-file', join(this.dir, 'relay.key'), '--addr-file', addrFile, ...this.args], {
      stdio: ['ignore', 'pipe', 'pipe']
    })
    this.child = child
    child.stdout?.on('data', (d: Buffer) => { this.output += d.toString() })
    child.stderr?.on('data', (d: Buffer) => { this.output += d.toString() })
    const deadline = Date.now() + 20_000
    while (Date.now() < deadline) {
      if (child.exitCode != null) throw new Error(`relay exited with ${child.exitCode}:\n${this.output}`)
      const addrs = await readFile(addrFile, 'utf8').then(JSON.parse).catch(() => undefined) as string[] | undefined
      const http = /http:\/\/([\d.:]+)\/health/.exec(this.output)
      if (addrs != null && addrs.length > 0 && http != null) {
        this.address = addrs[0]
        this.port = Number(/\/tcp\/(\d+)\//.exec(this.address)?.[1])
        this.httpUrl = `http://${http[1]}`
        return
      }
      await new Promise(resolve => setTimeout(resolve, 100))
    }
    throw new Error(`relay did not start within 20 s:\n${this.output}`)
  }

  /** Sends `signal` and waits for the process to exit */
  async kill (signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    const child = this.child
    if (child == null || child.exitCode != null || child.signalCode != null) return child?.exitCode ?? null
    const exited = new Promise<number | null>(resolve => child.once('exit', code => { resolve(code) }))
    child.kill(signal)
    return await exited
  }
}

/** Serves the repository's dist/ and test-e2e/ over HTTP on 127.0.0.1 (IndexedDB needs a real origin) */
async function startSite (): Promise<{ url: string, close: () => Promise<void> }> {
  const types: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.mjs': 'text/javascript', '.map': 'application/json' }
  const server = createServer((req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname))
    if (!path.startsWith('/dist/') && !path.startsWith('/test-e2e/')) { res.writeHead(404).end(); return }
    const file = join(ROOT, path)
    stat(file).then(s => {
      if (!s.isFile()) throw new Error('not a file')
      res.writeHead(200, { 'content-type': types[extname(file)] ?? 'application/octet-stream' })
      createReadStream(file).pipe(res)
    }).catch(() => { res.writeHead(404).end() })
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}/test-e2e/page.html`,
    close: async () => { server.closeAllConnections(); await new Promise(resolve => server.close(resolve)) }
  }
}

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
}

interface WorkerFixtures {
  /** URL of the test page, which loads dist/peerlane.min.js with a plain script tag */
  pageUrl: string
}

export const test = base.extend<Fixtures, WorkerFixtures>({
  pageUrl: [async ({}, use) => {
    const site = await startSite()
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
