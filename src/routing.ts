// Federation, the browser side: find a peer that is reserved on another relay of our relays' federation.
//
// Relays of one federation find each other's peers with libp2p peer routing (a Kademlia DHT among the
// relays, see relay-server/federation.ts). A browser does not run that DHT: it would have to dial every
// relay on a lookup path, and carry the DHT in its bundle. It asks one of its own relays instead, over
// /peerlane/find-peer/1.0.0 (one protobuf request, one answer; src/pb/routing.proto). libp2p has no
// stream protocol for "run a peer-routing lookup for me" (delegated routing is HTTP, needs a separate
// endpoint and CORS per relay), hence this small one.
//
// The answer holds circuit addresses through federation relays; those relays' addresses are then
// allowed by our connection gater ("vouched for" by a relay we were configured with, src/node.ts), like
// the configured relays themselves.
import { peerIdFromString } from '@libp2p/peer-id'
import { pbStream } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import { lastPeerId, relayPart, transportPart } from './address.ts'
import { FindPeerRequest, FindPeerResponse } from './pb/routing.ts'
import type { Libp2p } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'

export const FIND_PEER_PROTOCOL = '/peerlane/find-peer/1.0.0'

/** How long one relay may take to answer a lookup (it may have to ask the federation) */
export const FIND_PEER_TIMEOUT = 8_000

/**
 * Asks our connected relays, one after the other, where `target` holds a reservation; resolves to the
 * circuit addresses the first relay that knows returns (empty if none does, or none speaks the protocol).
 */
export async function findPeerAddresses (node: Libp2p, config: { relayIds: Set<string> }, target: string, options: { signal?: AbortSignal } = {}): Promise<Multiaddr[]> {
  const peer = peerIdFromString(target)
  for (const relayId of config.relayIds) {
    const connection = node.getConnections(peerIdFromString(relayId)).find(c => c.status === 'open' && c.limits == null)
    if (connection == null) continue
    const signal = options.signal == null ? AbortSignal.timeout(FIND_PEER_TIMEOUT) : AbortSignal.any([options.signal, AbortSignal.timeout(FIND_PEER_TIMEOUT)])
    try {
      const stream = await connection.newStream(FIND_PEER_PROTOCOL, { signal })
      const pb = pbStream(stream)
      await pb.write({ peer: peer.toMultihash().bytes }, FindPeerRequest, { signal })
      const answer = await pb.read(FindPeerResponse, { signal })
      await stream.close({ signal }).catch(() => {})
      if (answer.status !== FindPeerResponse.Status.OK) continue
      const addrs = answer.addrs.flatMap(bytes => {
        try {
          const ma = multiaddr(bytes)
          return lastPeerId(ma) === target && relayPart(ma) != null ? [ma] : []
        } catch {
          return []
        }
      })
      if (addrs.length > 0) return addrs
    } catch {
      options.signal?.throwIfAborted()
      // this relay cannot answer (an older relay, a timeout): ask the next one
    }
  }
  return []
}

/**
 * The dial paths for a bare PeerId: those through our own relays (`paths`, WebRTC ones first) merged with
 * those a relay of the federation returns for it, which come first in each group since they are known to
 * hold a reservation. Adds the relays in the answer to `vouched` (the gater's allow-list).
 */
export async function withFederatedPaths (node: Libp2p, config: { relayIds: Set<string> }, vouched: Set<string>, target: string, paths: string[], options: { signal?: AbortSignal, allowRelayed?: boolean } = {}): Promise<string[]> {
  const found = await findPeerAddresses(node, config, target, options)
  for (const ma of found) vouched.add(transportPart(relayPart(ma) as Multiaddr))
  const isWebRTC = (path: string): boolean => path.includes('/p2p-circuit/webrtc/')
  const foundPaths = found.map(ma => ma.toString())
  const webrtc = [...foundPaths.filter(isWebRTC), ...paths.filter(isWebRTC)]
  const relayed = options.allowRelayed === false ? [] : [...foundPaths.filter(p => !isWebRTC(p)), ...paths.filter(p => !isWebRTC(p))]
  return [...new Set([...webrtc, ...relayed])]
}
