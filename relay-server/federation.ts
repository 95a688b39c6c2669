// Federation, the relay side. Relays given each other with --peer:
// - stay connected (dialled at start, redialled while down; KEEP_ALIVE-tagged so libp2p reconnects too);
// - carry rooms between them: their GossipSub peers are `directPeers` of each other, so a room message
//   reaches every relay whose browsers are in the room;
// - find each other's peers with libp2p peer routing: a Kademlia DHT among the relays only (its own
//   protocol id, server mode, closed to every other PeerId: federation-dht.ts), whose FIND_NODE answers
//   come from each relay's peer store, where identify put the addresses of its own peers;
// - answer browsers' /peerlane/find-peer/1.0.0 lookups (see src/routing.ts for why that protocol exists),
//   a bounded number per requester and at once, since each may cost a lookup through the federation.
import { KEEP_ALIVE } from '@libp2p/interface'
import { peerIdFromMultihash, peerIdFromString } from '@libp2p/peer-id'
import { pbStream } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import { WebSockets, WebSocketsSecure } from '@multiformats/multiaddr-matcher'
import * as Digest from 'multiformats/hashes/digest'
import { FIND_PEER_PROTOCOL, FindPeerRequest, FindPeerResponse, lastPeerId, relayPart } from 'peerlane/shared'
import { STREAM_LIMITS } from './limits.ts'
import { RateLimiter } from './rate-limit.ts'
import type { RelayLogger } from './log.ts'
import type { RateLimit } from './rate-limit.ts'
import type { CircuitRelayService } from '@libp2p/circuit-relay-v2'
import type { Libp2p, PeerId } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'

export { FIND_PEER_PROTOCOL }
/** How often relays that are down are redialled */
const REDIAL_MS = 5_000
/** How long a lookup through the federation may take */
const LOOKUP_TIMEOUT = 6_000

type FederationNode = Libp2p<{ relay: CircuitRelayService }>

/** Another relay of the federation: its PeerId and the `--peer` addresses given for it */
export interface FederationPeer { id: PeerId, addrs: Multiaddr[] }

/** `--peer` multiaddrs grouped by relay PeerId */
export function federationPeers (peers: string[]): FederationPeer[] {
  const byId = new Map<string, FederationPeer>()
  for (const value of peers) {
    const ma = multiaddr(value)
    const id = lastPeerId(ma) as string
    const entry = byId.get(id) ?? { id: peerIdFromString(id), addrs: [] }
    entry.addrs.push(ma)
    byId.set(id, entry)
  }
  return [...byId.values()]
}

/** Keeps the federation connected; returns a stop function */
export async function connectFederation (node: Libp2p, peers: FederationPeer[], log: RelayLogger): Promise<() => void> {
  for (const peer of peers) {
    await node.peerStore.merge(peer.id, { multiaddrs: peer.addrs, tags: { [KEEP_ALIVE]: { value: 1 } } })
  }
  const up = new Set<string>()
  const dialing = new Set<string>()
  const redial = (): void => {
    for (const peer of peers) {
      const id = peer.id.toString()
      if (dialing.has(id) || node.getConnections(peer.id).length > 0) continue
      dialing.add(id)
      node.dial(peer.id, { signal: AbortSignal.timeout(10_000) }).then(() => {
        if (!up.has(id)) log.info('federation:connected', { peer: id })
        up.add(id)
      }, (err: Error) => {
        log.debug('federation:dial-failed', { peer: id, error: err.message })
      }).finally(() => { dialing.delete(id) })
    }
  }
  const onDisconnect = (evt: CustomEvent<PeerId>): void => {
    const id = evt.detail.toString()
    if (up.delete(id)) log.warn('federation:disconnected', { peer: id })
  }
  node.addEventListener('peer:disconnect', onDisconnect)
  redial()
  const timer = setInterval(redial, REDIAL_MS)
  timer.unref()
  return () => {
    clearInterval(timer)
    node.removeEventListener('peer:disconnect', onDisconnect)
  }
}

/** Find-peer requests per requesting peer: a browser asks only for peers its own relays do not hold */
export const FIND_PEER_RATE_PER_PEER: Readonly<RateLimit> = Object.freeze({ perSecond: 1, burst: 16 })
/** Lookups through the federation's DHT at once, all requesters together (each may take up to 6 s) */
export const MAX_FEDERATION_LOOKUPS = 32
/** A FindPeerRequest is a PeerId's multihash (~40 bytes): anything much longer is not one */
const MAX_REQUEST_BYTES = 128

/** Why a find-peer request got no answer: its requester was over its rate, or too many lookups were running */
export type FindPeerRefusal = 'rate' | 'busy'

/** A find-peer request was refused; its stream is reset with this error */
export class FindPeerRefusedError extends Error {
  static name = 'FindPeerRefusedError'
  readonly reason: FindPeerRefusal
  constructor (reason: FindPeerRefusal) {
    super(`find-peer refused: ${reason}`)
    this.name = 'FindPeerRefusedError'
    this.reason = reason
  }
}

/** Options of {@link handleFindPeer} */
export interface FindPeerOptions {
  /** requests per requesting peer @default {@link FIND_PEER_RATE_PER_PEER} */
  rate?: RateLimit
  /** lookups through the federation at once @default {@link MAX_FEDERATION_LOOKUPS} */
  maxLookups?: number
  /** called for every refusal, e.g. to count metrics */
  onRefused?: (reason: FindPeerRefusal, peer: PeerId) => void
}

/**
 * Answers /peerlane/find-peer/1.0.0: the circuit addresses (WebRTC and plain) through the relays of the
 * federation that hold a reservation for the peer. Only relay addresses the relays announce themselves
 * are returned, never addresses a browser claims, so a browser cannot be sent to an arbitrary host.
 * A request over its peer's rate, or one that needs the federation while `maxLookups` already run, is
 * reset without an answer (the browser asks its next relay).
 */
export async function handleFindPeer (node: FederationNode, federation: Set<string>, log: RelayLogger, options: FindPeerOptions = {}): Promise<void> {
  const limiter = new RateLimiter(options.rate ?? FIND_PEER_RATE_PER_PEER)
  const maxLookups = options.maxLookups ?? MAX_FEDERATION_LOOKUPS
  let lookups = 0
  await node.handle(FIND_PEER_PROTOCOL, async (stream, connection) => {
    const from = connection.remotePeer
    const refuse = (reason: FindPeerRefusal): never => {
      options.onRefused?.(reason, from)
      log.debug('find-peer:refused', { from: from.toString(), reason })
      throw new FindPeerRefusedError(reason)
    }
    const signal = AbortSignal.timeout(LOOKUP_TIMEOUT + 2_000)
    const pb = pbStream(stream, { maxDataLength: MAX_REQUEST_BYTES })
    let response: FindPeerResponse
    try {
      // counted before reading: a stream opened is a request, whatever it sends
      if (!limiter.take(from.toString())) refuse('rate')
      const request = await pb.read(FindPeerRequest, { signal })
      let target: PeerId
      try {
        target = peerIdFromMultihash(Digest.decode(request.peer))
      } catch {
        await pb.write({ status: FindPeerResponse.Status.BAD_REQUEST, addrs: [] }, FindPeerResponse, { signal })
        return
      }
      const viaFederation = federation.size > 0 && !node.services.relay.reservations.has(target)
      if (viaFederation && lookups >= maxLookups) refuse('busy')
      if (viaFederation) lookups++
      let addrs: Multiaddr[]
      try {
        addrs = await findPeerAddrs(node, federation, target)
      } finally {
        if (viaFederation) lookups--
      }
      log.debug('find-peer', { from: from.toString(), peer: target.toString(), found: addrs.length })
      response = addrs.length === 0
        ? { status: FindPeerResponse.Status.NOT_FOUND, addrs: [] }
        : { status: FindPeerResponse.Status.OK, addrs: addrs.map(ma => ma.bytes) }
      await pb.write(response, FindPeerResponse, { signal })
      await stream.close({ signal })
    } catch (err: any) {
      stream.abort(err)
    }
  }, { maxInboundStreams: STREAM_LIMITS.findPeer })
}

/** Where `target` is reserved: on this relay, or (through the federation's DHT) on another relay of it */
export async function findPeerAddrs (node: FederationNode, federation: Set<string>, target: PeerId): Promise<Multiaddr[]> {
  let relays: string[] = []
  if (node.services.relay.reservations.has(target)) {
    relays = [node.peerId.toString()]
  } else if (federation.size > 0) {
    try {
      const info = await node.peerRouting.findPeer(target, { signal: AbortSignal.timeout(LOOKUP_TIMEOUT), useCache: false })
      relays = [...new Set(info.multiaddrs.map(ma => relayPart(ma)).flatMap(r => r == null ? [] : [lastPeerId(r) as string]))]
        .filter(id => federation.has(id))
    } catch {
      return []
    }
  }
  const out: Multiaddr[] = []
  for (const relay of relays) {
    for (const addr of await relayAddrs(node, relay)) {
      out.push(multiaddr(`${addr.toString()}/p2p-circuit/webrtc/p2p/${target.toString()}`))
      out.push(multiaddr(`${addr.toString()}/p2p-circuit/p2p/${target.toString()}`))
    }
  }
  return out
}

/** A relay's browser-dialable addresses (ending in /p2p/<id>): our own, or the ones a federation relay announces */
async function relayAddrs (node: Libp2p, relay: string): Promise<Multiaddr[]> {
  const isWs = (ma: Multiaddr): boolean => WebSockets.matches(ma) || WebSocketsSecure.matches(ma)
  if (relay === node.peerId.toString()) return node.getMultiaddrs().filter(isWs)
  try {
    const peer = await node.peerStore.get(peerIdFromString(relay))
    // certified addresses come from the relay's signed peer record (what it announces itself)
    const certified = peer.addresses.filter(a => a.isCertified).map(a => a.multiaddr)
    const addrs = (certified.length > 0 ? certified : peer.addresses.map(a => a.multiaddr)).filter(isWs)
    return addrs.map(ma => lastPeerId(ma) == null ? ma.encapsulate(`/p2p/${relay}`) : ma)
  } catch {
    return []
  }
}
