// The STUN responder against real UDP clients on loopback.
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { createSocket } from 'node:dgram'
import { existsSync } from 'node:fs'
import { afterEach, describe, expect, it } from 'vitest'
import { RateLimiter } from '../rate-limit.ts'
import { bindingSuccess, crc32, parseBindingRequest, sourceAddress, startStunServer, STUN_MAGIC_COOKIE } from '../stun.ts'
import { attr, stunMessage } from './stun-message.ts'
import type { StunServer, StunServerOptions } from '../stun.ts'
import type { Socket } from 'node:dgram'

const servers: StunServer[] = []
const sockets: Socket[] = []
afterEach(async () => {
  for (const s of sockets.splice(0)) s.close()
  for (const s of servers.splice(0)) await s.close()
})

async function server (options: StunServerOptions = {}): Promise<StunServer> {
  const s = await startStunServer({ host: '127.0.0.1', port: 0, ...options })
  servers.push(s)
  return s
}

async function client (address = '127.0.0.1'): Promise<Socket> {
  const socket = createSocket(address.includes(':') ? 'udp6' : 'udp4')
  sockets.push(socket)
  await new Promise<void>(resolve => socket.bind(0, address, resolve))
  return socket
}

/** A Binding request: header, optional attributes (already padded), optional FINGERPRINT */
function request ({ txid = randomBytes(12), attrs = Buffer.alloc(0), fingerprint = false, type = 0x0001, cookie = STUN_MAGIC_COOKIE }: { txid?: Buffer, attrs?: Buffer, fingerprint?: boolean, type?: number, cookie?: number } = {}): Buffer {
  return stunMessage(type, txid, attrs, { fingerprint, cookie })
}

/** Decodes a Binding success response's XOR-MAPPED-ADDRESS, checking everything else on the way */
function decodeResponse (msg: Buffer, txid: Buffer): { address: string, port: number, fingerprint: boolean } {
  expect(msg.readUInt16BE(0)).toBe(0x0101)
  expect(msg.readUInt16BE(2)).toBe(msg.length - 20)
  expect(msg.readUInt32BE(4)).toBe(STUN_MAGIC_COOKIE)
  expect(msg.subarray(8, 20).equals(txid)).toBe(true)
  expect(msg.readUInt16BE(20)).toBe(0x0020)
  const family = msg[25]
  const port = msg.readUInt16BE(26) ^ 0x2112
  const key = msg.subarray(4, 20)
  let address: string
  if (family === 0x01) {
    expect(msg.readUInt16BE(22)).toBe(8)
    address = [0, 1, 2, 3].map(i => msg[28 + i] ^ key[i]).join('.')
  } else {
    expect(family).toBe(0x02)
    expect(msg.readUInt16BE(22)).toBe(20)
    const bytes = Buffer.from([...Array(16).keys()].map(i => msg[28 + i] ^ key[i]))
    address = [...Array(8).keys()].map(i => bytes.readUInt16BE(2 * i).toString(16)).join(':')
  }
  const end = 24 + msg.readUInt16BE(22)
  let fingerprint = false
  if (msg.length > end) {
    expect(msg.readUInt16BE(end)).toBe(0x8028)
    expect(msg.readUInt32BE(end + 4)).toBe((crc32(msg.subarray(0, end)) ^ 0x5354554e) >>> 0)
    expect(msg.length).toBe(end + 8)
    fingerprint = true
  }
  return { address, port, fingerprint }
}

/** Every datagram the socket receives within `ms` */
async function collect (socket: Socket, send: () => void, ms = 300): Promise<Buffer[]> {
  const got: Buffer[] = []
  const on = (m: Buffer): void => { got.push(m) }
  socket.on('message', on)
  send()
  await new Promise(resolve => setTimeout(resolve, ms))
  socket.off('message', on)
  return got
}

describe('STUN Binding responder', () => {
  it('answers a Binding request with the client\'s own address and port in XOR-MAPPED-ADDRESS, and nothing more', async () => {
    const s = await server()
    expect(s.address).toBe('127.0.0.1')
    const c = await client()
    const txid = randomBytes(12)
    const [answer, ...more] = await collect(c, () => { c.send(request({ txid }), s.port, '127.0.0.1') })
    expect(more).toEqual([])
    expect(decodeResponse(answer, txid)).toEqual({ address: '127.0.0.1', port: c.address().port, fingerprint: false })
    // header + XOR-MAPPED-ADDRESS only: 32 bytes for IPv4
    expect(answer.length).toBe(32)
    expect(s.stats()).toMatchObject({ answered: 1, refused: 0, ignored: 0 })
  })

  it('adds FINGERPRINT only when the request had one, and accepts ignorable attributes (SOFTWARE, USERNAME, PRIORITY)', async () => {
    const s = await server()
    const c = await client()
    const txid = randomBytes(12)
    const attrs = Buffer.concat([attr(0x8022, Buffer.from('test client')), attr(0x0006, Buffer.from('a:b')), attr(0x0024, Buffer.alloc(4, 1))])
    const [answer] = await collect(c, () => { c.send(request({ txid, attrs, fingerprint: true }), s.port, '127.0.0.1') })
    expect(decodeResponse(answer, txid)).toEqual({ address: '127.0.0.1', port: c.address().port, fingerprint: true })
    expect(answer.length).toBe(40)
  })

  it('never answers non-STUN or malformed datagrams, and still answers a good one after them', async () => {
    const s = await server()
    const c = await client()
    const good = request()
    const badFingerprint = request({ fingerprint: true })
    badFingerprint[badFingerprint.length - 1] ^= 1
    const wrongLength = request({ attrs: attr(0x8022, Buffer.from('abcd')) })
    wrongLength.writeUInt16BE(4, 2)
    const truncatedAttr = request({ attrs: attr(0x8022, Buffer.from('abcdefgh')) })
    truncatedAttr.writeUInt16BE(12, 22) // attribute claims more than the message holds
    const afterFingerprint = Buffer.concat([request({ fingerprint: true }), attr(0x8022, Buffer.from('late'))])
    afterFingerprint.writeUInt16BE(afterFingerprint.length - 20, 2)
    const bad = [
      Buffer.from('GET / HTTP/1.1\r\n\r\n'),
      Buffer.alloc(0),
      request().subarray(0, 19), // shorter than a header
      request({ cookie: 0 }), // RFC 3489 (no magic cookie)
      request({ type: 0x0101 }), // a success response
      request({ type: 0x0111 }), // an error response
      request({ type: 0x0011 }), // a Binding indication
      request({ type: 0x0003 }), // TURN Allocate
      request({ type: 0x4001 }), // top bits set (not STUN)
      badFingerprint,
      wrongLength,
      truncatedAttr,
      afterFingerprint,
      request({ attrs: attr(0x0003, Buffer.alloc(4)) }), // CHANGE-REQUEST: comprehension-required, not served
      Buffer.concat([request(), Buffer.alloc(3)]), // trailing bytes not covered by the length
      randomBytes(1500) // oversized noise
    ]
    const got = await collect(c, () => {
      for (const b of bad) c.send(b, s.port, '127.0.0.1')
      c.send(good, s.port, '127.0.0.1')
    }, 500)
    expect(got).toHaveLength(1)
    decodeResponse(got[0], good.subarray(8, 20))
    expect(s.stats()).toMatchObject({ answered: 1, ignored: bad.length, refused: 0 })
  })

  it('limits answers per source IP: past the burst it refuses and counts, other IPs still get answers', async () => {
    const outcomes: string[] = []
    // no refill during the test: exactly `burst` answers
    const s = await server({ ratePerIp: { perSecond: 0.001, burst: 5 }, onOutcome: o => { outcomes.push(o) } })
    const a = await client()
    const got = await collect(a, () => { for (let i = 0; i < 8; i++) a.send(request(), s.port, '127.0.0.1') }, 500)
    expect(got).toHaveLength(5)
    expect(s.stats()).toMatchObject({ answered: 5, refused: 3, trackedIps: 1 })
    expect(outcomes.filter(o => o === 'refused')).toHaveLength(3)
    // the whole of 127/8 is loopback on Linux: another source IP has its own bucket
    const b = await client('127.0.0.2')
    const txid = randomBytes(12)
    const [answer] = await collect(b, () => { b.send(request({ txid }), s.port, '127.0.0.1') })
    expect(decodeResponse(answer, txid)).toMatchObject({ address: '127.0.0.2', port: b.address().port })
    expect(s.stats()).toMatchObject({ answered: 6, refused: 3, trackedIps: 2 })
  })

  it('with the default limit (20/s, burst 40) a flood of 100 requests gets at most ~40 answers', async () => {
    const s = await server()
    const c = await client()
    const got = await collect(c, () => { for (let i = 0; i < 100; i++) c.send(request(), s.port, '127.0.0.1') }, 500)
    expect(got.length).toBeGreaterThanOrEqual(40)
    expect(got.length).toBeLessThanOrEqual(50) // plus what refills (20/s) while the flood is processed
    expect(s.stats().refused).toBe(100 - got.length)
  })

  it('answers over IPv6 with a 20-byte XOR-MAPPED-ADDRESS', async () => {
    let s: StunServer
    try {
      s = await server({ host: '::1' })
    } catch (err: any) {
      if (/EADDRNOTAVAIL|EAFNOSUPPORT/.test(err.message)) return // no IPv6 loopback on this machine
      throw err
    }
    const c = await client('::1')
    const txid = randomBytes(12)
    const [answer] = await collect(c, () => { c.send(request({ txid }), s.port, '::1') })
    expect(decodeResponse(answer, txid)).toEqual({ address: '0:0:0:0:0:0:0:1', port: c.address().port, fingerprint: false })
    expect(answer.length).toBe(44)
  })

  it('close() frees the port (and is idempotent)', async () => {
    const s = await server()
    await s.close()
    await s.close()
    const again = createSocket('udp4')
    sockets.push(again)
    await new Promise<void>((resolve, reject) => { again.once('error', reject); again.bind(s.port, '127.0.0.1', resolve) })
    expect(again.address().port).toBe(s.port)
  })

  it('rejects with StunServerError when the port is taken, and honours an aborted signal', async () => {
    const s = await server()
    await expect(startStunServer({ host: '127.0.0.1', port: s.port })).rejects.toMatchObject({ name: 'StunServerError' })
    await expect(startStunServer({ host: '127.0.0.1', port: 0, signal: AbortSignal.abort() })).rejects.toMatchObject({ name: 'AbortError' })
    const controller = new AbortController()
    const t = await server({ signal: controller.signal })
    controller.abort()
    await new Promise(resolve => setTimeout(resolve, 50))
    const again = createSocket('udp4')
    sockets.push(again)
    await new Promise<void>((resolve, reject) => { again.once('error', reject); again.bind(t.port, '127.0.0.1', resolve) })
  })

  // an independent client: coturn's own STUN client, where coturn is installed (test-e2e/ensure-browsers.js installs it)
  it.skipIf(!existsSync('/usr/bin/turnutils_stunclient'))('is understood by coturn\'s turnutils_stunclient', async () => {
    const s = await server()
    const out = await new Promise<string>((resolve, reject) => {
      execFile('turnutils_stunclient', ['-p', String(s.port), '-L', '127.0.0.1', '127.0.0.1'], { timeout: 10_000 }, (err, stdout, stderr) => {
        if (err != null) reject(new Error(`${err.message}\n${stdout}\n${stderr}`))
        else resolve(stdout + stderr)
      })
    })
    expect(out).toMatch(/UDP reflexive addr: 127\.0\.0\.1:\d+/)
    expect(s.stats().answered).toBeGreaterThanOrEqual(1)
  })
})

describe('STUN pieces', () => {
  it('maps IPv4-mapped IPv6 sources to IPv4 and keys IPv6 by /64', () => {
    expect(sourceAddress('::ffff:192.0.2.7')).toEqual({ bytes: Uint8Array.from([192, 0, 2, 7]), key: '192.0.2.7' })
    const a = sourceAddress('2001:db8:1:2::1')
    const b = sourceAddress('2001:db8:1:2:ffff::9%eth0')
    expect(a?.key).toBe(b?.key)
    expect(a?.bytes).toEqual(Uint8Array.from([0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 2, 0, 0, 0, 0, 0, 0, 0, 1]))
    expect(sourceAddress('::1')?.bytes).toEqual(Uint8Array.from([...Array(15).fill(0), 1]))
    expect(sourceAddress('not an ip')).toBeUndefined()
  })

  it('encodes XOR-MAPPED-ADDRESS as RFC 5769 §2.2 and §2.3\'s sample responses do', () => {
    // both samples: transaction id b7e7a701bc34d686fa87dfae, port 32853
    const req = request({ txid: Buffer.from('b7e7a701bc34d686fa87dfae', 'hex') })
    expect(parseBindingRequest(req)).toEqual({ fingerprint: false })
    const v4 = bindingSuccess(req, sourceAddress('192.0.2.1')?.bytes as Uint8Array, 32853, false)
    expect(v4.subarray(20).toString('hex')).toBe('00200008' + '0001a147e112a643')
    const v6 = bindingSuccess(req, sourceAddress('2001:db8:1234:5678:11:2233:4455:6677')?.bytes as Uint8Array, 32853, false)
    expect(v6.subarray(20).toString('hex')).toBe('00200014' + '0002a147' + '0113a9faa5d3f179bc25f4b5bed2b9d9')
  })

  it('accepts RFC 5769 §2.1\'s sample request (SOFTWARE, PRIORITY, ICE-CONTROLLED, USERNAME, MESSAGE-INTEGRITY, FINGERPRINT) and checks its FINGERPRINT', () => {
    const sample = Buffer.from([
      '000100582112a442b7e7a701bc34d686fa87dfae',
      '802200105354554e207465737420636c69656e74', // SOFTWARE "STUN test client"
      '002400046e0001ff', // PRIORITY
      '80290008932ff9b151263b36', // ICE-CONTROLLED
      '000600096576746a3a68367659202020', // USERNAME
      '000800149aeaa70cbfd8cb56781ef2b5b2d3f249c1b571a2', // MESSAGE-INTEGRITY
      '80280004e57a3bcf' // FINGERPRINT
    ].join(''), 'hex')
    expect(parseBindingRequest(sample)).toEqual({ fingerprint: true })
    sample[sample.length - 1] ^= 0xff
    expect(parseBindingRequest(sample)).toBeUndefined()
  })

  it('RateLimiter refills over time and bounds its table', () => {
    let now = 0
    const r = new RateLimiter({ perSecond: 2, burst: 2, maxKeys: 2, now: () => now })
    expect([r.take('a'), r.take('a'), r.take('a')]).toEqual([true, true, false])
    now += 500
    expect([r.take('a'), r.take('a')]).toEqual([true, false])
    expect(r.take('b')).toBe(true)
    expect(r.take('c')).toBe(false) // full, nobody idle
    now += 5_000
    expect(r.take('c')).toBe(true) // a and b refilled: pruned
    expect(r.size).toBe(1)
    expect(() => new RateLimiter({ perSecond: 0, burst: 1 })).toThrow(RangeError)
  })
})
