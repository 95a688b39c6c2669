// GossipSub as Peerlane peers and relays run it: stock @libp2p/gossipsub, with two additions that use only
// what GossipSub already offers (an option, and the peer selection of the service it returns), and the
// standby policy that decides whom the second one leaves out.
import { gossipsub } from '@libp2p/gossipsub'
import { toString } from 'uint8arrays/to-string'
import { IncompatibleDependencyError } from './errors.ts'
import type { GossipSub, GossipSubComponents, GossipsubOpts } from '@libp2p/gossipsub'

/**
 * GossipSub's `fastMsgIdFn`: the author and sequence number of a message, as sent. With StrictSign a
 * message's id is exactly these two (its author's key and seqno), so this names the same message; GossipSub
 * remembers it only for messages whose signature it has checked, and then drops later copies (the same
 * message forwarded by a relay and by a member, say) without checking their signature again.
 */
export function fastMsgId (msg: { from?: Uint8Array, seqno?: Uint8Array }): string {
  if (msg.from == null || msg.seqno == null) return '' // unsigned: refused by StrictSign, never remembered
  return toString(msg.from, 'base64') + '/' + toString(msg.seqno, 'base64')
}

interface PeerSelection {
  selectPeersToPublish: (topic: string, floodPublish?: boolean) => { tosend: Set<string> }
  selectPeersToForward: (topic: string, propagationSource?: string, excludePeers?: Set<string>) => Set<string>
}

/**
 * GossipSub that sends nothing (our messages, or those it forwards) to the peers `skip` names at the time:
 * Peerlane's relays on standby (see `relayStandby`). They stay in the mesh, so what they carry from members we have
 * no direct link to (a newcomer's first beacon, say) still reaches us at once.
 */
export function gossipsubSkipping (init: Partial<GossipsubOpts>, skip: StandbyPolicy): (components: GossipSubComponents) => GossipSub {
  const create = gossipsub(init)
  return (components) => {
    const service = create(components)
    // private in the typings, and the one place where GossipSub picks recipients; checked when created
    const selection = service as unknown as PeerSelection
    if (typeof selection.selectPeersToPublish !== 'function' || typeof selection.selectPeersToForward !== 'function') {
      throw new IncompatibleDependencyError('@libp2p/gossipsub', 'it no longer selects peers in selectPeersToPublish/selectPeersToForward: update src/gossip.ts')
    }
    const drop = (peers: Set<string>): Set<string> => {
      for (const peer of peers) if (skip(peer, service)) peers.delete(peer)
      return peers
    }
    const toPublish = selection.selectPeersToPublish.bind(service)
    const toForward = selection.selectPeersToForward.bind(service)
    selection.selectPeersToPublish = (topic, floodPublish) => {
      const selected = toPublish(topic, floodPublish)
      drop(selected.tosend)
      return selected
    }
    selection.selectPeersToForward = (topic, propagationSource, excludePeers) => drop(toForward(topic, propagationSource, excludePeers))
    return service
  }
}

/** Whether GossipSub should send `peerId` nothing now (asked on every publish and forward) */
export type StandbyPolicy = (peerId: string, gossipsub: Pick<GossipSub, 'getSubscribers'>) => boolean

/** The rooms a peer is in, as the standby policy sees them */
export interface RoomsView {
  readonly size: number
  values: () => Iterable<{ readonly topic: string, readonly peers: string[] }>
}

/**
 * The standby policy: a relay stands by (GossipSub sends it nothing of ours) while every room we are in has
 * members and all of them are our direct GossipSub peers: whatever we sent it would reach nobody, and cost
 * us, the relay and every member (a second copy to check) time on every message. It stays in our mesh, so a
 * newcomer's first beacon still reaches us through it, and that member (not linked yet) brings it back.
 * `relays` holds the PeerIds of our relays (configured, and any that reserved for us).
 */
export function relayStandby (relays: ReadonlySet<string>, rooms: RoomsView): StandbyPolicy {
  return (peerId, pubsub) => {
    if (rooms.size === 0 || !relays.has(peerId)) return false
    for (const room of rooms.values()) {
      const members = room.peers
      if (members.length === 0) return false
      const direct = new Set(pubsub.getSubscribers(room.topic).map(String))
      if (!members.every(member => direct.has(member))) return false
    }
    return true
  }
}
