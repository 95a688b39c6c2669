// A NAT lab for end-to-end tests, made of Linux network namespaces, veth pairs and nftables (root only): its
// namespaces and how they are wired are in network.ts, its routers' NAT in router.ts.
//
// The root namespace is NOT connected to the lab: nothing a test does in the lab can leave it, and a host
// reaches the servers only through its router. The test process talks to its lab through processes it starts
// inside the namespaces (`ip netns exec`): the browsers over Playwright's pipe (see lab.wrapper, wrapper.ts),
// probes over stdio (lab.udpSocket, lab.tcpConnect, ...: agent.ts).
//
// Use (root only; skip with labSupport().reason elsewhere, support.ts):
//   const lab = await createLab()                     // try { ... } finally { await lab.close() }
//   const a = await lab.addHost('a', { nat: 'cone' })  // 'cone' | 'symmetric' | 'block-udp' | 'none'; lan: shared LAN
//   await lab.startCoturn({ ports: [3478], user: { name: 'u', password: 'p' } })   // STUN+TURN on serverAddress
//   lab.spawn('pub', process.execPath, [relayCli, ...])                 // the relay, listening on serverAddress
//   const browser = await chromium.launch({ executablePath: lab.wrapper('a', '/usr/bin/chromium'), args })
//   const fox = await firefox.launch({ channel: 'moz-firefox', executablePath: lab.wrapper('a', '/usr/bin/firefox-esr', { bidi: true }) })
// A page from http://198.18.0.1 is NOT a secure context (no crypto.subtle): serve the page from 127.0.0.1
// inside the browser's own namespace (lab.staticSite('a', ...): loopback is secure), or launch Chromium with
// --unsafely-treat-insecure-origin-as-secure=http://198.18.0.1:<port>. Routers take `unsolicited: 'drop'` to
// behave like home routers (see HostOptions.unsolicited). env.ts runs browsers in it.
import { spawn } from 'node:child_process'
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { Agent, AGENT } from './agent.ts'
import { destroyNamespace, destroyNamespaceSync, IP, kill, run } from './namespaces.ts'
import { LabNetwork, SECOND_SERVER_ADDRESS, SERVER_ADDRESS } from './network.ts'
import { startCoturn } from './coturn.ts'
import { claimPrefix, STATE_ROOT } from './support.ts'
import { writeWrapper } from './wrapper.ts'
import type { RemoteServer, RemoteUdpSocket } from './agent.ts'
import type { RunOptions } from './namespaces.ts'
import type { Host, HostOptions } from './network.ts'
import type { CoturnOptions, LabCoturn } from './coturn.ts'
import type { ChildProcess, SpawnOptions } from 'node:child_process'

export interface LabOptions {
  /** aborts setup; the lab still removes what it made (call close()) */
  signal?: AbortSignal
}

const openLabs = new Set<Lab>()
let exitHook = false

export class Lab {
  /** every namespace of this lab starts with it: `pl<4 hex>-` */
  readonly prefix: string
  /** the public namespace, where servers run */
  readonly publicNamespace: string
  /** where servers live: the public-segment address of `publicNamespace` */
  readonly serverAddress = SERVER_ADDRESS
  /** a second address of `publicNamespace` (e.g. for RFC 5780 tests or address-dependent filtering) */
  readonly secondServerAddress = SECOND_SERVER_ADDRESS
  /** the lab's temp dir (wrappers, coturn files) */
  readonly dir: string
  readonly hosts: Map<string, Host>
  private readonly network: LabNetwork
  private readonly processes = new Set<ChildProcess>()
  private readonly agents = new Map<string, Agent>()
  private closing?: Promise<void>

  /** @internal use createLab() */
  constructor (prefix: string) {
    this.prefix = prefix
    this.network = new LabNetwork(prefix)
    this.publicNamespace = this.network.publicNamespace
    this.hosts = this.network.hosts
    this.dir = join(STATE_ROOT, prefix)
  }

  /** @internal */
  async setup (signal?: AbortSignal): Promise<void> {
    await this.network.setup(signal)
  }

  /** Adds a host behind its own router (or a shared one: `lan`), or directly on the public segment ('none') */
  async addHost (name: string, opts: HostOptions): Promise<Host> {
    this.assertOpen()
    return await this.network.addHost(name, opts)
  }

  /** The namespace of a target: a host's name, 'pub' for the public namespace, or 'router:<lan>' */
  namespaceOf (target: string): string {
    return this.network.namespaceOf(target)
  }

  /** The argv that runs `cmd` inside the target's namespace (e.g. for a browser launched by hand) */
  browserCommand (target: string, executable = '/usr/bin/chromium'): string[] {
    return [IP, 'netns', 'exec', this.namespaceOf(target), executable]
  }

  /**
   * Writes an executable that starts `executable` inside the target's namespace, for Playwright's
   * `executablePath` (`chromium.launch({ executablePath: lab.wrapper('a', '/usr/bin/chromium') })`);
   * `bidi` for a browser driven over WebDriver BiDi (see writeWrapper)
   */
  wrapper (target: string, executable = '/usr/bin/chromium', options: { bidi?: boolean } = {}): string {
    const file = join(this.dir, `${target.replace(/\W/g, '_')}-${executable.split('/').pop() ?? 'browser'}${options.bidi === true ? '-bidi' : ''}`)
    return writeWrapper(file, this.namespaceOf(target), executable, options.bidi === true)
  }

  /** Runs a command to completion inside the target's namespace */
  async exec (target: string, cmd: string, args: string[] = [], opts: RunOptions = {}): Promise<{ stdout: string, stderr: string }> {
    this.assertOpen()
    return await run(IP, ['netns', 'exec', this.namespaceOf(target), cmd, ...args], opts)
  }

  /**
   * Starts a process inside the target's namespace, in a process group of its own; close() kills it
   * (and its group). `ip netns exec` execs the command, so child.pid is the command's.
   */
  spawn (target: string, cmd: string, args: string[] = [], opts: SpawnOptions = {}): ChildProcess {
    this.assertOpen()
    const child = spawn(IP, ['netns', 'exec', this.namespaceOf(target), cmd, ...args], { detached: true, ...opts })
    this.processes.add(child)
    child.once('exit', () => this.processes.delete(child))
    child.on('error', () => {})
    return child
  }

  /** A UDP socket bound inside the target's namespace (default: any address, a free port) */
  async udpSocket (target: string, opts: { address?: string, port?: number } = {}): Promise<RemoteUdpSocket> {
    return await this.agent(target).udpSocket(opts)
  }

  /** A TCP server inside the target's namespace that greets each connection and closes it */
  async tcpServer (target: string, opts: { address?: string, port?: number } = {}): Promise<RemoteServer> {
    return await this.agent(target).listen('tcp', target, opts)
  }

  /** A tiny HTTP server inside the target's namespace; its page is `<p id="where">target</p>` */
  async httpServer (target: string, opts: { address?: string, port?: number } = {}): Promise<RemoteServer> {
    return await this.agent(target).listen('http', target, opts)
  }

  /**
   * A static file server inside the target's namespace, serving `folders` of `root` (e.g. the repository's
   * dist/ and test-e2e/, as test-e2e/support.ts startSite does). On its default address, 127.0.0.1, a browser
   * in the same namespace gets a secure context (crypto.subtle, IndexedDB) that a page from a lab address lacks.
   */
  async staticSite (target: string, opts: { root: string, folders: string[], address?: string, port?: number }): Promise<RemoteServer> {
    return await this.agent(target).listen('static', target, { address: '127.0.0.1', ...opts })
  }

  /** Tries a TCP connection from inside the target's namespace: 'connected', or the error code (ECONNREFUSED, ETIMEDOUT, ...) */
  async tcpConnect (target: string, address: string, port: number, timeoutMs = 1000): Promise<string> {
    return (await this.agent(target).call('connect', { address, port, timeoutMs })).result
  }

  /** An HTTP GET from inside the target's namespace (Node's fetch) */
  async fetch (target: string, url: string, timeoutMs = 2000): Promise<{ status: number, body: string }> {
    const { status, body } = await this.agent(target).call('fetch', { url, timeoutMs })
    return { status, body }
  }

  /** coturn in the public namespace on serverAddress (see coturn.ts startCoturn) */
  async startCoturn (opts: CoturnOptions = {}): Promise<LabCoturn> {
    return await startCoturn(this, opts)
  }

  /** Kills tracked processes, then every process left in the lab's namespaces, and deletes them (idempotent) */
  async close (): Promise<void> {
    this.closing ??= (async () => {
      await Promise.all([...this.processes].map(async p => await this.stop(p)))
      for (const ns of [...this.network.namespaces].reverse()) await destroyNamespace(ns)
      this.network.namespaces.length = 0
      rmSync(this.dir, { recursive: true, force: true })
      openLabs.delete(this)
    })()
    await this.closing
  }

  /** @internal the synchronous last resort on process exit */
  closeSync (): void {
    for (const p of this.processes) if (p.pid != null) kill(p.pid, 'SIGKILL', true)
    for (const ns of [...this.network.namespaces].reverse()) destroyNamespaceSync(ns)
    this.network.namespaces.length = 0
    rmSync(this.dir, { recursive: true, force: true })
  }

  /** Stops a process this lab started: SIGTERM to its group, SIGKILL after 1 s */
  async stop (child: ChildProcess): Promise<void> {
    if (child.pid == null || child.exitCode != null || child.signalCode != null) return
    const exited = new Promise(resolve => child.once('exit', resolve))
    child.stdin?.end()
    kill(child.pid, 'SIGTERM', true)
    const timer = setTimeout(() => { if (child.pid != null) kill(child.pid, 'SIGKILL', true) }, 1000)
    await exited
    clearTimeout(timer)
  }

  /** The target's probe agent, started on first use */
  private agent (target: string): Agent {
    this.assertOpen()
    const ns = this.namespaceOf(target)
    let agent = this.agents.get(ns)
    if (agent == null) {
      agent = new Agent(this.spawn(target, process.execPath, ['-e', AGENT], { stdio: ['pipe', 'pipe', 'pipe'] }), `probe agent in ${ns}`, () => this.closing != null)
      this.agents.set(ns, agent)
      agent.child.once('exit', () => { if (this.agents.get(ns) === agent) this.agents.delete(ns) })
    }
    return agent
  }

  private assertOpen (): void {
    if (this.closing != null) throw new Error('the lab is closed')
  }
}

/** Makes a lab: its public namespace with the server addresses; add hosts with lab.addHost() */
export async function createLab (options: LabOptions = {}): Promise<Lab> {
  const lab = new Lab(await claimPrefix())
  if (!exitHook) {
    exitHook = true
    process.once('exit', () => { for (const l of openLabs) l.closeSync() })
  }
  openLabs.add(lab)
  try {
    await lab.setup(options.signal)
  } catch (err) {
    await lab.close()
    throw err
  }
  return lab
}
