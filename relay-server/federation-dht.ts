// The federation's Kademlia DHT (libp2p's kad-dht), closed to everyone but the relays given with --peer.
//
// kad-dht in server mode answers anyone who speaks its protocol, adds any peer that does to its routing
// table, stores whatever provider records and values it is sent, and follows the peers named in answers.
// A DHT service gets its parts from libp2p as `components`; this one gets a view of them in which only
// federation members exist, checked by PeerId (which Noise has proved), never by address:
// - registrar: inbound DHT streams from any other peer are reset before the DHT reads a byte, and the
//   DHT hears of no other peer connecting (its topology);
// - connectionManager: the DHT opens streams to members only, so no lookup ever asks anyone else (and
//   no false answer from anyone else can reach it);
// - ping: the routing table pings every new contact before adding it; any other peer fails that check,
//   so the routing table holds members only, whoever named them;
// - datastore: a black hole. The federation only routes (FIND_NODE): no provider record or value is ever
//   stored, whoever sends one.
import { BlackHoleDatastore } from 'datastore-core/black-hole'
import { STREAM_LIMITS } from './limits.ts'
import type { Connection, PeerId, Stream, StreamHandler, Topology } from '@libp2p/interface'

/** The relays' own DHT: not the public Amino DHT, so a federation never mixes with it */
export const FEDERATION_DHT_PROTOCOL = '/peerlane/kad/1.0.0'

/** A peer that is not a relay of the federation tried to use (or be used by) the federation's DHT */
export class NotFederationMemberError extends Error {
  static name = 'NotFederationMemberError'
  readonly peer: string
  constructor (peer: string) {
    super(`${peer} is not a relay of this federation`)
    this.name = 'NotFederationMemberError'
    this.peer = peer
  }
}

/**
 * The Kademlia DHT of a federation (libp2p's `dht` service), loaded only for one: a lone relay answers
 * lookups from its own reservations. `members`: the other relays' PeerIds; `onRefused` is called for
 * each inbound DHT stream reset because it came from anyone else.
 */
export async function federationDHT (members: Set<string>, onRefused?: (peer: PeerId) => void): Promise<(components: any) => unknown> {
  const { kadDHT, passthroughMapper } = await import('@libp2p/kad-dht')
  const dht = kadDHT({
    protocol: FEDERATION_DHT_PROTOCOL,
    clientMode: false,
    peerInfoMapper: passthroughMapper,
    maxInboundStreams: STREAM_LIMITS.dht,
    initialQuerySelfInterval: 5_000
  })
  return (components: any) => dht(membersOnly(components, members, onRefused))
}

/** `components` as the DHT sees them: a network in which only `members` exist (see the file's header) */
export function membersOnly<C extends object> (components: C, members: Set<string>, onRefused?: (peer: PeerId) => void): C {
  const isMember = (peer: unknown): boolean => typeof (peer as PeerId)?.toMultihash === 'function' && members.has(String(peer))
  const refuse = async (peer: unknown): Promise<never> => { throw new NotFederationMemberError(String(peer)) }
  const c = components as any
  const registrar = override(c.registrar, {
    handle: async (protocol: string, handler: StreamHandler, options?: unknown) => c.registrar.handle(protocol, (stream: Stream, connection: Connection) => {
      if (isMember(connection.remotePeer)) return handler(stream, connection)
      onRefused?.(connection.remotePeer)
      stream.abort(new NotFederationMemberError(connection.remotePeer.toString()))
    }, options),
    register: async (protocol: string, topology: Topology, options?: unknown) => c.registrar.register(protocol, {
      ...topology,
      onConnect: (peer: PeerId, connection: Connection) => isMember(peer) ? topology.onConnect?.(peer, connection) : undefined
    }, options)
  })
  const connectionManager = override(c.connectionManager, {
    openStream: async (peer: unknown, ...rest: unknown[]) => isMember(peer) ? c.connectionManager.openStream(peer, ...rest) : refuse(peer),
    openConnection: async (peer: unknown, ...rest: unknown[]) => isMember(peer) ? c.connectionManager.openConnection(peer, ...rest) : refuse(peer)
  })
  const ping = override(c.ping, {
    ping: async (peer: unknown, ...rest: unknown[]) => isMember(peer) ? c.ping.ping(peer, ...rest) : refuse(peer)
  })
  const datastore = new BlackHoleDatastore()
  const parts: Record<string, unknown> = { registrar, connectionManager, ping, datastore }
  return new Proxy(components, {
    get: (target, key) => typeof key === 'string' && key in parts ? parts[key] : Reflect.get(target, key)
  })
}

/** `target` with some methods replaced; every other property read from it (methods bound to it) */
function override<T extends object> (target: T, methods: Record<string, (...args: any[]) => unknown>): T {
  return new Proxy(target, {
    get: (t, key) => {
      if (typeof key === 'string' && key in methods) return methods[key]
      const value = Reflect.get(t, key)
      return typeof value === 'function' ? value.bind(t) : value
    }
  })
}
