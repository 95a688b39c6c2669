// What the hostile-*.test.ts files share: a relay process to attack, plain libp2p clients (honest ones and
// attackers, from any loopback address: see asAttacker), and the figures they assert (RSS, metrics).
import 'peerlane/shared' // first: Node 20's polyfills (WebSocket, Promise.withResolvers), before libp2p is loaded
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { circuitRelayTransport } from '@libp2p/circuit-relay-v2'
import { gossipsub } from '@libp2p/gossipsub'
import { identify } from '@libp2p/identify'
import { webSockets } from '@libp2p/websockets'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'
import { listening, runRelay } from './relay-process.ts'
import type { RelayProcess } from './relay-process.ts'
import type { GossipSub, GossipsubOpts } from '@libp2p/gossipsub'
import type { Connection, Libp2p } from '@libp2p/interface'

/** A relay process started for an attack, and what the tests read from it */
export interface AttackedRelay {
  process: RelayProcess
  /** its first multiaddr, with /p2p/<id> */
  address: string
  /** the base URL of its HTTP server */
  http: string
  /** its resident memory now, in bytes */
  rss: () => Promise<number>
  /** the value of one line of /metrics (`name{labels}`), 0 when absent */
  metric: (line: string) => Promise<number>
  /** what /health says */
  health: () => Promise<{ connections: number, reservations: number, rooms: number }>
  stop: () => Promise<void>
}

/** Starts `peerlane-relay` with `args` (on free ports, its own key) and waits until it listens */
export async function attackedRelay (args: string[] = []): Promise<AttackedRelay> {
  const dir = await mkdtemp(join(tmpdir(), 'peerlane-hostile-'))
  const addrFile = join(dir, 'addrs.json')
  const relay = runRelay(['--port', '0', '--http-port', '0', '--key-file', join(dir, 'key'), '--addr-file', addrFile, ...args])
  const { addrs, http } = await listening(relay, addrFile)
  const metrics = async (): Promise<string> => await (await fetch(`${http}/metrics`)).text()
  return {
    process: relay,
    address: addrs[0],
    http,
    rss: async () => Number(/VmRSS:\s+(\d+) kB/.exec(await readFile(`/proc/${relay.child.pid}/status`, 'utf8'))?.[1]) * 1024,
    metric: async line => Number((await metrics()).split('\n').find(l => l.startsWith(line + ' '))?.slice(line.length + 1) ?? 0),
    health: async () => await (await fetch(`${http}/health`)).json(),
    stop: async () => {
      relay.child.kill('SIGKILL')
      await relay.exit
      await rm(dir, { recursive: true, force: true })
    }
  }
}

/** Options of {@link client} */
export interface ClientOptions {
  /** hold a reservation on the relay (as every browser does) */
  reserve?: boolean
  /** run GossipSub, with these options */
  pubsub?: Partial<GossipsubOpts>
  /** accept this many inbound relayed connections at once (libp2p's defaults refuse a flood of them early) */
  inbound?: number
}

/** A plain libp2p client connected to the relay: WebSockets, circuits, identify, and GossipSub if asked */
export async function client (relayAddress: string, options: ClientOptions = {}): Promise<Libp2p<{ identify: unknown, pubsub: GossipSub }>> {
  const inbound = options.inbound ?? 10
  const node = await createLibp2p({
    addresses: { listen: options.reserve === true ? [`${relayAddress}/p2p-circuit`] : [] },
    transports: [webSockets(), circuitRelayTransport()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionManager: { maxIncomingPendingConnections: inbound, inboundConnectionThreshold: inbound },
    services: {
      identify: identify(),
      ...(options.pubsub == null ? {} : { pubsub: gossipsub({ allowPublishToZeroTopicPeers: true, ...options.pubsub }) })
    }
  }) as Libp2p<{ identify: unknown, pubsub: GossipSub }>
  if (options.reserve !== true) await node.dial(multiaddr(relayAddress), { signal: AbortSignal.timeout(10_000) })
  return node
}

/** A relayed circuit from `from` to `to` through the relay */
export async function dialCircuit (from: Libp2p, relayAddress: string, to: Libp2p): Promise<Connection> {
  return await from.dial(multiaddr(`${relayAddress}/p2p-circuit/p2p/${to.peerId.toString()}`), { signal: AbortSignal.timeout(10_000) })
}

/** How many of `results` were fulfilled */
export function fulfilled (results: Array<PromiseSettledResult<unknown>>): number {
  return results.filter(r => r.status === 'fulfilled').length
}

/** Stops every node given, whatever happens to each */
export async function stopAll (nodes: Array<Libp2p | undefined>): Promise<void> {
  await Promise.all(nodes.map(async n => { try { await n?.stop() } catch {} }))
}
