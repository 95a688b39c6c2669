// More requests and streams on one connection than a peer runs (issue 15, line 11): past HANDLER_LIMITS
// the excess is refused with a typed error, honest requests are still served, and what the flood makes the
// peer buffer stays bounded. Two Node SDK peers over a real relay (in this process: the handler's heap is
// measured here) on a relayed circuit; the request code is the same in browsers.
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { lpStream } from '@libp2p/utils'
import * as varint from 'uint8-varint'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { createRelay } from '../relay-server/index.ts'
import { HANDLER_LIMITS } from './handler-limits.ts'
import { createPeer } from './index.ts'
import { RequestResult } from './pb/request.ts'
import type { Relay } from '../relay-server/index.ts'
import type { Peer } from './index.ts'
import type { Connection } from '@libp2p/interface'

setFlagsFromString('--expose_gc')
const gc = runInNewContext('gc') as () => void
// the JS heap and the ArrayBuffers outside it (received bytes live there)
const heap = (): number => { gc(); gc(); const m = process.memoryUsage(); return m.heapUsed + m.arrayBuffers }
const MB = 1024 * 1024

describe('a flood of requests and streams on one connection', () => {
  let relay: Relay
  const peers: Peer[] = []
  let server: Peer
  let client: Peer
  /** requests the handlers hold until `release()` */
  const held: Array<() => void> = []
  let running = 0
  let maxRunning = 0
  const release = (): void => { for (const r of held.splice(0)) r() }

  beforeAll(async () => {
    // a circuit big enough for the flood (the relay's default is 4 MiB per circuit)
    relay = createRelay({ port: 0, stunPort: 0, httpPort: 0, privateKey: await generateKeyPair('Ed25519'), logLevel: 'silent', circuitData: 1024 * MB })
    await relay.ready
    // one connection between the two, their relayed circuit: no ICE servers and relay-only ICE, and the client's
    // background WebRTC attempts stopped (each would dial a second circuit, which libp2p then drops as a duplicate)
    const options = { relays: [relay.addresses[0]], identity: 'memory' as const, relayIceServers: false, rtcConfiguration: { iceTransportPolicy: 'relay' as const } }
    server = await createPeer(options)
    client = await createPeer(options)
    ;(client as any).parts.links.stop()
    peers.push(server, client)
    for (const protocol of ['/flood/a', '/flood/b', '/flood/c']) {
      await server.handle(protocol, async data => {
        maxRunning = Math.max(maxRunning, ++running)
        try {
          if (new TextDecoder().decode(data.subarray(0, 4)) === 'hold') await new Promise<void>(resolve => held.push(resolve))
          if (new TextDecoder().decode(data) === 'throw') throw new Error('secret detail: /home/alice/notes.txt')
          return `${protocol} ${data.byteLength}`
        } finally {
          running--
        }
      })
    }
    await server.handleStream('/flood/stream', async stream => {
      maxRunning = Math.max(maxRunning, ++running)
      await stream.readable.pipeTo(new WritableStream()).catch(() => {})
      running--
    })
    await server.handleStream('/flood/idle', () => {}, { idleTimeout: 500 })
    await client.connect(server.id)
    // a round trip: the handler's side of the new circuit is upgraded too (a burst of more than 10 streams
    // before that makes yamux drop the connection: MaxEarlyStreamsError)
    await client.request(server.id, '/flood/a', 'ready')
  }, 60_000)

  afterEach(async () => {
    release()
    await expect.poll(() => running).toBe(0)
  })

  afterAll(async () => {
    release()
    for (const p of peers) await p.stop().catch(() => {})
    await relay?.close()
  })

  /** A call's outcome as it settles: 'pending', 'served', or its error's code (or name); errors go to `errors` */
  const track = (p: Promise<unknown>, errors: any[] = []): { state: string } => {
    const call = { state: 'pending' }
    p.then(() => { call.state = 'served' }, (err: any) => { errors.push(err); call.state = err.code ?? err.name })
    return call
  }

  it(`serves ${HANDLER_LIMITS.perConnection} requests at once across protocols and answers the rest 'busy'; then serves again`, async () => {
    maxRunning = 0
    const errors: any[] = []
    const calls = Array.from({ length: 45 }, (_, i) => track(client.request(server.id, ['/flood/a', '/flood/b', '/flood/c'][i % 3], 'hold'), errors))
    await expect.poll(() => held.length, { timeout: 20_000 }).toBe(HANDLER_LIMITS.perConnection)
    // the refused ones are answered at once, while the others are held
    await expect.poll(() => calls.filter(c => c.state === 'busy').length, { timeout: 20_000 }).toBe(45 - HANDLER_LIMITS.perConnection)
    expect(calls.filter(c => c.state === 'pending')).toHaveLength(HANDLER_LIMITS.perConnection)
    expect(errors[0]).toMatchObject({ name: 'RemoteError', code: 'busy', peerId: server.id })
    expect(maxRunning).toBe(HANDLER_LIMITS.perConnection)

    // another peer, on its own connection, is served meanwhile
    const other = await createPeer({ relays: [relay.addresses[0]], identity: 'memory', relayIceServers: false, rtcConfiguration: { iceTransportPolicy: 'relay' } })
    ;(other as any).parts.links.stop()
    peers.push(other)
    expect(new TextDecoder().decode(await other.request(server.id, '/flood/a', 'hello'))).toBe('/flood/a 5')

    release()
    await expect.poll(() => calls.filter(c => c.state === 'served').length).toBe(HANDLER_LIMITS.perConnection)
    expect(new TextDecoder().decode(await client.request(server.id, '/flood/b', 'again'))).toBe('/flood/b 5')
  }, 60_000)

  it('counts streams and requests together, and resets the streams over the limit', async () => {
    maxRunning = 0
    const requests = Array.from({ length: 20 }, () => track(client.request(server.id, '/flood/a', 'hold')))
    await expect.poll(() => held.length, { timeout: 20_000 }).toBe(20)
    const streams = await Promise.all(Array.from({ length: 20 }, async () => await client.openStream(server.id, '/flood/stream')))
    try {
      await expect.poll(() => running, { timeout: 20_000 }).toBe(HANDLER_LIMITS.perConnection)
      // a refused stream is reset: its opener's reads fail with libp2p's StreamResetError; the others stay open
      const reads = await Promise.all(streams.map(async s => await Promise.race([
        s.readable.getReader().read().then(() => 'ended', (err: any) => err.name),
        new Promise(resolve => setTimeout(() => resolve('open'), 3_000))
      ])))
      expect(reads.filter(r => r === 'StreamResetError')).toHaveLength(40 - HANDLER_LIMITS.perConnection)
      expect(reads.filter(r => r === 'open')).toHaveLength(HANDLER_LIMITS.perConnection - 20)
      expect(maxRunning).toBe(HANDLER_LIMITS.perConnection)
    } finally {
      release()
      for (const s of streams) s.abort()
    }
    await expect.poll(() => requests.every(r => r.state === 'served')).toBe(true)
  }, 60_000)

  it('keeps what a handler threw to itself: the caller gets handler-failed, not the message', async () => {
    const err = await client.request(server.id, '/flood/c', 'throw').catch(err => err)
    expect(err).toMatchObject({ name: 'RemoteError', code: 'handler-failed', protocol: '/flood/c' })
    expect(err.message).not.toContain('secret')
    expect(err.message).not.toContain('/home/alice')
  })

  it('answers a request over the handler\'s maxRequestSize too-large, without reading it', async () => {
    await server.handle('/flood/small', () => 'ok', { maxRequestSize: 1024 })
    expect(await client.request(server.id, '/flood/small', new Uint8Array(2048)).catch(err => err)).toMatchObject({ name: 'RemoteError', code: 'too-large' })
    expect(new TextDecoder().decode(await client.request(server.id, '/flood/small', new Uint8Array(10)))).toBe('ok')
  })

  it('closes an incoming stream that sends nothing once its idleTimeout has passed', async () => {
    const stream = await client.openStream(server.id, '/flood/idle')
    expect(await stream.readable.getReader().read().then(() => 'ended', (err: any) => err.name)).toBe('StreamResetError')
  })

  it(`buffers at most ${HANDLER_LIMITS.perConnection} requests of a connection, whatever it sends on how many protocols`, async () => {
    const conn = client.libp2p.getConnections(server.libp2p.peerId).find(c => c.status === 'open') as Connection
    // one buffer for every raw request: the client side of this process holds 256 KiB, not 96 times that
    const size = 256 * 1024
    const body = new Uint8Array(size)
    body.set(new TextEncoder().encode('hold'))
    const frame = [varint.encode(body.byteLength), body]
    maxRunning = 0
    const before = heap()
    // 96 requests of 256 KiB on three protocols, all at once, on one connection; libp2p alone would take 32 per protocol
    const calls = Array.from({ length: 96 }, async (_, i) => {
      const stream = await conn.newStream(['/flood/a', '/flood/b', '/flood/c'][i % 3], { runOnLimitedConnection: true })
      for (const part of frame) if (!stream.send(part)) await stream.onDrain()
      const result = RequestResult.decode(await lpStream(stream).read({ signal: AbortSignal.timeout(60_000) }))
      await stream.close().catch(() => {})
      return result.ok ? 'served' : result.code === RequestResult.Code.BUSY ? 'busy' : String(result.code)
    })
    await expect.poll(() => held.length, { timeout: 60_000 }).toBe(HANDLER_LIMITS.perConnection)
    // every refused one has been answered (and its megabyte dropped as it came) while the 32 are held
    await expect.poll(async () => (await Promise.all(calls.map(async c => await Promise.race([c, Promise.resolve('pending')])))).filter(r => r === 'busy').length, { timeout: 60_000 }).toBe(96 - HANDLER_LIMITS.perConnection)
    // and every refused stream is closed at both ends: its bytes are no longer in flight anywhere in this process
    const serverConn = server.libp2p.getConnections(client.libp2p.peerId).find(c => c.status === 'open') as Connection
    await expect.poll(() => serverConn.streams.filter(s => s.protocol.startsWith('/flood/')).length, { timeout: 60_000 }).toBe(HANDLER_LIMITS.perConnection)
    const grown = heap() - before
    console.log(`96 concurrent 256 KiB requests on one connection: ${held.length} held, heap +${(grown / MB).toFixed(1)} MB`)
    release()
    const results = await Promise.all(calls)
    expect(results.filter(r => r === 'served')).toHaveLength(HANDLER_LIMITS.perConnection)
    expect(results.filter(r => r === 'busy')).toHaveLength(96 - HANDLER_LIMITS.perConnection)
    // what the handlers read is bounded by construction: 32 calls at most (maxRunning), each buffering one request
    // and a Yamux window; the refused 64 were never read. The process (both peers and the relay) holds more than
    // the 8 MiB held, as libp2p's received chunks stay views of larger buffers: measured ~1.7 × all 24 MiB sent
    expect(maxRunning).toBeLessThanOrEqual(HANDLER_LIMITS.perConnection)
    expect(grown).toBeLessThan(96 * size * 3)
  }, 120_000)
})
