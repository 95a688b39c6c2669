// The federation against peers that are not in it (relay processes, libp2p clients on 127.0.0.0/8):
// - a node speaking the federation's DHT protocol: its streams are reset unread (provider and value floods
//   store nothing), it never enters a relay's routing table, so no lookup asks it and its false answers
//   reach nobody; honest federated find-peer still finds a peer reserved on the other relay;
// - a find-peer flood: answered at most at the requester's rate, the rest reset and counted; too many
//   federation lookups at once are refused (in-process, with a lookup that waits);
// - federation exemptions by PeerId: connections from a member relay's IP (directly or through a trusted
//   proxy's X-Forwarded-For) get no exemption from the connection cap; the member relay itself gets in.
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { circuitRelayServer } from '@libp2p/circuit-relay-v2'
import { identify } from '@libp2p/identify'
import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id'
import { ping } from '@libp2p/ping'
import { pbStream } from '@libp2p/utils'
import { webSockets } from '@libp2p/websockets'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'
import { FIND_PEER_PROTOCOL, FindPeerRequest, FindPeerResponse } from 'peerlane/shared'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { FIND_PEER_RATE_PER_PEER, handleFindPeer } from '../federation.ts'
import { FEDERATION_DHT_PROTOCOL } from '../federation-dht.ts'
import { loadOrCreateKey } from '../key-file.ts'
import { createLogger } from '../log.ts'
import { freePort } from './free-port.ts'
import { asAttacker, reservingClient } from './hostile.ts'
import { Message } from './pb/kad.ts'
import { listening, runRelay, until } from './relay-process.ts'
import type { RelayProcess } from './relay-process.ts'
import type { Libp2p } from '@libp2p/interface'

/** A relay process to be: its key file and port picked first, so other relays can be given its address */
interface Planned { id: string, addr: string, args: string[], addrFile: string }
interface Running { relay: RelayProcess, http: string, planned: Planned }

async function plan (dir: string, name: string, host = '127.0.0.1'): Promise<Planned> {
  const keyFile = join(dir, `${name}.key`)
  const id = peerIdFromPrivateKey((await loadOrCreateKey(keyFile)).key).toString()
  const port = await freePort()
  const addrFile = join(dir, `${name}.addrs.json`)
  return { id, addr: `/ip4/${host}/tcp/${port}/ws/p2p/${id}`, addrFile, args: ['--host', host, '--port', String(port), '--key-file', keyFile, '--http-port', '0', '--addr-file', addrFile] }
}

const processes: RelayProcess[] = []
async function start (planned: Planned, args: string[]): Promise<Running> {
  const relay = runRelay([...planned.args, ...args])
  processes.push(relay)
  const { http } = await listening(relay, planned.addrFile)
  return { relay, http, planned }
}

async function metric (relay: Running, name: string): Promise<number> {
  const text = await (await fetch(`${relay.http}/metrics`)).text()
  return Number(text.split('\n').find(l => l.startsWith(name + ' '))?.split(' ')[1] ?? 0)
}

const rss = async (relay: Running): Promise<number> => Number(/VmRSS:\s+(\d+) kB/.exec(await readFile(`/proc/${relay.relay.child.pid}/status`, 'utf8'))?.[1]) * 1024

const nodes: Libp2p[] = []
/** A plain libp2p node (as a browser's, or an attacker's) */
async function node (): Promise<Libp2p> {
  const n = await createLibp2p({ transports: [webSockets()], connectionEncrypters: [noise()], streamMuxers: [yamux()], services: { identify: identify(), ping: ping() } })
  nodes.push(n)
  return n
}

/** One /peerlane/find-peer/1.0.0 request to `relay`: its answer, or 'reset' if the relay refused it */
async function findPeer (from: Libp2p, relay: string, target: string): Promise<{ status: FindPeerResponse.Status, addrs: string[] } | 'reset'> {
  const signal = AbortSignal.timeout(10_000)
  try {
    const stream = await from.dialProtocol(multiaddr(relay), FIND_PEER_PROTOCOL, { signal })
    const pb = pbStream(stream)
    await pb.write({ peer: peerIdFromString(target).toMultihash().bytes }, FindPeerRequest, { signal })
    const answer = await pb.read(FindPeerResponse, { signal })
    await stream.close({ signal }).catch(() => {})
    return { status: answer.status, addrs: answer.addrs.map(b => multiaddr(b).toString()) }
  } catch {
    return 'reset'
  }
}

const randomPeerId = async (): Promise<string> => peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()

afterAll(async () => {
  await Promise.all(nodes.splice(0).map(async n => n.stop()))
  for (const p of processes.splice(0)) {
    p.child.kill('SIGTERM')
    await p.exit
  }
})

describe('a federation against a node that speaks its DHT but is not in it', () => {
  let dir: string
  let x: Running
  let y: Running
  let reserved: Libp2p
  let honest: Libp2p

  /** What relay X answers an honest client for the peer reserved on Y, once the federation's DHT is up */
  const honestLookup = async (): Promise<string[]> => await until(async () => {
    const answer = await findPeer(honest, x.planned.addr, reserved.peerId.toString())
    return answer !== 'reset' && answer.status === FindPeerResponse.Status.OK ? answer.addrs : undefined
  }, 'a federated find-peer answer', 30_000)

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'peerlane-hostile-fed-'))
    const [px, py] = [await plan(dir, 'x'), await plan(dir, 'y')]
    ;[x, y] = await Promise.all([start(px, ['--peer', py.addr]), start(py, ['--peer', px.addr])])
    reserved = await reservingClient(y.planned.addr)
    nodes.push(reserved)
    honest = await node()
  }, 60_000)

  afterAll(async () => { if (dir != null) await rm(dir, { recursive: true, force: true }) })

  it('resets its DHT streams unread, keeps it out of the routing table, never asks it, and still finds a peer on the other relay', async () => {
    // before any attack: the federation works
    const before = await honestLookup()
    expect(before.length).toBeGreaterThan(0)
    const rssBefore = await rss(x)

    // the attacker answers every DHT request with a false location for the reserved peer (on X itself)
    // and announces the DHT protocol (identify), as a relay of the federation would
    const attacker = await node()
    let asked = 0
    const target = reserved.peerId
    await attacker.handle(FEDERATION_DHT_PROTOCOL, async stream => {
      const messages = pbStream(stream).pb(Message)
      try {
        for (;;) {
          const request = await messages.read()
          asked++
          await messages.write({
            type: request.type,
            key: request.key,
            clusterLevelRaw: 0,
            closer: [{ id: target.toMultihash().bytes, addrs: [multiaddr(`${x.planned.addr}/p2p-circuit`).bytes], connection: 0 }],
            providers: []
          })
        }
      } catch {}
    })
    await asAttacker(async () => attacker.dial(multiaddr(x.planned.addr)))

    // provider records, values and lookups, on 200 streams: every one reset before the DHT reads it
    const floods = 200
    let answered = 0
    const key = (): Uint8Array => crypto.getRandomValues(new Uint8Array(34)).fill(0x12, 0, 1).fill(0x20, 1, 2) // a sha2-256 multihash
    for (let i = 0; i < floods; i += 8) {
      await Promise.all(Array.from({ length: 8 }, async (_, j) => {
        const type = [Message.MessageType.ADD_PROVIDER, Message.MessageType.PUT_VALUE, Message.MessageType.FIND_NODE, Message.MessageType.GET_PROVIDERS][(i + j) % 4]
        try {
          const stream = await attacker.dialProtocol(multiaddr(x.planned.addr), FEDERATION_DHT_PROTOCOL, { signal: AbortSignal.timeout(5_000) })
          const messages = pbStream(stream).pb(Message)
          await messages.write({
            type,
            key: key(),
            clusterLevelRaw: 0,
            record: type === Message.MessageType.PUT_VALUE ? { key: key(), value: new Uint8Array(1024), timeReceived: new Date().toISOString() } : undefined,
            closer: [],
            providers: [{ id: attacker.peerId.toMultihash().bytes, addrs: [multiaddr('/ip4/127.0.0.2/tcp/1/ws').bytes], connection: 0 }]
          }, { signal: AbortSignal.timeout(5_000) })
          await messages.read({ signal: AbortSignal.timeout(5_000) })
          answered++
        } catch {}
      }))
    }
    expect(answered).toBe(0)
    expect(await metric(x, 'peerlane_relay_dht_refused_total')).toBe(floods)
    // the DHT handled none of them: its own inbound counters never saw ADD_PROVIDER (2) or PUT_VALUE (0)
    const text = await (await fetch(`${x.http}/metrics`)).text()
    expect(text).not.toMatch(/libp2p_kad_dht_inbound_rpc_requests_total\{[^}]*="?(0|2)"?[^}]*\} [1-9]/)

    // lookups after the attacker connected: still the truth, from Y only
    const after = await honestLookup()
    expect(after.sort()).toEqual(before.sort())
    for (const addr of after) expect(addr).toContain(`/p2p/${y.planned.id}/p2p-circuit`)
    expect(after.some(addr => addr.includes(`/p2p/${x.planned.id}/p2p-circuit`))).toBe(false)
    // X's routing table holds Y only, and X never sent the attacker a request
    expect(await metric(x, 'libp2p_kad_dht_routing_table_size')).toBe(1)
    expect(asked).toBe(0)
    expect((await rss(x)) - rssBefore).toBeLessThan(48 * 1024 * 1024)
  }, 90_000)

  it('answers a find-peer flood at most at the requester\'s rate, resets the rest, and still answers an honest client', async () => {
    const flooder = await node()
    const targets = await Promise.all(Array.from({ length: 100 }, randomPeerId))
    const started = performance.now()
    const answers: Array<Awaited<ReturnType<typeof findPeer>>> = []
    // 4 at a time: the relay's limit of find-peer streams per connection
    for (let i = 0; i < targets.length; i += 4) answers.push(...await Promise.all(targets.slice(i, i + 4).map(async t => await asAttacker(async () => await findPeer(flooder, x.planned.addr, t)))))
    const seconds = (performance.now() - started) / 1000
    const answeredCount = answers.filter(a => a !== 'reset').length
    console.log(`find-peer flood: ${targets.length} requests in ${seconds.toFixed(1)} s, ${answeredCount} answered`)
    expect(answeredCount).toBeGreaterThanOrEqual(FIND_PEER_RATE_PER_PEER.burst)
    expect(answeredCount).toBeLessThanOrEqual(FIND_PEER_RATE_PER_PEER.burst + Math.ceil(FIND_PEER_RATE_PER_PEER.perSecond * seconds) + 1)
    expect(await metric(x, 'peerlane_relay_find_peer_refused_total{reason="rate"}')).toBe(targets.length - answeredCount)
    // the honest client has a bucket of its own
    const answer = await findPeer(honest, x.planned.addr, reserved.peerId.toString())
    expect(answer !== 'reset' && answer.status).toBe(FindPeerResponse.Status.OK)
  }, 90_000)
})

describe('find-peer lookups through the federation at once', () => {
  it('refuses past maxLookups (busy) while they run, and answers again once they finished', async () => {
    let release: () => void = () => {}
    const released = new Promise<void>(resolve => { release = resolve })
    let lookups = 0
    const refusals: string[] = []
    // a relay whose peer routing (the federation's DHT, here a stand-in) waits until released
    const relay = await createLibp2p({
      addresses: { listen: ['/ip4/127.0.0.1/tcp/0/ws'] },
      transports: [webSockets()], connectionEncrypters: [noise()], streamMuxers: [yamux()],
      peerRouters: [() => ({ findPeer: async () => { lookups++; await released; throw new Error('not found') }, getClosestPeers: async function * () {} })],
      services: { identify: identify(), relay: circuitRelayServer() }
    })
    nodes.push(relay)
    await handleFindPeer(relay as any, new Set([await randomPeerId()]), createLogger('silent'), { maxLookups: 2, onRefused: reason => { refusals.push(reason) } })
    const addr = relay.getMultiaddrs()[0].toString()
    const askers = await Promise.all([node(), node()])
    const pending = askers.flatMap(a => [findPeer(a, addr, '12D3KooWRBy97UB99e3J6hiPesre1MZeuNQvfan4gBziswrRJsNK'), findPeer(a, addr, '12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN')])
    await until(() => refusals.length === 2 ? true : undefined, 'two refusals')
    expect(refusals).toEqual(['busy', 'busy'])
    expect(lookups).toBe(2)
    release()
    const answers = await Promise.all(pending)
    expect(answers.filter(a => a === 'reset')).toHaveLength(2)
    expect(answers.filter(a => a !== 'reset').map(a => a !== 'reset' && a.status)).toEqual([FindPeerResponse.Status.NOT_FOUND, FindPeerResponse.Status.NOT_FOUND])
    // nothing runs now: the next request is looked up again
    expect(await findPeer(askers[0], addr, await randomPeerId())).toEqual({ status: FindPeerResponse.Status.NOT_FOUND, addrs: [] })
    expect(lookups).toBe(3)
  }, 30_000)
})

describe('federation exemptions are by PeerId, not by IP', () => {
  it('refuses connections from a member relay\'s IP (directly and through X-Forwarded-For) when full, and lets the member itself in', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'peerlane-hostile-fed-ip-'))
    try {
      // Y, the member, listens on 127.0.0.3: that address is X's --peer for it
      const [px, py] = [await plan(dir, 'x'), await plan(dir, 'y', '127.0.0.3')]
      const x = await start(px, ['--peer', py.addr, '--max-connections', '4', '--trust-proxy', '127.0.0.1'])
      // admitted: connected and answering a ping (Noise settles the muxer early, so a client's dial resolves
      // before the relay's gater has had its say: a refused connection is aborted just after)
      const dial = async (n: Libp2p): Promise<boolean> => {
        try {
          await n.dial(multiaddr(px.addr), { signal: AbortSignal.timeout(10_000) })
          await (n.services as any).ping.ping(peerIdFromString(px.id), { signal: AbortSignal.timeout(10_000) })
          return true
        } catch {
          return false
        }
      }
      // X fills up with four ordinary clients
      const fillers = await Promise.all(Array.from({ length: 4 }, node))
      expect(await Promise.all(fillers.map(async f => await asAttacker(async () => await dial(f))))).toEqual([true, true, true, true])
      // from the member's own IP, and claiming it through the trusted proxy: refused like anyone else
      expect(await asAttacker(async () => await dial(await node()), { localAddress: '127.0.0.3' })).toBe(false)
      expect(await asAttacker(async () => await dial(await node()), { localAddress: '127.0.0.1', headers: { 'X-Forwarded-For': '127.0.0.3' } })).toBe(false)
      expect(await metric(x, 'peerlane_relay_connections_refused_total{reason="full"}')).toBeGreaterThanOrEqual(2)
      // the member relay connects although X is full: it proved its PeerId
      await start(py, ['--peer', px.addr])
      await expect.poll(async () => await metric(x, 'peerlane_relay_federation_peers{state="connected"}'), { timeout: 20_000 }).toBe(1)
      // and once a client leaves, an honest one gets its place
      await fillers[0].stop()
      await expect.poll(async () => await dial(await node()), { timeout: 10_000 }).toBe(true)
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  }, 90_000)
})
