// /peerlane/ice/1.0.0 between two real in-process libp2p nodes over WebSockets on 127.0.0.1.
import '../../src/polyfills.ts'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { circuitRelayServer, circuitRelayTransport } from '@libp2p/circuit-relay-v2'
import { identify } from '@libp2p/identify'
import { peerIdFromString } from '@libp2p/peer-id'
import { pbStream } from '@libp2p/utils'
import { webSockets } from '@libp2p/websockets'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'
import { afterEach, describe, expect, it } from 'vitest'
import { IceRequest, IceResponse } from '../../src/pb/ice.ts'
import { handleIce, ICE_PROTOCOL, mayAskIce } from '../ice.ts'
import { iceServersFor } from '../turn.ts'
import type { IceHandlerOptions, IceRefusal } from '../ice.ts'
import type { Libp2p, PeerId } from '@libp2p/interface'

const SECRET = 'north-wind-secret-0123456789'
const nodes: Libp2p[] = []
afterEach(async () => { for (const n of nodes.splice(0)) await n.stop() })

async function node (listen: boolean): Promise<Libp2p> {
  const n = await createLibp2p({
    addresses: { listen: listen ? ['/ip4/127.0.0.1/tcp/0/ws'] : [] },
    transports: [webSockets()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionGater: { denyDialMultiaddr: () => false } // loopback dials are fine in this test
  })
  nodes.push(n)
  return n
}

/** A server running handleIce, a client connected to it */
async function pair (options: Partial<IceHandlerOptions> = {}): Promise<{ server: Libp2p, client: Libp2p, refusals: IceRefusal[] }> {
  const server = await node(true)
  const refusals: IceRefusal[] = []
  await handleIce(server, {
    iceServersFor: (peer: PeerId) => iceServersFor(peer, {
      stun: [{ host: '127.0.0.1', port: 3478 }],
      turnUrls: ['turn:turn.example.com:3478?transport=udp', 'turns:turn.example.com:5349?transport=tcp'],
      turnSecret: SECRET,
      ttlSeconds: 600
    }),
    onRefused: reason => { refusals.push(reason) },
    ...options
  })
  const client = await node(false)
  await client.dial(server.getMultiaddrs()[0])
  return { server, client, refusals }
}

async function ask (client: Libp2p, server: Libp2p): Promise<IceResponse> {
  const signal = AbortSignal.timeout(5_000)
  const stream = await client.dialProtocol(server.peerId, ICE_PROTOCOL, { signal })
  const pb = pbStream(stream)
  await pb.write({}, IceRequest, { signal })
  const response = await pb.read(IceResponse, { signal })
  await stream.close({ signal }).catch(() => {})
  return response
}

describe('/peerlane/ice/1.0.0', () => {
  it('answers a directly connected peer with STUN and TURN urls, its own credentials and their expiry', async () => {
    const { server, client } = await pair()
    const before = Math.floor(Date.now() / 1000)
    const response = await ask(client, server)
    expect(response.servers).toHaveLength(2)
    expect(response.servers[0]).toEqual({ urls: ['stun:127.0.0.1:3478'], username: '', credential: '' })
    const turn = response.servers[1]
    expect(turn.urls).toEqual(['turn:turn.example.com:3478?transport=udp', 'turns:turn.example.com:5349?transport=tcp'])
    const [expiry, peer] = turn.username.split(':')
    expect(peer).toBe(client.peerId.toString()) // credentials name the peer that asked, as the relay authenticated it
    expect(Number(expiry)).toBeGreaterThanOrEqual(before + 600)
    expect(response.expires).toBe(BigInt(expiry))
    expect(turn.credential).toMatch(/^[A-Za-z0-9+/]{27}=$/) // base64 of a 20-byte HMAC-SHA1
  })

  it('refuses (resets) a request past the per-peer rate limit, and counts it', async () => {
    const { server, client, refusals } = await pair({ rate: { perSecond: 0.001, burst: 1 } })
    expect((await ask(client, server)).servers).toHaveLength(2)
    await expect(ask(client, server)).rejects.toThrow()
    expect(refusals).toEqual(['rate'])
    // another peer has its own budget
    const other = await node(false)
    await other.dial(server.getMultiaddrs()[0])
    expect((await ask(other, server)).servers).toHaveLength(2)
  })

  it('refuses when there is nothing to offer (iceServersFor returns undefined)', async () => {
    const { server, client, refusals } = await pair({ iceServersFor: () => undefined })
    await expect(ask(client, server)).rejects.toThrow()
    expect(refusals).toEqual(['unavailable'])
  })

  it('refuses a peer that reaches it through a circuit (a limited connection) without a reservation here', async () => {
    const gater = { denyDialMultiaddr: () => false }
    const relay = await createLibp2p({
      addresses: { listen: ['/ip4/127.0.0.1/tcp/0/ws'] },
      transports: [webSockets()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      connectionGater: gater,
      services: { identify: identify(), relay: circuitRelayServer() }
    })
    nodes.push(relay)
    const relayed = async (listen: string[]): Promise<Libp2p> => {
      const n = await createLibp2p({
        addresses: { listen },
        transports: [webSockets(), circuitRelayTransport()],
        connectionEncrypters: [noise()],
        streamMuxers: [yamux()],
        connectionGater: gater,
        services: { identify: identify() }
      })
      nodes.push(n)
      return n
    }
    // the server listens through the relay (a reservation), so it is reachable at <relay>/p2p-circuit/p2p/<server>
    const relayAddr = relay.getMultiaddrs()[0].toString()
    const server = await relayed([`${relayAddr}/p2p-circuit`])
    const refusals: IceRefusal[] = []
    await handleIce(server, { iceServersFor: peer => iceServersFor(peer, {}), onRefused: r => { refusals.push(r) } })
    await expect.poll(() => server.getMultiaddrs().some(ma => ma.toString().includes('/p2p-circuit')), { timeout: 5_000 }).toBe(true)
    const client = await relayed([])
    const signal = AbortSignal.timeout(5_000)
    const stream = await client.dialProtocol(multiaddr(`${relayAddr}/p2p-circuit/p2p/${server.peerId.toString()}`), ICE_PROTOCOL, { signal, runOnLimitedConnection: true })
    expect(client.getConnections(server.peerId)[0].limits).toBeDefined()
    const pb = pbStream(stream)
    await pb.write({}, IceRequest, { signal }).catch(() => {})
    await expect(pb.read(IceResponse, { signal })).rejects.toThrow()
    expect(refusals).toEqual(['limited'])
  })

  it('answers an empty list (nothing expires) for a relay without STUN or TURN configured', async () => {
    const { server, client } = await pair({ iceServersFor: peer => iceServersFor(peer, {}) })
    expect(await ask(client, server)).toEqual({ servers: [], expires: 0n })
  })
})

describe('mayAskIce', () => {
  const peer = peerIdFromString('12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN')
  const reserved = (has: boolean): any => ({ services: { relay: { reservations: { has: () => has } } } })
  const limits = { bytes: 1n << 17n, seconds: 120 }

  it('lets direct connections ask; through a circuit only peers holding a reservation here', () => {
    expect(mayAskIce({ services: {} } as any, { remotePeer: peer })).toBe(true)
    expect(mayAskIce({ services: {} } as any, { remotePeer: peer, limits })).toBe(false)
    expect(mayAskIce(reserved(false), { remotePeer: peer, limits })).toBe(false)
    expect(mayAskIce(reserved(true), { remotePeer: peer, limits })).toBe(true)
  })
})
