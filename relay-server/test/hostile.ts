// Hostile input for a running relay: raw attacks and a seeded fuzzer, shared by test/hostile.test.ts
// (bounded, in CI) and `npm run fuzz:relay` (as many inputs as asked for). Targets 127.0.0.1 only.
import { NodeWebSocket } from 'peerlane/shared'
import { connect } from 'node:net'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { circuitRelayTransport } from '@libp2p/circuit-relay-v2'
import { identify } from '@libp2p/identify'
import { webSockets } from '@libp2p/websockets'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'
import { WebSocket } from 'ws'
import type { Libp2p } from '@libp2p/interface'

/** A small seeded PRNG (mulberry32): the same seed gives the same inputs, so a failing input can be replayed */
export function prng (seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6D2B79F5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

export function randomBytes (rand: () => number, length: number): Uint8Array {
  const bytes = new Uint8Array(length)
  for (let i = 0; i < length; i++) bytes[i] = Math.floor(rand() * 256)
  return bytes
}

/**
 * Raw attacks come from this loopback address, the honest clients from 127.0.0.1, so that the relay's
 * per-IP limits (which rightly slow the attacker down) do not also shut out the honest clients
 */
export const ATTACKER_ADDRESS = '127.0.0.2'

const MSS = '/multistream/1.0.0\n'
const encoder = new TextEncoder()

/** A length-prefixed multistream-select line */
function mssLine (text: string): Uint8Array {
  const body = encoder.encode(text)
  return new Uint8Array([...varint(body.byteLength), ...body])
}

function varint (n: number): number[] {
  const out: number[] = []
  do {
    let b = n & 0x7f
    n = Math.floor(n / 128)
    if (n > 0) b |= 0x80
    out.push(b)
  } while (n > 0)
  return out
}

/** The start of an honest connection: multistream-select for Noise, then (what should be) a Noise message */
const prefixes = [
  new Uint8Array(0),
  mssLine(MSS),
  new Uint8Array([...mssLine(MSS), ...mssLine('/noise\n')])
]

/** One fuzz input: a valid prefix, then mutated or random bytes (truncations, huge lengths, garbage) */
export function fuzzInput (rand: () => number): Uint8Array {
  const prefix = prefixes[Math.floor(rand() * prefixes.length)]
  const kind = Math.floor(rand() * 5)
  let tail: Uint8Array
  if (kind === 0) tail = randomBytes(rand, Math.floor(rand() * 512))
  else if (kind === 1) tail = new Uint8Array([0xff, 0xff, 0xff, 0xff, 0x0f, ...randomBytes(rand, 16)]) // a length prefix of ~4 GiB
  else if (kind === 2) tail = mssLine('/' + 'x'.repeat(Math.floor(rand() * 2000))) // an oversized protocol line
  else if (kind === 3) tail = new Uint8Array([0x00, 0x20, ...randomBytes(rand, 32)]) // a Noise-shaped frame of garbage
  else tail = mssLine(MSS).subarray(0, Math.floor(rand() * 10)) // a truncated line
  const input = new Uint8Array(prefix.byteLength + tail.byteLength)
  input.set(prefix)
  input.set(tail, prefix.byteLength)
  // flip a few bits here and there
  for (let i = 0; i < 3; i++) if (input.byteLength > 0 && rand() < 0.3) input[Math.floor(rand() * input.byteLength)] ^= 1 << Math.floor(rand() * 8)
  return input
}

/** Opens a WebSocket to the relay, sends `data` as binary frames, and closes after `holdMs` */
export async function sendOverWebSocket (url: string, frames: Uint8Array[], holdMs = 50): Promise<void> {
  await new Promise<void>(resolve => {
    const ws = new WebSocket(url, { localAddress: ATTACKER_ADDRESS })
    const done = (): void => { try { ws.terminate() } catch {} ; resolve() }
    const timer = setTimeout(done, 5_000)
    ws.on('open', () => {
      for (const f of frames) ws.send(f)
      setTimeout(() => { clearTimeout(timer); done() }, holdMs)
    })
    ws.on('error', () => { clearTimeout(timer); done() })
    ws.on('close', () => { clearTimeout(timer); done() })
  })
}

/** Runs `count` fuzz inputs from `seed` against the relay, `parallel` at a time; returns how many were sent */
export async function fuzzRelay (url: string, seed: number, count: number, parallel = 20): Promise<number> {
  const rand = prng(seed)
  const inputs = Array.from({ length: count }, () => fuzzInput(rand))
  let sent = 0
  for (let i = 0; i < inputs.length; i += parallel) {
    await Promise.all(inputs.slice(i, i + parallel).map(async input => {
      await sendOverWebSocket(url, [input])
      sent++
    }))
  }
  return sent
}

/** Raw TCP: random bytes where an HTTP request should be */
export async function sendRawTcp (host: string, port: number, data: Uint8Array): Promise<void> {
  await new Promise<void>(resolve => {
    const socket = connect({ port, host, localAddress: ATTACKER_ADDRESS }, () => { socket.end(data) })
    socket.on('error', () => { resolve() })
    socket.on('close', () => { resolve() })
    setTimeout(() => { socket.destroy(); resolve() }, 3_000)
  })
}

/** Half-open WebSocket upgrades (slowloris): a request line and part of the headers, then silence */
export async function openHalfUpgrades (host: string, port: number, count: number): Promise<() => void> {
  const sockets = await Promise.all(Array.from({ length: count }, async () => await new Promise<ReturnType<typeof connect>>(resolve => {
    const socket = connect({ port, host, localAddress: ATTACKER_ADDRESS }, () => {
      socket.write(`GET / HTTP/1.1\r\nHost: ${host}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n`)
      resolve(socket)
    })
    socket.on('error', () => { resolve(socket) })
  })))
  return () => { for (const s of sockets) s.destroy() }
}

/**
 * An oversized WebSocket message: one binary frame announcing `bytes` of payload, of which `send` bytes
 * are actually sent (a client cannot make the relay allocate what it never sends, but may try)
 */
export async function sendOversizedFrame (host: string, port: number, bytes: number, send: number): Promise<void> {
  await new Promise<void>(resolve => {
    const socket = connect({ port, host, localAddress: ATTACKER_ADDRESS }, () => {
      socket.write(`GET / HTTP/1.1\r\nHost: ${host}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`)
    })
    let upgraded = false
    socket.on('data', () => {
      if (upgraded) return
      upgraded = true
      // FIN + binary, masked, 64-bit length
      const header = Buffer.alloc(14)
      header[0] = 0x82
      header[1] = 0x80 | 127
      header.writeBigUInt64BE(BigInt(bytes), 2)
      header.writeUInt32BE(0x01020304, 10)
      socket.write(header)
      const chunk = Buffer.alloc(64 * 1024, 0x61)
      let left = send
      const pump = (): void => {
        while (left > 0) {
          left -= chunk.byteLength
          if (!socket.write(chunk)) { socket.once('drain', pump); return }
        }
        setTimeout(() => { socket.destroy() }, 200)
      }
      pump()
    })
    socket.on('error', () => { resolve() })
    socket.on('close', () => { resolve() })
    setTimeout(() => { socket.destroy(); resolve() }, 15_000)
  })
}

/**
 * Runs `fn` with libp2p's outbound WebSockets coming from ATTACKER_ADDRESS (the relay's per-IP limits then
 * count them apart from the honest clients), or `from`: another loopback address, or socket options
 * (`localAddress`, unset = the system's choice, 127.0.0.1 here; extra HTTP `headers` on the upgrade, such as
 * X-Forwarded-For for a relay that trusts 127.0.0.1 as its proxy, or a forged one): @libp2p/websockets dials
 * with the global WebSocket, which is `ws` here
 */
export async function asAttacker<T> (fn: () => Promise<T>, from: string | { localAddress?: string, headers?: Record<string, string> } = ATTACKER_ADDRESS): Promise<T> {
  const original = globalThis.WebSocket
  const options = typeof from === 'string' ? { localAddress: from } : from
  // NodeWebSocket: like the polyfilled global, a refused socket must not throw an unhandled 'error'
  class AttackerWebSocket extends NodeWebSocket {
    constructor (url: string, protocols?: string | string[]) {
      super(url, protocols, options)
    }
  }
  globalThis.WebSocket = AttackerWebSocket as unknown as typeof globalThis.WebSocket
  try {
    return await fn()
  } finally {
    globalThis.WebSocket = original
  }
}

/** A plain libp2p client with a reservation, as a browser would hold one (used as the honest client) */
export async function reservingClient (relayAddress: string): Promise<Libp2p> {
  const node = await createLibp2p({
    addresses: { listen: [`${relayAddress}/p2p-circuit`] },
    transports: [webSockets(), circuitRelayTransport()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: { identify: identify() }
  })
  return node
}

/** Whether a libp2p client can still connect to the relay and hold a reservation, within `ms` */
export async function honestClientWorks (relayAddress: string, ms = 15_000): Promise<boolean> {
  let node: Libp2p | undefined
  try {
    node = await Promise.race([
      reservingClient(relayAddress),
      new Promise<never>((_resolve, reject) => setTimeout(() => { reject(new Error('timeout')) }, ms))
    ])
    return node.getMultiaddrs().some(ma => ma.toString().includes('/p2p-circuit'))
  } catch {
    return false
  } finally {
    await node?.stop()
  }
}

/** A raw stream on the relay's hop protocol carrying `payload` (malformed relay protobufs) */
export async function sendOnHop (relayAddress: string, payloads: Uint8Array[]): Promise<void> {
  const node = await createLibp2p({ transports: [webSockets()], connectionEncrypters: [noise()], streamMuxers: [yamux()], services: { identify: identify() } })
  try {
    for (const payload of payloads) {
      try {
        const stream = await node.dialProtocol(multiaddr(relayAddress), '/libp2p/circuit/relay/0.2.0/hop', { signal: AbortSignal.timeout(5_000) })
        stream.send(payload)
        await stream.close({ signal: AbortSignal.timeout(2_000) }).catch(() => {})
      } catch {}
    }
  } finally {
    await node.stop()
  }
}

/** A libp2p client whose "Yamux" sends garbage frames once Noise is up */
export async function sendBadYamux (relayAddress: string, rand: () => number, count: number): Promise<void> {
  const garbage = {
    protocol: '/yamux/1.0.0',
    createStreamMuxer (maConn: { send: (data: Uint8Array) => boolean }): never {
      for (let i = 0; i < count; i++) maConn.send(randomBytes(rand, 12 + Math.floor(rand() * 64)))
      throw new Error('a bad Yamux, on purpose')
    }
  }
  const node = await createLibp2p({ transports: [webSockets()], connectionEncrypters: [noise()], streamMuxers: [() => garbage as any] })
  try {
    await node.dial(multiaddr(relayAddress), { signal: AbortSignal.timeout(5_000) }).catch(() => {})
  } finally {
    await node.stop()
  }
}
