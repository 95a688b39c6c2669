// The delay proxy (bench/delay-proxy.ts) and the relay round trips of Peerlane's critical paths in Node, counted
// from the wire: createPeer → reservation, and connect → usable / → direct between two Node peers (WebRTC from
// node-datachannel), each through a proxy that puts DELAY ms of round trip in front of an in-process relay.
// Runs on the built bundles (npm run build first). Counts, not times: a level is a sequential half trip through the proxy (bench/README.md › distance).
import { createConnection, createServer } from 'node:net'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { afterEach, describe, expect, it } from 'vitest'
import { describeLevels, levels, roundTrips, startDelayProxy } from './delay-proxy.ts'
import type { DelayProxy } from './delay-proxy.ts'
import type { Relay } from '../relay-server/index.ts'
import type { Peer } from '../src/index.ts'
import type { AddressInfo, Server, Socket } from 'node:net'

// the built bundles (npm run build), which carry the dependency patches (build/patches/), as users run them
const { createPeer } = await import('../dist/node/index.mjs' as string) as typeof import('../src/index.ts')
const { createRelay } = await import('../relay-server/dist/index.mjs' as string) as typeof import('../relay-server/index.ts')

const DELAY = 60
const cleanups: Array<() => Promise<unknown>> = []
afterEach(async () => { for (const c of cleanups.splice(0).reverse()) await c().catch(() => {}) })
const clock = (): number => performance.timeOrigin + performance.now()

async function echoServer (): Promise<number> {
  const server: Server = createServer(socket => { socket.on('data', d => socket.write(d)) })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  cleanups.push(async () => await new Promise(resolve => server.close(resolve)))
  return (server.address() as AddressInfo).port
}

async function proxied (port: number, rttMs = DELAY): Promise<DelayProxy> {
  const proxy = await startDelayProxy({ host: '127.0.0.1', port, rttMs })
  cleanups.push(proxy.close)
  return proxy
}

describe('delay proxy', () => {
  it('delivers in order, and counts sequential exchanges as levels and pipelined ones as one', async () => {
    const proxy = await proxied(await echoServer())
    const socket: Socket = createConnection({ host: '127.0.0.1', port: proxy.port })
    cleanups.push(async () => socket.destroy())
    await new Promise(resolve => socket.once('connect', resolve))
    let received = ''
    socket.on('data', d => { received += d.toString() })
    const echoed = async (text: string): Promise<void> => { while (!received.endsWith(text)) await new Promise(resolve => setTimeout(resolve, 2)) }
    const from = clock()
    for (const text of ['a', 'b', 'c']) { socket.write(text); await echoed(text) } // three round trips in sequence
    expect(roundTrips(proxy.flights(), from)).toEqual({ halfTrips: 6, roundTrips: 3 })
    const next = clock()
    for (let i = 0; i < 50; i++) socket.write(String(i % 10)) // pipelined: one round trip
    await echoed('0123456789'.repeat(5))
    expect(received.slice(3)).toBe('0123456789'.repeat(5))
    expect(roundTrips(proxy.flights(), next)).toEqual({ halfTrips: 2, roundTrips: 1 })
  })
})

describe('relay round trips in Node (through a delay proxy)', () => {
  async function relayBehindProxy (): Promise<{ relay: Relay, proxy: DelayProxy, address: string }> {
    const relay = createRelay({ port: 0, stunPort: 0, privateKey: await generateKeyPair('Ed25519'), logLevel: 'silent' })
    cleanups.push(async () => await relay.close())
    await relay.ready
    const ws = relay.addresses.find(a => a.includes('/ws/')) as string
    const port = Number(/\/tcp\/(\d+)\//.exec(ws)?.[1])
    const proxy = await proxied(port)
    return { relay, proxy, address: ws.replace(`/tcp/${port}/`, `/tcp/${proxy.port}/`) }
  }
  const peer = async (address: string): Promise<Peer> => {
    const p = await createPeer({ relays: [address], identity: 'memory', relayIceServers: false })
    cleanups.push(async () => await p.stop())
    return p
  }

  it('createPeer → reservation', async () => {
    const { proxy, address } = await relayBehindProxy()
    const from = clock()
    await peer(address)
    const to = clock()
    const counted = roundTrips(proxy.flights(), from, to)
    console.log(`createPeer: ${counted.roundTrips} relay round trips\n${describeLevels(levels(proxy.flights(), from, to))}`)
    expect(counted.roundTrips).toBeGreaterThan(0)
  })

  it('connect → usable, and connect → direct (allowRelayed: false)', async () => {
    const { proxy, address } = await relayBehindProxy()
    const [a, b, c] = [await peer(address), await peer(address), await peer(address)]
    await new Promise(resolve => setTimeout(resolve, 2 * DELAY)) // identify and its pushes settle
    let from = clock()
    expect((await b.connect(a.id)).direct).toBe(false)
    let to = clock()
    const usable = roundTrips(proxy.flights(), from, to)
    console.log(`connect → usable: ${usable.roundTrips} relay round trips\n${describeLevels(levels(proxy.flights(), from, to))}`)
    from = clock()
    expect(await c.connect(a.id, { allowRelayed: false })).toMatchObject({ direct: true, transport: 'webrtc' })
    to = clock()
    const direct = roundTrips(proxy.flights(), from, to)
    console.log(`connect → direct: ${direct.roundTrips} relay round trips\n${describeLevels(levels(proxy.flights(), from, to))}`)
    expect(direct.roundTrips).toBeGreaterThan(usable.roundTrips)
  })
})
