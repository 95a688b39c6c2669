// The probe agent: how the test process acts inside a lab namespace without a browser (UDP sockets, TCP and HTTP
// servers, connections, fetches), through a small Node process it starts there.
import { createInterface } from 'node:readline'
import type { ChildProcess } from 'node:child_process'

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

/**
 * The probe agent: one Node process per namespace (plain CommonJS, `node -e`, no files), started on first
 * use and driven over stdio with JSON lines { id, op, ... } → { id, ... }; sockets report datagrams as
 * { sock, data, address, port }. It ends when its stdin closes.
 */
export const AGENT = String.raw`
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
      ? require('node:net').createServer(c => { c.on('error', () => {}); c.end('peerlane-lab\n') })
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

export class Agent {
  private readonly pending = new Map<number, (o: any) => void>()
  private readonly listeners = new Map<number, (o: any) => void>()
  private next = 1
  readonly ready: Promise<void>
  private exited?: string

  /** `closed`: whether the lab is closing, and so the agent with it (a socket or server closed then needs no answer) */
  constructor (readonly child: ChildProcess, what: string, private readonly closed: () => boolean = () => false) {
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

  /** A UDP socket bound in the agent's namespace (default: any address, a free port) */
  async udpSocket (opts: { address?: string, port?: number } = {}): Promise<RemoteUdpSocket> {
    const queue: Datagram[] = []
    const waiters = new Set<() => void>()
    const sendErrors: string[] = []
    const { sock, address, port } = await this.call('bind', { address: opts.address ?? '0.0.0.0', port: opts.port ?? 0 })
    this.onSocket(sock, o => {
      if (o.sendError != null) sendErrors.push(o.sendError)
      if (o.data == null) return
      queue.push({ data: Buffer.from(o.data, 'base64'), address: o.address, port: o.port })
      for (const w of waiters) w()
    })
    return {
      localAddress: address,
      localPort: port,
      sendErrors,
      send: (data, port, address) => { this.post('send', { sock, data: Buffer.from(data).toString('base64'), port, address }) },
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
        this.onSocket(sock)
        if (!this.closed()) await this.call('unbind', { sock }).catch(() => {})
      }
    }
  }

  /** A server in the agent's namespace: 'tcp' greets and closes, 'http' serves a page naming `label`, 'static' serves `folders` of `root` */
  async listen (kind: 'tcp' | 'http' | 'static', label: string, opts: { address?: string, port?: number, root?: string, folders?: string[] }): Promise<RemoteServer> {
    const { srv, address, port } = await this.call('listen', { ...opts, kind, address: opts.address ?? '0.0.0.0', port: opts.port ?? 0, label })
    return { address, port, close: async () => { if (!this.closed()) await this.call('unlisten', { srv }).catch(() => {}) } }
  }
}
