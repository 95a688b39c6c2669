// Federation, the relay side. Relays given each other with --peer:
// - stay connected (dialled at start, redialled while down; KEEP_ALIVE-tagged so libp2p reconnects too);
// - carry rooms between them: their GossipSub peers are `directPeers` of each other, so a room message
//   reaches every relay whose browsers are in the room;
// - find each other's peers with libp2p peer routing: a Kademlia DHT among the relays only (its own
//   protocol id, server mode; browsers do not speak it), whose FIND_NODE answers come from each relay's
//   peer store, where identify put the addresses of its own peers;
// - answer browsers' /peerlane/find-peer/1.0.0 lookups (see src/routing.ts for why that protocol exists).
import { KEEP_ALIVE } from '@libp2p/interface'
import { peerIdFromMultihash, peerIdFromString } from '@libp2p/peer-id'
import { pbStream } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import { WebSockets, WebSocketsSecure } from '@multiformats/multiaddr-matcher'
import * as Digest from 'multiformats/hashes/digest'
import { FIND_PEER_PROTOCOL, FindPeerRequest, FindPeerResponse, lastPeerId, relayPart } from 'peerlane/shared'
import { STREAM_LIMITS } from './limits.ts'
import type { RelayLogger } from './log.ts'
import type { CircuitRelayService } from '@libp2p/circuit-relay-v2'
import type { Libp2p, PeerId } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'

export { FIND_PEER_PROTOCOL }
/** The relays' own DHT: not the public Amino DHT, so a federation never mixes with it */
export const FEDERATION_DHT_PROTOCOL = '/peerlane/kad/1.0.0'
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

/**
 * The Kademlia DHT of a federation (libp2p's `dht` service), loaded only for one: a lone relay answers
 * lookups from its own reservations
 */
export async function federationDHT (): Promise<any> {
  const { kadDHT, passthroughMapper } = await import('@libp2p/kad-dht')
  return kadDHT({
    protocol: FEDERATION_DHT_PROTOCOL,
    clientMode: false,
    peerInfoMapper: passthroughMapper,
    maxInboundStreams: STREAM_LIMITS.dht,
    initialQuerySelfInterval: 5_000
  })
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

/**
 * Answers /peerlane/find-peer/1.0.0: the circuit addresses (WebRTC and plain) through the relays of the
 * federation that hold a reservation for the peer. Only relay addresses the relays announce themselves
 * are returned, never addresses a browser claims, so a browser cannot be sent to an arbitrary host.
 */
export async function handleFindPeer (node: FederationNode, federation: Set<string>, log: RelayLogger): Promise<void> {
  await node.handle(FIND_PEER_PROTOCOL, async (stream, connection) => {
    const signal = AbortSignal.timeout(LOOKUP_TIMEOUT + 2_000)
    const pb = pbStream(stream)
    let response: FindPeerResponse
    try {
      const request = await pb.read(FindPeerRequest, { signal })
      let target: PeerId
      try {
        target = peerIdFromMultihash(Digest.decode(request.peer))
      } catch {
        await pb.write({ status: FindPeerResponse.Status.BAD_REQUEST, addrs: [] }, FindPeerResponse, { signal })
        return
      }
      const addrs = await findPeerAddrs(node, federation, target)
      log.debug('find-peer', { from: connection.remotePeer.toString(), peer: target.toString(), found: addrs.length })
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
