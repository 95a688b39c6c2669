// A NAT lab for end-to-end tests, made of Linux network namespaces, veth pairs and nftables (root only).
//
//   <prefix>pub       the "public internet": a bridge br0 on 198.18.0.0/24 holding the server addresses
//                     198.18.0.1 (serverAddress) and 198.18.0.2 (secondServerAddress). Servers (relay, STUN,
//                     coturn, static pages) run INSIDE this namespace (lab.spawn('pub', ...)). It does not
//                     forward (ip_forward=0), so it is the end of every route.
//   <prefix>r-<lan>   one NAT router per LAN: WAN veth "wan" on br0 with its own public address 198.18.0.10+,
//                     a bridge "lan" 198.19.<n>.1/24, nftables masquerade on "wan", ip_forward=1.
//   <prefix>h-<host>  one namespace per host: eth0 198.19.<n>.2+ behind its router (default route via it),
//                     or, with nat 'none', eth0 directly on br0 with a public 198.18.0.10+ address.
//
// The root namespace is NOT connected to the lab: nothing a test does in the lab can leave it (every
// veth has both ends in lab namespaces, none in the root namespace, so parallel labs never collide on
// interface names either), and a host reaches the servers only through its router. The test process talks
// to its lab through processes it starts inside the namespaces (`ip netns exec`): the browsers over
// Playwright's pipe (see lab.wrapper), probes over stdio (lab.udpSocket, lab.tcpConnect, ...).
//
// IPv6 is disabled in every lab namespace, so nothing bypasses the IPv4 NAT over link-local addresses.
//
// Use (root only; skip with labSupport().reason elsewhere):
//   const lab = await createLab()                     // try { ... } finally { await lab.close() }
//   const a = await lab.addHost('a', { nat: 'cone' })  // 'cone' | 'symmetric' | 'block-udp' | 'none'; lan: shared LAN
//   await lab.startCoturn({ ports: [3478], user: { name: 'u', password: 'p' } })   // STUN+TURN on serverAddress
//   lab.spawn('pub', process.execPath, [relayCli, ...])                 // the relay, listening on serverAddress
//   const browser = await chromium.launch({ executablePath: lab.wrapper('a', '/usr/bin/chromium'), args })
//   const fox = await firefox.launch({ channel: 'moz-firefox', executablePath: lab.wrapper('a', '/usr/bin/firefox-esr', { bidi: true }) })
// A page from http://198.18.0.1 is NOT a secure context (no crypto.subtle): serve the page from 127.0.0.1
// inside the browser's own namespace (lab.staticSite('a', ...): loopback is secure), or launch Chromium with
// --unsafely-treat-insecure-origin-as-secure=http://198.18.0.1:<port>. Routers take `unsolicited: 'drop'` to
// behave like home routers (see HostOptions.unsolicited). nat-scenarios.ts runs browsers in it.
import { spawn, execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import type { ChildProcess, SpawnOptions } from 'node:child_process'

export type NatKind = 'cone' | 'symmetric' | 'none' | 'block-udp'

export interface HostOptions {
  nat: NatKind
  /**
   * Name of the LAN (and so of the router) the host joins; hosts naming the same LAN share one router and
   * reach each other on their private addresses. Default: a LAN of its own, named after the host.
   */
  lan?: string
  /**
   * What the router does with an unsolicited packet to its own WAN address (one that matches no mapping).
   * 'accept' (default): its own stack takes it (ICMP port unreachable), and conntrack keeps an entry for it, so
   * a later flow from a LAN host to that sender cannot have the mapped port that entry already uses: masquerade
   * picks another (see nat-lab.spec.ts). 'drop': its input firewall drops it, as home routers' do (OpenWrt's wan
   * zone rejects input), before conntrack keeps anything, so the host's mapping stays the same for every
   * destination. Hosts sharing a LAN must agree on it, as on `nat`.
   */
  unsolicited?: 'accept' | 'drop'
  signal?: AbortSignal
}

export interface Host {
  name: string
  nat: NatKind
  /** the host's network namespace */
  namespace: string
  /** the host's own address: private (198.19.n.x) behind a router, public (198.18.0.x) with nat 'none' */
  address: string
  /** the address servers see it come from: its router's WAN address, or its own with nat 'none' */
  publicAddress: string
  /** the LAN it sits on (undefined with nat 'none') */
  lan?: string
  /** its router's namespace (undefined with nat 'none') */
  routerNamespace?: string
}

export interface LabOptions {
  /** aborts setup; the lab still removes what it made (call close()) */
  signal?: AbortSignal
}

export interface Datagram { data: Buffer, address: string, port: number }

/** A UDP socket that lives in a lab namespace (a small Node process there), driven from the test process */
export interface RemoteUdpSocket {
  localAddress: string
  localPort: number
  send: (data: Uint8Array, port: number, address: string) => void
  /** the next datagram received (that `accept` accepts, if given), or undefined after timeoutMs */
  receive: (timeoutMs: number, accept?: (d: Datagram) => boolean) => Promise<Datagram | undefined>
  /** errors reported by sends (e.g. ENETUNREACH) */
  sendErrors: string[]
  close: () => Promise<void>
}

export interface RemoteServer { address: string, port: number, close: () => Promise<void> }

export interface CoturnOptions {
  /** UDP+TCP listening ports on serverAddress; each port gets its own turnserver process. Default [3478] */
  ports?: number[]
  /** a long-term credential user for TURN; without one (or `authSecret`), TURN allocations are refused (STUN Binding still works) */
  user?: { name: string, password: string }
  /**
   * TURN REST API credentials instead of a user: coturn's `use-auth-secret` with this `static-auth-secret`, the
   * secret a Peerlane relay reads from its `--turn-secret-file` to hand each peer its own credentials
   */
  authSecret?: string
  /**
   * Start from this turnserver.conf (e.g. relay-server/deploy/turnserver.conf) instead of coturn's defaults: its
   * lines stay except those the lab sets itself (listeners, relay ports, realm, secret, TLS, files), and
   * the lab's public range 198.18.0.0/15 is allowed as peers (see LAB_PEERS)
   */
  conf?: string
  realm?: string
  signal?: AbortSignal
}

/**
 * The lab's "internet", 198.18.0.0/15 (RFC 2544's benchmarking range): a deployment's turnserver.conf rightly
 * denies it as a peer range (relay-server/deploy/turnserver.conf does), but every lab address is in it, so a
 * lab coturn started from such a conf must allow it back (coturn checks allowed-peer-ip before denied-peer-ip)
 */
const LAB_PEERS = '198.18.0.0-198.19.255.255'
/** turnserver.conf keys the lab sets itself (CoturnOptions.conf) */
const LAB_COTURN_KEYS = new Set(['listening-port', 'tls-listening-port', 'alt-listening-port', 'alt-tls-listening-port', 'listening-ip',
  'relay-ip', 'external-ip', 'min-port', 'max-port', 'realm', 'server-name', 'static-auth-secret', 'use-auth-secret', 'lt-cred-mech',
  'user', 'cert', 'pkey', 'log-file', 'pidfile', 'userdb', 'db', 'no-tls', 'no-dtls', 'cli-password'])

export type LabSupport = { ok: true } | { ok: false, reason: string }

/** Matches the namespaces of any lab: `pl` + 4 hex digits + `-` + pub | probe | r-... | h-... */
const LAB_NS = /^(pl[0-9a-f]{4}-)(pub|probe|r-.+|h-.+)$/
const STATE_ROOT = join(tmpdir(), 'peerlane-nat-lab')
const IP = existsSync('/usr/sbin/ip') ? '/usr/sbin/ip' : existsSync('/sbin/ip') ? '/sbin/ip' : 'ip'
const NAME = /^[a-z0-9][a-z0-9_]{0,15}$/i
const PUBLIC_NET = '198.18.0'
const SERVER_ADDRESS = `${PUBLIC_NET}.1`
const SECOND_SERVER_ADDRESS = `${PUBLIC_NET}.2`

// ---------------------------------------------------------------------------------------------------------
// Processes

interface RunOptions { input?: string, signal?: AbortSignal, timeoutMs?: number }

/** Runs a command to completion; rejects with its stderr when it exits non-zero */
async function run (file: string, args: string[], opts: RunOptions = {}): Promise<{ stdout: string, stderr: string }> {
  return await new Promise((resolve, reject) => {
    const child = spawn(file, args, { stdio: ['pipe', 'pipe', 'pipe'], signal: opts.signal, timeout: opts.timeoutMs ?? 10_000 })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (s: string) => { stdout += s })
    child.stderr.setEncoding('utf8').on('data', (s: string) => { stderr += s })
    child.on('error', reject)
    child.on('close', (code, sig) => {
      if (code === 0) resolve({ stdout, stderr })
      else reject(new Error(`${file} ${args.join(' ')} failed (${code ?? sig}): ${stderr.trim() || stdout.trim()}`))
    })
    child.stdin.on('error', () => {})
    child.stdin.end(opts.input ?? '')
  })
}

function alive (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err: any) {
    return err.code === 'EPERM'
  }
}

function kill (pid: number, signal: NodeJS.Signals, group: boolean): void {
  try {
    process.kill(group ? -pid : pid, signal)
  } catch {}
  if (group) try { process.kill(pid, signal) } catch {}
}

function namespacePidsSync (ns: string): number[] {
  try {
    return execFileSync(IP, ['netns', 'pids', ns], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
      .split(/\s+/).filter(Boolean).map(Number)
  } catch {
    return []
  }
}

async function namespacePids (ns: string): Promise<number[]> {
  try {
    return (await run(IP, ['netns', 'pids', ns])).stdout.split(/\s+/).filter(Boolean).map(Number)
  } catch {
    return []
  }
}

async function listNamespaces (): Promise<string[]> {
  const { stdout } = await run(IP, ['netns', 'list'])
  return stdout.split('\n').map(l => l.split(' ')[0]).filter(Boolean)
}

/** Kills every process inside `ns`, then deletes it (its veths go with it) */
async function destroyNamespace (ns: string): Promise<void> {
  for (let i = 0; i < 3; i++) {
    const pids = await namespacePids(ns)
    if (pids.length === 0) break
    for (const pid of pids) kill(pid, 'SIGKILL', false)
    await new Promise(resolve => setTimeout(resolve, 20))
  }
  try {
    await run(IP, ['netns', 'delete', ns])
  } catch (err: any) {
    if (!/No such file|not found|Invalid/i.test(String(err.message))) throw err
  }
}

function destroyNamespaceSync (ns: string): void {
  for (const pid of namespacePidsSync(ns)) kill(pid, 'SIGKILL', false)
  try { execFileSync(IP, ['netns', 'delete', ns], { stdio: 'ignore' }) } catch {}
}

/**
 * The probe agent: one Node process per namespace (plain CommonJS, `node -e`, no files), started on first
 * use and driven over stdio with JSON lines { id, op, ... } → { id, ... }; sockets report datagrams as
 * { sock, data, address, port }. It ends when its stdin closes.
 */
const AGENT = String.raw`
const out = o => process.stdout.write(JSON.stringify(o) + '\n')
const err = e => e.code || e.message
const socks = new Map(); const servers = new Map(); let next = 1
const types = { '.html': 'text/html', '.js': 'text/javascript', '.mjs': 'text/javascript', '.json': 'application/json', '.map': 'application/json' }
function serveFile (m, q, r) {
  const { posix, extname, join } = require('node:path')
  let path
  try { path = posix.normalize(decodeURIComponent(new URL(q.url, 'http://x').pathname)) } catch { r.writeHead(400).end(); return }
  if (!m.folders.some(f => path.startsWith('/' + f + '/'))) { r.writeHead(404).end(); return }
  const file = join(m.root, path)
  require('node:fs').stat(file, (e, st) => {
    if (e || !st.isFile()) { r.writeHead(404).end(); return }
    r.writeHead(200, { 'content-type': types[extname(file)] || 'application/octet-stream', 'cache-control': 'no-store' })
    require('node:fs').createReadStream(file).pipe(r)
  })
}
const ops = {
  bind (m, reply) {
    const s = require('node:dgram').createSocket('udp4'); const sock = next++
    s.once('error', e => reply({ error: err(e) }))
    s.on('message', (d, r) => out({ sock, data: d.toString('base64'), address: r.address, port: r.port }))
    s.bind(m.port, m.address, () => { socks.set(sock, s); reply({ sock, ...s.address() }) })
  },
  send (m) {
    socks.get(m.sock)?.send(Buffer.from(m.data, 'base64'), m.port, m.address, e => { if (e) out({ sock: m.sock, sendError: err(e) }) })
  },
  unbind (m, reply) { socks.get(m.sock)?.close(); socks.delete(m.sock); reply({}) },
  listen (m, reply) {
    const srv = m.kind === 'tcp'
      ? require('node:net').createServer(c => c.end('peerlane-lab\n'))
      : m.kind === 'static'
        ? require('node:http').createServer((q, r) => serveFile(m, q, r))
        : require('node:http').createServer((q, r) => { r.setHeader('content-type', 'text/html'); r.end('<!doctype html><title>peerlane-lab</title><p id="where">' + m.label + '</p>') })
    const id = next++
    srv.once('error', e => reply({ error: err(e) }))
    srv.listen(m.port, m.address, () => { servers.set(id, srv); reply({ srv: id, ...srv.address() }) })
  },
  unlisten (m, reply) { servers.get(m.srv)?.close(); servers.get(m.srv)?.closeAllConnections?.(); servers.delete(m.srv); reply({}) },
  connect (m, reply) {
    const c = require('node:net').connect(m.port, m.address)
    const done = result => { clearTimeout(t); c.destroy(); reply({ result }) }
    const t = setTimeout(() => done('ETIMEDOUT'), m.timeoutMs)
    c.on('connect', () => done('connected')).on('error', e => done(err(e)))
  },
  fetch (m, reply) {
    fetch(m.url, { signal: AbortSignal.timeout(m.timeoutMs) }).then(async r => reply({ status: r.status, body: await r.text() }), e => reply({ error: err(e.cause || e) }))
  }
}
require('node:readline').createInterface({ input: process.stdin }).on('line', l => {
  const m = JSON.parse(l)
  ops[m.op](m, r => out({ id: m.id, ...r }))
}).on('close', () => process.exit(0))
out({ ready: true })
`

/**
 * The body of a BiDi wrapper (see Lab.wrapper; IP, NS and EXE are defined above it): CommonJS run by Node in the
 * root namespace. PIPE runs inside the namespace, one per WebSocket connection: stdio ⇄ the browser's port.
 */
const BIDI_WRAPPER = String.raw`
const { spawn } = require('node:child_process')
const net = require('node:net')
const PIPE = "const c = require('node:net').connect(Number(process.argv[1]), '127.0.0.1'); process.stdin.pipe(c); c.pipe(process.stdout); c.on('error', () => process.exit(1)).on('close', () => process.exit(0))"
const browser = spawn(IP, ['netns', 'exec', NS, EXE, ...process.argv.slice(2)], { stdio: ['inherit', 'inherit', 'pipe'] })
const pipes = new Set()
let server
require('node:readline').createInterface({ input: browser.stderr }).on('line', line => {
  const m = /^WebDriver BiDi listening on ws:\/\/127\.0\.0\.1:(\d+)(.*)$/.exec(line)
  if (m == null || server != null) { process.stderr.write(line + '\n'); return }
  server = net.createServer(socket => {
    const pipe = spawn(IP, ['netns', 'exec', NS, process.execPath, '-e', PIPE, m[1]], { stdio: ['pipe', 'pipe', 'ignore'] })
    pipes.add(pipe)
    // Firefox refuses a handshake whose Host header names another port than its own: the first chunk is that request
    socket.once('data', head => {
      pipe.stdin.write(head.toString('latin1').replace(/^Host: 127\.0\.0\.1:\d+\r$/im, 'Host: 127.0.0.1:' + m[1] + '\r'), 'latin1')
      socket.pipe(pipe.stdin)
    })
    pipe.stdout.pipe(socket)
    pipe.stdin.on('error', () => {})
    socket.on('error', () => pipe.kill()).on('close', () => pipe.kill())
    pipe.on('exit', () => { pipes.delete(pipe); socket.destroy() })
  })
  server.listen(0, '127.0.0.1', () => process.stderr.write('WebDriver BiDi listening on ws://127.0.0.1:' + server.address().port + m[2] + '\n'))
}).on('close', () => {
  server?.close()
  for (const pipe of pipes) pipe.kill()
})
browser.on('exit', code => { process.exitCode = code ?? 1 })
for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP']) process.on(signal, () => browser.kill(signal))
`

class Agent {
  private readonly pending = new Map<number, (o: any) => void>()
  private readonly listeners = new Map<number, (o: any) => void>()
  private next = 1
  readonly ready: Promise<void>
  private exited?: string

  constructor (readonly child: ChildProcess, what: string) {
    let stderr = ''
    child.stderr?.setEncoding('utf8').on('data', (s: string) => { stderr = (stderr + s).slice(-2000) })
    this.ready = new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${what}: not ready in 10 s ${stderr}`)), 10_000)
      child.once('exit', code => {
        clearTimeout(timer)
        this.exited = `${what} exited (${code}) ${stderr}`
        reject(new Error(this.exited))
        for (const p of this.pending.values()) p({ error: this.exited })
        this.pending.clear()
      })
      createInterface({ input: child.stdout! }).on('line', line => {
        let o: any
        try { o = JSON.parse(line) } catch { return }
        if (o.ready === true) { clearTimeout(timer); resolve() }
        if (o.id != null) { this.pending.get(o.id)?.(o); this.pending.delete(o.id) }
        if (o.sock != null) this.listeners.get(o.sock)?.(o)
      })
    })
    this.ready.catch(() => {})
  }

  async call (op: string, args: Record<string, unknown> = {}): Promise<any> {
    await this.ready
    if (this.exited != null) throw new Error(this.exited)
    const id = this.next++
    const answer = new Promise<any>(resolve => this.pending.set(id, resolve))
    this.child.stdin!.write(JSON.stringify({ id, op, ...args }) + '\n')
    const o = await answer
    if (o.error != null) throw new Error(`${op}: ${o.error}`)
    return o
  }

  /** fire and forget */
  post (op: string, args: Record<string, unknown>): void {
    this.child.stdin!.write(JSON.stringify({ op, ...args }) + '\n')
  }

  onSocket (sock: number, fn?: (o: any) => void): void {
    if (fn == null) this.listeners.delete(sock)
    else this.listeners.set(sock, fn)
  }
}

// ---------------------------------------------------------------------------------------------------------
// Support, stale labs

/**
 * Whether this machine can run the lab: root, `ip`, `nft` (and `commands`, e.g. ['turnserver']), and a
 * namespace whose nftables take a masquerade rule. Tests skip with `reason` where it is not ok.
 */
export function labSupport (opts: { commands?: string[] } = {}): LabSupport {
  if (process.platform !== 'linux') return { ok: false, reason: 'the NAT lab needs Linux network namespaces' }
  if (process.getuid?.() !== 0) return { ok: false, reason: 'the NAT lab needs root (network namespaces, nftables)' }
  const debian: Record<string, string> = { nft: 'nftables', turnserver: 'coturn', [IP]: 'iproute2' }
  for (const cmd of [IP, 'nft', ...(opts.commands ?? [])]) {
    try {
      execFileSync('sh', ['-c', 'command -v "$1"', 'sh', cmd], { stdio: 'ignore' })
    } catch {
      return { ok: false, reason: `the NAT lab needs \`${cmd}\` (Debian: apt-get install -y ${debian[cmd] ?? cmd})` }
    }
  }
  // a probe namespace, owned like a lab's so that a concurrent removeStaleLabs() leaves it alone
  const prefix = `pl${randomBytes(2).toString('hex')}-`
  const ns = `${prefix}probe`
  const dir = join(STATE_ROOT, prefix)
  try {
    mkdirSync(dir, { recursive: true })
    writeFileSync(join(dir, 'owner.json'), JSON.stringify({ pid: process.pid }))
    execFileSync(IP, ['netns', 'add', ns], { stdio: ['ignore', 'ignore', 'pipe'] })
  } catch (err: any) {
    rmSync(dir, { recursive: true, force: true })
    return { ok: false, reason: `cannot make a network namespace: ${String(err.stderr ?? err.message).trim()}` }
  }
  try {
    execFileSync(IP, ['netns', 'exec', ns, 'nft', '-f', '-'], {
      input: 'table ip t {\n chain p {\n  type nat hook postrouting priority srcnat\n  masquerade random,fully-random\n }\n}\n',
      stdio: ['pipe', 'ignore', 'pipe']
    })
    return { ok: true }
  } catch (err: any) {
    return { ok: false, reason: `nftables masquerade does not work in a namespace: ${String(err.stderr ?? err.message).trim()}` }
  } finally {
    destroyNamespaceSync(ns)
    rmSync(dir, { recursive: true, force: true })
  }
}

/**
 * Deletes what crashed labs left: namespaces named like a lab's (`pl<4 hex>-...`) whose owning process
 * is gone (a live lab, e.g. another Playwright worker's, is left alone unless `all`), with every process
 * still inside them. Resolves to the namespaces it deleted.
 */
export async function removeStaleLabs (opts: { all?: boolean } = {}): Promise<string[]> {
  const removed: string[] = []
  const owner = (prefix: string): number | undefined => {
    try {
      return JSON.parse(readFileSync(join(STATE_ROOT, prefix, 'owner.json'), 'utf8')).pid
    } catch {
      return undefined
    }
  }
  const live = (prefix: string): boolean => {
    if (opts.all === true) return false
    const pid = owner(prefix)
    return pid != null && alive(pid)
  }
  for (const ns of await listNamespaces()) {
    const m = LAB_NS.exec(ns)
    if (m == null || live(m[1])) continue
    await destroyNamespace(ns)
    removed.push(ns)
  }
  let dirs: string[] = []
  try { dirs = readdirSync(STATE_ROOT) } catch {}
  for (const prefix of dirs) {
    if (/^pl[0-9a-f]{4}-$/.test(prefix) && !live(prefix)) rmSync(join(STATE_ROOT, prefix), { recursive: true, force: true })
  }
  return removed
}

// ---------------------------------------------------------------------------------------------------------
// The lab

const openLabs = new Set<Lab>()
let exitHook = false

interface Router { lan: string, nat: NatKind, unsolicited: 'accept' | 'drop', namespace: string, publicAddress: string, subnet: number, hosts: number, ready: Promise<void> }

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
  readonly hosts = new Map<string, Host>()
  private readonly routers = new Map<string, Router>()
  private readonly namespaces: string[] = []
  private readonly processes = new Set<ChildProcess>()
  private readonly agents = new Map<string, Agent>()
  private nextPublic = 10
  private nextSubnet = 1
  private closing?: Promise<void>

  /** @internal use createLab() */
  constructor (prefix: string) {
    this.prefix = prefix
    this.publicNamespace = `${prefix}pub`
    this.dir = join(STATE_ROOT, prefix)
  }

  /** @internal */
  async setup (signal?: AbortSignal): Promise<void> {
    const pub = this.publicNamespace
    await this.addNamespace(pub, false, signal)
    await this.ip(['-n', pub, 'link', 'add', 'br0', 'type', 'bridge'], signal)
    await this.ip(['-n', pub, 'addr', 'add', `${SERVER_ADDRESS}/24`, 'dev', 'br0'], signal)
    await this.ip(['-n', pub, 'addr', 'add', `${SECOND_SERVER_ADDRESS}/24`, 'dev', 'br0'], signal)
    await this.ip(['-n', pub, 'link', 'set', 'br0', 'up'], signal)
  }

  /** Adds a host behind its own router (or a shared one: `lan`), or directly on the public segment ('none') */
  async addHost (name: string, opts: HostOptions): Promise<Host> {
    this.assertOpen()
    const signal = opts.signal
    if (!NAME.test(name) || name === 'pub') throw new Error(`bad host name ${JSON.stringify(name)}: letters, digits, _ (max 16), not "pub"`)
    if (this.hosts.has(name)) throw new Error(`host ${name} exists`)
    const ns = `${this.prefix}h-${name}`
    if (opts.nat === 'none') {
      if (opts.lan != null) throw new Error("nat 'none' puts the host on the public segment: no lan")
      const address = this.allocatePublic()
      const host: Host = { name, nat: 'none', namespace: ns, address, publicAddress: address }
      this.hosts.set(name, host)
      await this.addNamespace(ns, false, signal)
      await this.plugIntoPublic(ns, 'eth0', address, signal)
      await this.ip(['-n', ns, 'route', 'add', 'default', 'via', SERVER_ADDRESS], signal)
      return host
    }
    const lanName = opts.lan ?? name
    if (!NAME.test(lanName)) throw new Error(`bad lan name ${JSON.stringify(lanName)}`)
    let router = this.routers.get(lanName)
    if (router == null) {
      router = {
        lan: lanName,
        nat: opts.nat,
        unsolicited: opts.unsolicited ?? 'accept',
        namespace: `${this.prefix}r-${lanName}`,
        publicAddress: this.allocatePublic(),
        subnet: this.nextSubnet++,
        hosts: 0,
        ready: Promise.resolve()
      }
      if (router.subnet > 254) throw new Error('too many LANs')
      this.routers.set(lanName, router)
      router.ready = this.makeRouter(router, signal)
    } else if (opts.lan == null) {
      throw new Error(`a LAN named ${lanName} exists: pass lan: '${lanName}' to join it`)
    } else if (router.nat !== opts.nat) {
      throw new Error(`LAN ${lanName} is behind a '${router.nat}' router, not '${opts.nat}'`)
    } else if (router.unsolicited !== (opts.unsolicited ?? 'accept')) {
      throw new Error(`LAN ${lanName}'s router has unsolicited: '${router.unsolicited}'`)
    }
    const index = router.hosts++
    if (index > 200) throw new Error('too many hosts on one LAN')
    const address = `198.19.${router.subnet}.${index + 2}`
    const host: Host = { name, nat: opts.nat, namespace: ns, address, publicAddress: router.publicAddress, lan: lanName, routerNamespace: router.namespace }
    this.hosts.set(name, host)
    await router.ready
    await this.addNamespace(ns, false, signal)
    await this.ip(['-n', ns, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', `h${index}`, 'netns', router.namespace], signal)
    await this.ip(['-n', router.namespace, 'link', 'set', `h${index}`, 'master', 'lan', 'up'], signal)
    await this.ip(['-n', ns, 'addr', 'add', `${address}/24`, 'dev', 'eth0'], signal)
    await this.ip(['-n', ns, 'link', 'set', 'eth0', 'up'], signal)
    await this.ip(['-n', ns, 'route', 'add', 'default', 'via', `198.19.${router.subnet}.1`], signal)
    return host
  }

  /** The namespace of a target: a host's name, 'pub' for the public namespace, or 'router:<lan>' */
  namespaceOf (target: string): string {
    if (target === 'pub') return this.publicNamespace
    if (target.startsWith('router:')) {
      const r = this.routers.get(target.slice(7))
      if (r == null) throw new Error(`no LAN ${target.slice(7)}`)
      return r.namespace
    }
    const h = this.hosts.get(target)
    if (h == null) throw new Error(`no host ${target}`)
    return h.namespace
  }

  /** The argv that runs `cmd` inside the target's namespace (e.g. for a browser launched by hand) */
  browserCommand (target: string, executable = '/usr/bin/chromium'): string[] {
    return [IP, 'netns', 'exec', this.namespaceOf(target), executable]
  }

  /**
   * Writes an executable that starts `executable` inside the target's namespace, for Playwright's
   * `executablePath` (`chromium.launch({ executablePath: lab.wrapper('a', '/usr/bin/chromium') })`).
   * Playwright drives Chromium (and its own Firefox build's Juggler) over a pipe on fds 3/4, which `ip netns exec` keeps,
   * and the wrapper execs, so the PID Playwright kills is the browser's.
   *
   * `bidi`: the browser is driven over WebDriver BiDi instead (a stock Firefox, e.g. Debian's firefox-esr with
   * `channel: 'moz-firefox'`), whose WebSocket listens on the namespace's own loopback, which Playwright cannot
   * reach. The wrapper is then a small Node process in Playwright's namespace: it starts the browser, forwards
   * that WebSocket to a port on its own loopback (each connection through a pipe into the namespace) and
   * rewrites the "WebDriver BiDi listening on" line Playwright waits for. Its helpers stay in its process group,
   * so Playwright's kill of the group ends them all.
   */
  wrapper (target: string, executable = '/usr/bin/chromium', options: { bidi?: boolean } = {}): string {
    const ns = this.namespaceOf(target)
    const q = (s: string): string => `'${s.replaceAll("'", "'\\''")}'`
    const file = join(this.dir, `${target.replace(/\W/g, '_')}-${executable.split('/').pop() ?? 'browser'}${options.bidi === true ? '-bidi' : ''}`)
    writeFileSync(file, options.bidi === true
      ? `#!${process.execPath}\nconst [IP, NS, EXE] = ${JSON.stringify([IP, ns, executable])}\n${BIDI_WRAPPER}`
      : `#!/bin/sh\nexec ${q(IP)} netns exec ${q(ns)} ${q(executable)} "$@"\n`)
    chmodSync(file, 0o755)
    return file
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
    const agent = this.agent(target)
    const queue: Datagram[] = []
    const waiters = new Set<() => void>()
    const sendErrors: string[] = []
    const { sock, address, port } = await agent.call('bind', { address: opts.address ?? '0.0.0.0', port: opts.port ?? 0 })
    agent.onSocket(sock, o => {
      if (o.sendError != null) sendErrors.push(o.sendError)
      if (o.data == null) return
      queue.push({ data: Buffer.from(o.data, 'base64'), address: o.address, port: o.port })
      for (const w of waiters) w()
    })
    return {
      localAddress: address,
      localPort: port,
      sendErrors,
      send: (data, port, address) => { agent.post('send', { sock, data: Buffer.from(data).toString('base64'), port, address }) },
      receive: async (timeoutMs, accept = () => true) => await new Promise(resolve => {
        const check = (): void => {
          const i = queue.findIndex(accept)
          if (i < 0) return
          clearTimeout(timer)
          waiters.delete(check)
          resolve(queue.splice(i, 1)[0])
        }
        const timer = setTimeout(() => { waiters.delete(check); resolve(undefined) }, timeoutMs)
        waiters.add(check)
        check()
      }),
      close: async () => {
        agent.onSocket(sock)
        if (this.closing == null) await agent.call('unbind', { sock }).catch(() => {})
      }
    }
  }

  /** A TCP server inside the target's namespace that greets each connection and closes it */
  async tcpServer (target: string, opts: { address?: string, port?: number } = {}): Promise<RemoteServer> {
    return await this.agentServer('tcp', target, opts)
  }

  /** A tiny HTTP server inside the target's namespace; its page is `<p id="where">target</p>` */
  async httpServer (target: string, opts: { address?: string, port?: number } = {}): Promise<RemoteServer> {
    return await this.agentServer('http', target, opts)
  }

  /**
   * A static file server inside the target's namespace, serving `folders` of `root` (e.g. the repository's
   * dist/ and test-e2e/, as test-e2e/support.ts startSite does). On its default address, 127.0.0.1, a browser
   * in the same namespace gets a secure context (crypto.subtle, IndexedDB) that a page from a lab address lacks.
   */
  async staticSite (target: string, opts: { root: string, folders: string[], address?: string, port?: number }): Promise<RemoteServer> {
    return await this.agentServer('static', target, { address: '127.0.0.1', ...opts })
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

  /**
   * Starts coturn (Debian's `turnserver`) in the public namespace on serverAddress, one process per port
   * (UDP and TCP each; no TLS/DTLS, no CLI), and resolves once every port answers TCP.
   */
  async startCoturn (opts: CoturnOptions = {}): Promise<{ ports: number[], processes: ChildProcess[], close: () => Promise<void> }> {
    const ports = opts.ports ?? [3478]
    const processes: ChildProcess[] = []
    const close = async (): Promise<void> => { await Promise.all(processes.map(async p => await this.stop(p))) }
    try {
      await Promise.all(ports.map(async (port, i) => {
        const dir = join(this.dir, `coturn-${port}`)
        mkdirSync(dir, { recursive: true })
        const auth = opts.authSecret != null
          ? ['--use-auth-secret', '--static-auth-secret', opts.authSecret]
          : ['--lt-cred-mech', ...(opts.user != null ? ['--user', `${opts.user.name}:${opts.user.password}`] : [])]
        let conf: string[] = ['-n']
        if (opts.conf != null) {
          const kept = readFileSync(opts.conf, 'utf8').split('\n').filter(line => !LAB_COTURN_KEYS.has(line.trim().split('=')[0]))
          writeFileSync(join(dir, 'turnserver.conf'), `${kept.join('\n')}\nallowed-peer-ip=${LAB_PEERS}\n`, { mode: 0o600 })
          conf = ['-c', join(dir, 'turnserver.conf')]
        }
        const args = [
          ...conf, '--listening-ip', SERVER_ADDRESS, '--relay-ip', SERVER_ADDRESS, '--listening-port', String(port),
          '--min-port', String(49152 + 1000 * i), '--max-port', String(49152 + 1000 * i + 999),
          '--no-tls', '--no-dtls', '--no-cli', '--no-rfc5780', '--no-stun-backward-compatibility',
          '--realm', opts.realm ?? 'peerlane.test', '--pidfile', join(dir, 'turnserver.pid'),
          '--userdb', join(dir, 'turndb'), '--log-file', 'stdout', '--simple-log', ...auth
        ]
        const child = this.spawn('pub', 'turnserver', args, { stdio: ['ignore', 'pipe', 'pipe'], signal: opts.signal })
        processes.push(child)
        let log = ''
        child.stdout!.setEncoding('utf8').on('data', (s: string) => { log = (log + s).slice(-4000) })
        child.stderr!.setEncoding('utf8').on('data', (s: string) => { log = (log + s).slice(-4000) })
        const deadline = Date.now() + 5000
        for (;;) {
          if (child.exitCode != null) throw new Error(`turnserver on ${port} exited (${child.exitCode}): ${log}`)
          if (await this.tcpConnect('pub', SERVER_ADDRESS, port, 300) === 'connected') break
          if (Date.now() > deadline) throw new Error(`turnserver on ${port} does not listen: ${log}`)
          await new Promise(resolve => setTimeout(resolve, 25))
        }
      }))
    } catch (err) {
      await close()
      throw err
    }
    return { ports, processes, close }
  }

  /** Kills tracked processes, then every process left in the lab's namespaces, and deletes them (idempotent) */
  async close (): Promise<void> {
    this.closing ??= (async () => {
      await Promise.all([...this.processes].map(async p => await this.stop(p)))
      for (const ns of [...this.namespaces].reverse()) await destroyNamespace(ns)
      this.namespaces.length = 0
      rmSync(this.dir, { recursive: true, force: true })
      openLabs.delete(this)
    })()
    await this.closing
  }

  /** @internal the synchronous last resort on process exit */
  closeSync (): void {
    for (const p of this.processes) if (p.pid != null) kill(p.pid, 'SIGKILL', true)
    for (const ns of [...this.namespaces].reverse()) destroyNamespaceSync(ns)
    this.namespaces.length = 0
    rmSync(this.dir, { recursive: true, force: true })
  }

  /** SIGTERM to the process's group, SIGKILL after 1 s */
  private async stop (child: ChildProcess): Promise<void> {
    if (child.pid == null || child.exitCode != null || child.signalCode != null) return
    const exited = new Promise(resolve => child.once('exit', resolve))
    child.stdin?.end()
    kill(child.pid, 'SIGTERM', true)
    const timer = setTimeout(() => { if (child.pid != null) kill(child.pid, 'SIGKILL', true) }, 1000)
    await exited
    clearTimeout(timer)
  }

  private async agentServer (kind: 'tcp' | 'http' | 'static', target: string, opts: { address?: string, port?: number, root?: string, folders?: string[] }): Promise<RemoteServer> {
    const agent = this.agent(target)
    const { srv, address, port } = await agent.call('listen', { ...opts, kind, address: opts.address ?? '0.0.0.0', port: opts.port ?? 0, label: target })
    return { address, port, close: async () => { if (this.closing == null) await agent.call('unlisten', { srv }).catch(() => {}) } }
  }

  /** The target's probe agent, started on first use */
  private agent (target: string): Agent {
    this.assertOpen()
    const ns = this.namespaceOf(target)
    let agent = this.agents.get(ns)
    if (agent == null) {
      agent = new Agent(this.spawn(target, process.execPath, ['-e', AGENT], { stdio: ['pipe', 'pipe', 'pipe'] }), `probe agent in ${ns}`)
      this.agents.set(ns, agent)
      agent.child.once('exit', () => { if (this.agents.get(ns) === agent) this.agents.delete(ns) })
    }
    return agent
  }

  private assertOpen (): void {
    if (this.closing != null) throw new Error('the lab is closed')
  }

  private allocatePublic (): string {
    if (this.nextPublic > 250) throw new Error('too many public addresses')
    return `${PUBLIC_NET}.${this.nextPublic++}`
  }

  private async ip (args: string[], signal?: AbortSignal): Promise<void> {
    await run(IP, args, { signal })
  }

  private async addNamespace (ns: string, forward: boolean, signal?: AbortSignal): Promise<void> {
    this.namespaces.push(ns) // recorded first: close() removes it even if the rest fails
    await this.ip(['netns', 'add', ns], signal)
    await this.ip(['-n', ns, 'link', 'set', 'lo', 'up'], signal)
    await run(IP, ['netns', 'exec', ns, 'sysctl', '-q', '-w', `net.ipv4.ip_forward=${forward ? 1 : 0}`,
      'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1'], { signal })
  }

  /** A veth from `ns` (named `ifname`, with `address`) to the public bridge */
  private async plugIntoPublic (ns: string, ifname: string, address: string, signal?: AbortSignal): Promise<void> {
    const peer = `w${address.split('.')[3]}`
    await this.ip(['-n', ns, 'link', 'add', ifname, 'type', 'veth', 'peer', 'name', peer, 'netns', this.publicNamespace], signal)
    await this.ip(['-n', this.publicNamespace, 'link', 'set', peer, 'master', 'br0', 'up'], signal)
    await this.ip(['-n', ns, 'addr', 'add', `${address}/24`, 'dev', ifname], signal)
    await this.ip(['-n', ns, 'link', 'set', ifname, 'up'], signal)
  }

  private async makeRouter (r: Router, signal?: AbortSignal): Promise<void> {
    const ns = r.namespace
    await this.addNamespace(ns, true, signal)
    await this.plugIntoPublic(ns, 'wan', r.publicAddress, signal)
    await this.ip(['-n', ns, 'route', 'add', 'default', 'via', SERVER_ADDRESS], signal)
    await this.ip(['-n', ns, 'link', 'add', 'lan', 'type', 'bridge'], signal)
    await this.ip(['-n', ns, 'addr', 'add', `198.19.${r.subnet}.1/24`, 'dev', 'lan'], signal)
    await this.ip(['-n', ns, 'link', 'set', 'lan', 'up'], signal)
    await run(IP, ['netns', 'exec', ns, 'nft', '-f', '-'], { input: natRules(r.nat, r.unsolicited), signal })
  }
}

/**
 * The router's nftables. Linux conntrack makes every kind filter inbound traffic by the remote address
 * AND port a LAN host sent to (address-and-port-dependent filtering); mapping is what differs:
 *  - cone: plain masquerade keeps the source port when it can, and reuses one mapping for every
 *    destination (endpoint-independent mapping)
 *  - symmetric: `random,fully-random` draws a new port for every new conntrack entry, so per destination
 *  - block-udp: cone for TCP, and forwarded UDP is dropped both ways (TURN over TCP is what is left)
 * With unsolicited 'drop', new connections to the router itself from the WAN are dropped (HostOptions.unsolicited).
 */
function natRules (nat: NatKind, unsolicited: 'accept' | 'drop' = 'accept'): string {
  const masquerade = nat === 'symmetric' ? 'masquerade random,fully-random' : 'masquerade'
  return `table ip peerlane_nat {
  chain postrouting {
    type nat hook postrouting priority srcnat; policy accept;
    oifname "wan" ${masquerade}
  }
  chain forward {
    type filter hook forward priority filter; policy accept;
    iifname != "wan" oifname != "wan" accept
    ${nat === 'block-udp' ? 'meta l4proto udp drop' : ''}
    ct state established,related accept
    iifname "wan" drop
  }${unsolicited === 'drop'
? `
  chain input {
    type filter hook input priority filter; policy accept;
    iifname "wan" ct state new drop
  }`
: ''}
}
`
}

/**
 * A fresh `pl<4 hex>-` prefix, claimed by creating its state dir (atomic across processes) and writing
 * the owner's PID into it at once, before any namespace of it exists (see removeStaleLabs)
 */
async function claimPrefix (): Promise<string> {
  mkdirSync(STATE_ROOT, { recursive: true })
  const existing = await listNamespaces()
  for (let i = 0; i < 50; i++) {
    const prefix = `pl${randomBytes(2).toString('hex')}-`
    if (existing.some(ns => ns.startsWith(prefix))) continue
    try {
      mkdirSync(join(STATE_ROOT, prefix))
    } catch (err: any) {
      if (err.code === 'EEXIST') continue
      throw err
    }
    writeFileSync(join(STATE_ROOT, prefix, 'owner.json'), JSON.stringify({ pid: process.pid, started: new Date().toISOString() }))
    return prefix
  }
  throw new Error('no free lab prefix')
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
