// The real coturn (Debian's `coturn` package, turnserver 4.6) accepts the credentials turn.ts makes, and
// the shipped deploy/turnserver.conf starts and keeps TURN out of loopback and private ranges.
// Everything binds 127.0.0.1; every turnserver started here is stopped by its PID.
import { execFileSync, spawn } from 'node:child_process'
import { createHash, createHmac, randomBytes } from 'node:crypto'
import { createSocket } from 'node:dgram'
import { existsSync } from 'node:fs'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { connect as tcpConnect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connect as tlsConnect } from 'node:tls'
import { fileURLToPath } from 'node:url'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { turnCredentials } from '../turn.ts'
import { freePort } from './free-port.ts'
import type { ChildProcess } from 'node:child_process'
import type { Socket } from 'node:dgram'

const CONF = fileURLToPath(new URL('../deploy/turnserver.conf', import.meta.url))
const PEER = '12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN'

/** turnserver, installed here (as root, with apt-get) when missing; otherwise why the tests skip */
function ensureCoturn (): string | undefined {
  if (existsSync('/usr/bin/turnserver')) return undefined
  if (process.getuid?.() !== 0 || !existsSync('/usr/bin/apt-get')) return 'turnserver is not installed and this is not root with apt-get (apt-get install coturn)'
  try {
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
    execFileSync('apt-get', ['update', '-qq'], { stdio: 'ignore', env, timeout: 240_000 })
    execFileSync('apt-get', ['install', '-y', '-qq', 'coturn'], { stdio: 'ignore', env, timeout: 240_000 })
  } catch (err: any) {
    return `turnserver is not installed and apt-get install coturn failed (${err.message})`
  }
  return existsSync('/usr/bin/turnserver') ? undefined : 'apt-get install coturn did not bring /usr/bin/turnserver'
}
const missing = ensureCoturn()
if (missing != null) console.warn(`coturn tests skipped: ${missing}`)

// ---- a minimal STUN/TURN client (RFC 8489, RFC 8656): enough to Allocate, CreatePermission, Send, Refresh

const COOKIE = 0x2112a442
const T = {
  allocate: 0x0003,
  refresh: 0x0004,
  send: 0x0016,
  data: 0x0017,
  createPermission: 0x0008,
  binding: 0x0001
} as const
const A = {
  username: 0x0006,
  integrity: 0x0008,
  errorCode: 0x0009,
  lifetime: 0x000d,
  peer: 0x0012,
  data: 0x0013,
  realm: 0x0014,
  nonce: 0x0015,
  relayed: 0x0016,
  transport: 0x0019,
  mapped: 0x0020
} as const

interface Msg { type: number, txid: Buffer, attrs: Map<number, Buffer>, raw: Buffer }

function attr (type: number, value: Buffer): Buffer {
  const out = Buffer.alloc(4 + ((value.length + 3) & ~3))
  out.writeUInt16BE(type, 0)
  out.writeUInt16BE(value.length, 2)
  value.copy(out, 4)
  return out
}
function header (type: number, length: number, txid: Buffer): Buffer {
  const h = Buffer.alloc(20)
  h.writeUInt16BE(type, 0)
  h.writeUInt16BE(length, 2)
  h.writeUInt32BE(COOKIE, 4)
  txid.copy(h, 8)
  return h
}
/** A message; with `key`, MESSAGE-INTEGRITY (HMAC-SHA1 over the message, length counting the attribute) */
function message (type: number, txid: Buffer, attrs: Array<[number, Buffer]>, key?: Buffer): Buffer {
  const body = Buffer.concat(attrs.map(([t, v]) => attr(t, v)))
  if (key == null) return Buffer.concat([header(type, body.length, txid), body])
  const head = Buffer.concat([header(type, body.length + 24, txid), body])
  return Buffer.concat([head, attr(A.integrity, createHmac('sha1', key).update(head).digest())])
}
function parse (raw: Buffer): Msg {
  const attrs = new Map<number, Buffer>()
  for (let at = 20; at + 4 <= raw.length;) {
    const type = raw.readUInt16BE(at)
    const len = raw.readUInt16BE(at + 2)
    if (!attrs.has(type)) attrs.set(type, raw.subarray(at + 4, at + 4 + len))
    at += 4 + ((len + 3) & ~3)
  }
  return { type: raw.readUInt16BE(0), txid: raw.subarray(8, 20), attrs, raw }
}
function xorAddress (ip: string, port: number): Buffer {
  const v = Buffer.alloc(8)
  v[1] = 0x01
  v.writeUInt16BE(port ^ (COOKIE >>> 16), 2)
  v.writeUInt32BE((ip.split('.').reduce((n, p) => (n << 8) + Number(p), 0) ^ COOKIE) >>> 0, 4)
  return v
}
function readXorAddress (v: Buffer): { address: string, port: number } {
  const ip = (v.readUInt32BE(4) ^ COOKIE) >>> 0
  return { address: [24, 16, 8, 0].map(s => (ip >>> s) & 0xff).join('.'), port: v.readUInt16BE(2) ^ (COOKIE >>> 16) }
}
function errorCode (m: Msg): number | undefined {
  const v = m.attrs.get(A.errorCode)
  return v == null ? undefined : (v[2] & 7) * 100 + v[3]
}
/** RFC 8489 §9.2.2: the long-term credential key */
const longTermKey = (username: string, realm: string, password: string): Buffer => createHash('md5').update(`${username}:${realm}:${password}`).digest()

class TurnClient {
  readonly socket: Socket = createSocket('udp4')
  private waiting = new Map<string, (m: Msg) => void>()
  readonly indications: Msg[] = []
  realm = ''
  nonce = Buffer.alloc(0)
  key: Buffer | undefined
  username = ''

  constructor (readonly port: number) {
    this.socket.on('message', raw => {
      const m = parse(raw)
      const wake = this.waiting.get(m.txid.toString('hex'))
      if (wake != null) wake(m)
      else this.indications.push(m)
    })
  }

  async open (): Promise<this> {
    await new Promise<void>(resolve => this.socket.bind(0, '127.0.0.1', resolve))
    return this
  }

  /** One transaction, retransmitted every 250 ms (UDP) until answered or 3 s passed */
  async request (type: number, attrs: Array<[number, Buffer]>, authenticated = true): Promise<Msg> {
    const txid = randomBytes(12)
    const auth: Array<[number, Buffer]> = authenticated && this.key != null
      ? [[A.username, Buffer.from(this.username)], [A.realm, Buffer.from(this.realm)], [A.nonce, this.nonce]]
      : []
    const raw = message(type, txid, [...attrs, ...auth], authenticated ? this.key : undefined)
    return await new Promise<Msg>((resolve, reject) => {
      const resend = setInterval(() => { this.socket.send(raw, this.port, '127.0.0.1') }, 250)
      const timer = setTimeout(() => { done(); reject(new Error(`no answer to 0x${type.toString(16)}`)) }, 3_000)
      const done = (): void => { clearInterval(resend); clearTimeout(timer); this.waiting.delete(txid.toString('hex')) }
      this.waiting.set(txid.toString('hex'), m => { done(); resolve(m) })
      this.socket.send(raw, this.port, '127.0.0.1')
    })
  }

  /** Allocate a UDP relay with long-term credentials: the 401 challenge, then the authenticated request */
  async allocate (username: string, password: string): Promise<{ relayed?: { address: string, port: number }, error?: number, integrityOk?: boolean }> {
    const transport: [number, Buffer] = [A.transport, Buffer.from([17, 0, 0, 0])] // UDP
    const challenge = await this.request(T.allocate, [transport], false)
    expect(challenge.type).toBe(0x0113)
    expect(errorCode(challenge)).toBe(401)
    this.realm = challenge.attrs.get(A.realm)?.toString() ?? ''
    this.nonce = Buffer.from(challenge.attrs.get(A.nonce) ?? Buffer.alloc(0))
    this.username = username
    this.key = longTermKey(username, this.realm, password)
    const answer = await this.request(T.allocate, [transport])
    if (answer.type !== 0x0103) return { error: errorCode(answer) }
    return { relayed: readXorAddress(answer.attrs.get(A.relayed) as Buffer), integrityOk: integrityOk(answer, this.key) }
  }

  close (): void {
    try { this.socket.close() } catch {}
  }
}

/** Whether a response's MESSAGE-INTEGRITY was made with `key` (so coturn derived the same password) */
function integrityOk (m: Msg, key: Buffer): boolean {
  for (let at = 20; at + 4 <= m.raw.length;) {
    const type = m.raw.readUInt16BE(at)
    const len = m.raw.readUInt16BE(at + 2)
    if (type === A.integrity) {
      const head = Buffer.from(m.raw.subarray(0, at))
      head.writeUInt16BE(at - 20 + 24, 2)
      return createHmac('sha1', key).update(head).digest().equals(m.raw.subarray(at + 4, at + 24))
    }
    at += 4 + ((len + 3) & ~3)
  }
  return false
}

// ---- running turnserver

interface Turnserver { proc: ChildProcess, port: number, output: () => string }
const running: ChildProcess[] = []
const dirs: string[] = []

async function startTurnserver (args: string[], port: number): Promise<Turnserver> {
  let output = ''
  const proc = spawn('/usr/bin/turnserver', args, { stdio: ['ignore', 'pipe', 'pipe'] })
  running.push(proc)
  proc.stdout?.on('data', d => { output += String(d) })
  proc.stderr?.on('data', d => { output += String(d) })
  const exited = new Promise<never>((_resolve, reject) => {
    proc.once('exit', code => { reject(new Error(`turnserver exited (${code}) before listening:\n${output}`)) })
  })
  // listening = it answers a STUN Binding request on its UDP port
  const probe = await new TurnClient(port).open()
  try {
    await Promise.race([exited, (async () => {
      for (let i = 0; ; i++) {
        try {
          const m = await probe.request(T.binding, [], false)
          if (m.type === 0x0101) return
        } catch (err) {
          if (i >= 5) throw new Error(`turnserver does not answer on udp 127.0.0.1:${port}: ${(err as Error).message}\n${output}`)
        }
      }
    })()])
  } finally {
    probe.close()
  }
  return { proc, port, output: () => output }
}

/** Stops a turnserver by its PID: SIGTERM, then SIGKILL if it has not exited within 3 s */
async function stop (proc: ChildProcess): Promise<void> {
  if (proc.exitCode != null || proc.signalCode != null || proc.pid == null) return
  const exited = new Promise<void>(resolve => proc.once('exit', () => { resolve() }))
  const kill = (signal: NodeJS.Signals): void => { try { process.kill(proc.pid as number, signal) } catch {} } // it may have just exited
  kill('SIGTERM')
  const timer = setTimeout(() => { if (proc.exitCode == null && proc.signalCode == null) kill('SIGKILL') }, 3_000)
  await exited
  clearTimeout(timer)
}

// should the test process die first, its turnservers die with it
process.once('exit', () => { for (const proc of running) if (proc.exitCode == null && proc.pid != null) try { process.kill(proc.pid, 'SIGKILL') } catch {} })
afterAll(async () => {
  for (const proc of running.splice(0)) await stop(proc)
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true })
})

/** A range of 50 relay ports per test server, below Linux's ephemeral range (32768+) so rarely busy */
function relayPorts (): { min: number, max: number } {
  const min = 20_000 + Math.floor(Math.random() * 12_000)
  return { min, max: min + 49 }
}

describe.skipIf(missing != null)(`real coturn${missing != null ? ` (skipped: ${missing})` : ''}`, () => {
  const secret = randomBytes(24).toString('hex')
  let server: Turnserver
  let dir: string
  const clients: TurnClient[] = []
  const client = async (): Promise<TurnClient> => {
    const c = await new TurnClient(server.port).open()
    clients.push(c)
    return c
  }
  afterEach(() => { for (const c of clients.splice(0)) c.close() })

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'peerlane-coturn-'))
    dirs.push(dir)
    const port = await freePort()
    const relay = relayPorts()
    server = await startTurnserver([
      '-n', // no config file: exactly these flags
      '--listening-ip=127.0.0.1', `--listening-port=${port}`, '--relay-ip=127.0.0.1', `--min-port=${relay.min}`, `--max-port=${relay.max}`,
      '--use-auth-secret', `--static-auth-secret=${secret}`, '--realm=peerlane.test', '--fingerprint',
      '--no-tls', '--no-dtls', '--no-cli', '--no-rfc5780',
      // foreground, unprivileged-friendly: logs to stdout, pid and user DB in the temp dir, nothing in /var
      '--log-file=stdout', '--simple-log', `--pidfile=${join(dir, 'turnserver.pid')}`, `--db=${join(dir, 'turndb')}`,
      // ONLY in this test: the relayed peer below is a socket on 127.0.0.1 (the shipped turnserver.conf denies loopback)
      '--allow-loopback-peers'
    ], port)
  })

  it('allocates with turnCredentials() and relays UDP both ways between the client and a loopback peer', async () => {
    const { username, credential } = turnCredentials(secret, PEER, { ttlSeconds: 300 })
    const c = await client()
    const allocation = await c.allocate(username, credential)
    expect(allocation.error).toBeUndefined()
    expect(allocation.integrityOk).toBe(true) // coturn's answer is signed with the same key: same password
    const relayed = allocation.relayed as { address: string, port: number }
    expect(relayed.address).toBe('127.0.0.1')

    const peer = createSocket('udp4')
    try {
      await new Promise<void>(resolve => peer.bind(0, '127.0.0.1', resolve))
      const peerPort = peer.address().port
      const permission = await c.request(T.createPermission, [[A.peer, xorAddress('127.0.0.1', peerPort)]])
      expect(permission.type).toBe(0x0108)
      // client → relay → peer: a Send indication arrives at the peer from the relayed address
      const atPeer = new Promise<{ data: string, from: number }>(resolve => peer.once('message', (d, r) => { resolve({ data: String(d), from: r.port }) }))
      c.socket.send(message(T.send, randomBytes(12), [[A.peer, xorAddress('127.0.0.1', peerPort)], [A.data, Buffer.from('hello peer')]]), server.port, '127.0.0.1')
      expect(await atPeer).toEqual({ data: 'hello peer', from: relayed.port })
      // peer → relay → client: a Data indication
      peer.send('hello client', relayed.port, '127.0.0.1')
      await expect.poll(() => c.indications.find(m => m.type === T.data)?.attrs.get(A.data)?.toString()).toBe('hello client')
    } finally {
      peer.close()
    }
    // release it (Refresh, LIFETIME 0)
    const release = await c.request(T.refresh, [[A.lifetime, Buffer.from([0, 0, 0, 0])]])
    expect(release.type).toBe(0x0104)
  })

  it('refuses a wrong password (401)', async () => {
    const { username, credential } = turnCredentials(secret, PEER, { ttlSeconds: 300 })
    const wrong = Buffer.from(credential, 'base64')
    wrong[0] ^= 1
    expect((await (await client()).allocate(username, wrong.toString('base64'))).error).toBe(401)
    // and credentials made with another secret
    const other = turnCredentials(secret + 'x', PEER, { ttlSeconds: 300 })
    expect((await (await client()).allocate(other.username, other.credential)).error).toBe(401)
  })

  it('refuses an expired username (401), however correct its HMAC', async () => {
    const expired = turnCredentials(secret, PEER, { ttlSeconds: 60, now: Date.now() - 120_000 })
    expect(expired.expiresAt).toBeLessThan(Date.now() / 1000)
    expect((await (await client()).allocate(expired.username, expired.credential)).error).toBe(401)
  })

  it('checks the expiry when allocating only: an existing allocation keeps refreshing (and permitting) past it', async () => {
    // what the TTL must cover is the time from asking to allocating (ICE gathering), not the call
    const short = turnCredentials(secret, PEER, { ttlSeconds: 2 })
    const c = await client()
    expect((await c.allocate(short.username, short.credential)).relayed).toBeDefined()
    // a second past the expiry by coturn's whole-second clock, with room for a loaded machine
    await new Promise(resolve => setTimeout(resolve, (short.expiresAt + 2) * 1000 - Date.now()))
    const refresh = await c.request(T.refresh, [[A.lifetime, Buffer.from([0, 0, 0x02, 0x58])]]) // 600 s
    expect({ type: refresh.type, code: errorCode(refresh) }).toEqual({ type: 0x0104, code: undefined })
    const permission = await c.request(T.createPermission, [[A.peer, xorAddress('127.0.0.1', 9)]])
    expect({ type: permission.type, code: errorCode(permission) }).toEqual({ type: 0x0108, code: undefined })
    // a new allocation with the same, now expired, credentials is refused
    expect((await (await client()).allocate(short.username, short.credential)).error).toBe(401)
    await c.request(T.refresh, [[A.lifetime, Buffer.from([0, 0, 0, 0])]])
  })
})

describe.skipIf(missing != null)(`the shipped deploy/turnserver.conf${missing != null ? ` (skipped: ${missing})` : ''}`, () => {
  it('denies the private, loopback and special ranges the relay must never reach', async () => {
    const conf = await readFile(CONF, 'utf8')
    const denied = [...conf.matchAll(/^denied-peer-ip=(.+)$/gm)].map(m => m[1].trim())
    expect(denied).toEqual(expect.arrayContaining([
      '0.0.0.0-0.255.255.255', '10.0.0.0-10.255.255.255', '100.64.0.0-100.127.255.255', '127.0.0.0-127.255.255.255',
      '169.254.0.0-169.254.255.255', '172.16.0.0-172.31.255.255', '192.0.0.0-192.0.0.255', '192.168.0.0-192.168.255.255',
      '198.18.0.0-198.19.255.255', '::1', 'fc00::-fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', 'fe80::-febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff'
    ]))
    for (const line of ['use-auth-secret', 'no-cli', 'no-multicast-peers', 'fingerprint', 'listening-port=3478', 'tls-listening-port=5349']) {
      expect(conf.split('\n')).toContain(line)
    }
    for (const key of ['static-auth-secret', 'realm', 'user-quota', 'total-quota', 'max-bps', 'stale-nonce']) {
      expect(conf).toMatch(new RegExp(`^${key}=\\S+$`, 'm'))
    }
    expect(conf).not.toMatch(/^allow-loopback-peers/m)
  })

  it('is accepted by the real turnserver: UDP, TCP and TLS listen, REST credentials work, loopback and private peers are refused', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'peerlane-coturn-conf-'))
    dirs.push(dir)
    const secret = randomBytes(24).toString('hex')
    const [port, tlsPort] = [await freePort(), await freePort()]
    const relay = relayPorts()
    // a throwaway self-signed certificate for the TLS listener
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
      '-subj', '/CN=turn.example.com', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' })
    // the shipped file, with only what a deployment replaces (and ports/paths for this machine) changed
    const replace: Record<string, string> = {
      'static-auth-secret': secret,
      'listening-port': String(port),
      'tls-listening-port': String(tlsPort),
      cert: join(dir, 'cert.pem'),
      pkey: join(dir, 'key.pem'),
      'min-port': String(relay.min),
      'max-port': String(relay.max)
    }
    let conf = await readFile(CONF, 'utf8')
    for (const [key, value] of Object.entries(replace)) {
      const line = new RegExp(`^${key}=.*$`, 'm')
      expect(conf, `turnserver.conf has ${key}=`).toMatch(line)
      conf = conf.replace(line, `${key}=${value}`)
    }
    conf += `\nlistening-ip=127.0.0.1\nrelay-ip=127.0.0.1\npidfile=${join(dir, 'turnserver.pid')}\ndb=${join(dir, 'turndb')}\n`
    await writeFile(join(dir, 'turnserver.conf'), conf, { mode: 0o600 })

    const server = await startTurnserver(['-c', join(dir, 'turnserver.conf')], port)
    try {
      expect(server.output()).not.toMatch(/CONFIG ERROR|Unknown (argument|option)|Bad configuration/i)
      // coturn parsed every denied range (it prints each one as it loads it)
      for (const range of conf.matchAll(/^denied-peer-ip=(.+)$/gm)) expect(server.output()).toContain(`Black listing: ${range[1]}`)
      // TCP on the listening port, TLS on the TLS port
      await new Promise<void>((resolve, reject) => {
        const s = tcpConnect(port, '127.0.0.1', () => { s.destroy(); resolve() }).once('error', reject)
      })
      const protocol = await new Promise<string | null>((resolve, reject) => {
        const s = tlsConnect({ port: tlsPort, host: '127.0.0.1', servername: 'turn.example.com', rejectUnauthorized: false }, () => {
          const p = s.getProtocol()
          s.destroy()
          resolve(p)
        }).once('error', reject)
      })
      expect(protocol).toMatch(/^TLSv1\.[23]$/)

      const { username, credential } = turnCredentials(secret, PEER, { ttlSeconds: 300 })
      const c = await new TurnClient(port).open()
      try {
        const allocation = await c.allocate(username, credential)
        expect(allocation.error).toBeUndefined()
        expect(allocation.relayed?.address).toBe('127.0.0.1')
        // CreatePermission only sets state in coturn (no packet goes to the peer): each must be refused (403)
        for (const ip of ['127.0.0.1', '10.1.2.3', '192.168.1.1', '172.16.0.1', '169.254.169.254', '100.64.0.1', '0.0.0.1']) {
          const answer = await c.request(T.createPermission, [[A.peer, xorAddress(ip, 9)]])
          expect({ ip, code: errorCode(answer) }).toEqual({ ip, code: 403 })
        }
      } finally {
        c.close()
      }
    } finally {
      await stop(server.proc)
    }
    expect(server.proc.exitCode ?? server.proc.signalCode).not.toBeNull()
  })
})
