// What the end-to-end tests (fixtures.ts) and the benchmark (bench/env.ts) both start: a real relay process from
// its CLI, and a static server on 127.0.0.1 for the built bundles and the pages that load them. Runs from
// test-e2e/ under Playwright and, compiled, from dist/bench/test-e2e/ under `npm run bench`.
import { spawn } from 'node:child_process'
import { createReadStream, existsSync, readFileSync } from 'node:fs'
import { mkdir, readFile, rm, stat } from 'node:fs/promises'
import { createServer } from 'node:http'
import { dirname, extname, join, normalize } from 'node:path'
import { fileURLToPath } from 'node:url'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { freePort } from '../relay-server/test/free-port.ts'
import type { ChildProcess } from 'node:child_process'
import type { AddressInfo } from 'node:net'

/** The repository root: the nearest folder above this file whose package.json is `peerlane` */
function findRoot (): string {
  let dir = dirname(fileURLToPath(import.meta.url))
  while (dir !== dirname(dir)) {
    const pkg = join(dir, 'package.json')
    if (existsSync(pkg) && JSON.parse(readFileSync(pkg, 'utf8')).name === 'peerlane') return dir
    dir = dirname(dir)
  }
  throw new Error('cannot find the peerlane repository root')
}

export const ROOT = findRoot()
/** The `peerlane-relay` command, as an operator runs it (the committed launcher of relay-server/dist/peerlane-relay.mjs) */
const CLI = join(ROOT, 'relay-server/bin/peerlane-relay.js')

export interface RelayProcessOptions {
  /** serve /health, /ready and /metrics (`--http-port 0`) and wait for them too; default true */
  http?: boolean
}

/** A relay started from its CLI, exactly as an operator runs it */
export class RelayProcess {
  readonly dir: string
  /** extra CLI flags, e.g. `['--peer', otherRelay.address]` */
  readonly args: string[]
  private readonly http: boolean
  private child?: ChildProcess
  private port = 0
  /** the UDP port of the relay's STUN server (a free one, kept across restarts), unless the args set one */
  stunPort = 0
  address = ''
  httpUrl = ''
  output = ''

  constructor (dir: string, args: string[] = [], options: RelayProcessOptions = {}) {
    this.dir = dir
    this.args = args
    this.http = options.http ?? true
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
    if (this.stunPort === 0 && !this.args.includes('--stun-port')) this.stunPort = await freePort()
    const stun = this.stunPort === 0 ? [] : ['--stun-port', String(this.stunPort)]
    const flags = ['--port', String(this.port), ...(this.http ? ['--http-port', '0'] : []), ...stun, '--key-file', join(this.dir, 'relay.key'), '--addr-file', addrFile, ...this.args]
    const child = spawn(process.execPath, [CLI, ...flags], { stdio: ['ignore', 'pipe', 'pipe'] })
    this.child = child
    child.stdout?.on('data', (d: Buffer) => { this.output += d.toString() })
    child.stderr?.on('data', (d: Buffer) => { this.output += d.toString() })
    const deadline = Date.now() + 20_000
    while (Date.now() < deadline) {
      if (child.exitCode != null) throw new Error(`relay exited with ${child.exitCode}:\n${this.output}`)
      const addrs = await readFile(addrFile, 'utf8').then(JSON.parse).catch(() => undefined) as string[] | undefined
      const http = /http:\/\/([\d.:]+)\/health/.exec(this.output)
      if (addrs != null && addrs.length > 0 && (http != null || !this.http)) {
        this.address = addrs[0]
        this.port = Number(/\/tcp\/(\d+)\//.exec(this.address)?.[1])
        if (http != null) this.httpUrl = `http://${http[1]}`
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

  /** SIGTERM, then SIGKILL if it is still running after `graceMs`; waits for the process to exit */
  async stop (graceMs = 6_000): Promise<number | null> {
    const timer = setTimeout(() => this.child?.kill('SIGKILL'), graceMs)
    try {
      return await this.kill('SIGTERM')
    } finally {
      clearTimeout(timer)
    }
  }
}

export interface SiteOptions {
  /** the repository's top-level folders it serves files from, e.g. `['dist', 'test-e2e']` */
  folders: string[]
  /** the path that the returned `url` points at, e.g. `/test-e2e/page.html` */
  start: string
  /** pages made on request, by path: each returns the HTML for the request's URL (its query, say) */
  pages?: Record<string, (url: URL) => string>
}

export interface Site {
  /** `http://127.0.0.1:<port><start>` */
  url: string
  close: () => Promise<void>
}

/** Serves `folders` of the repository (and `pages`) over HTTP on 127.0.0.1, on a free port: IndexedDB needs a real origin */
export async function startSite (options: SiteOptions): Promise<Site> {
  const types: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.mjs': 'text/javascript', '.map': 'application/json' }
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x')
    const page = options.pages?.[url.pathname]
    if (page != null) { res.writeHead(200, { 'content-type': 'text/html' }).end(page(url)); return }
    const path = normalize(decodeURIComponent(url.pathname))
    if (!options.folders.some(folder => path.startsWith(`/${folder}/`))) { res.writeHead(404).end(); return }
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
    url: `http://127.0.0.1:${port}${options.start}`,
    close: async () => { server.closeAllConnections(); await new Promise(resolve => server.close(resolve)) }
  }
}

/** A coturn (`turnserver`, Debian's coturn) on 127.0.0.1, with the shared secret the relay signs credentials with */
export interface Coturn {
  /** its listening port (UDP and TCP) */
  port: number
  /** a file holding the secret, mode 600, for the relay's --turn-secret-file */
  secretFile: string
  stop: () => Promise<void>
}

/**
 * Starts turnserver in the foreground on free ports, writing nothing outside `dir` (the relay's unit tests'
 * coturn helper, relay-server/test/coturn.ts). Loopback peers are allowed here only because both browsers
 * of a test sit on 127.0.0.1 (the shipped deploy/turnserver.conf denies loopback and private ranges).
 */
export async function startCoturn (dir: string): Promise<Coturn> {
  const { relayPorts, startTurnserver, testFlags } = await import('../relay-server/test/coturn.ts')
  await mkdir(dir, { recursive: true })
  const port = await freePort()
  const secret = Array.from({ length: 32 }, () => Math.floor(Math.random() * 16).toString(16)).join('')
  const secretFile = join(dir, 'turn-secret')
  const { writeFile } = await import('node:fs/promises')
  await writeFile(secretFile, secret, { mode: 0o600 })
  const server = await startTurnserver([...testFlags(dir, port, secret, relayPorts(100)), '--allow-loopback-peers'], port)
  return { port, secretFile, stop: server.stop }
}
