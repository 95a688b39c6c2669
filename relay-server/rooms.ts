// Room carriage: which room topics the relay's GossipSub peer subscribes to, so that it forwards them, and
// what it forwards on them (room envelopes up to the size limit and within the replay window, nothing else).
import { TopicValidatorResult } from '@libp2p/gossipsub'
import { ROOM_TOPIC_PREFIX, RoomEnvelope } from 'peerlane/shared'
import type { ResolvedRelayConfig } from './config.ts'
import type { Counters } from './metrics.ts'
import type { RelayNode } from './relay.ts'
import type { GossipsubOpts, Message } from '@libp2p/gossipsub'
import type { PeerId } from '@libp2p/interface'

/** A relay carries at most this many room topics (each costs a little memory per member) */
const MAX_TOPICS = 4096
/** What a GossipSub RPC holds besides its messages' payloads: signatures, keys, topics, control messages */
const RPC_OVERHEAD = 64 * 1024
/**
 * What GossipSub charges a subscription (its GossipsubTopicEntryOverhead, 1 KiB, plus the topic's length)
 * when it bounds one peer's subscriptions, for the longest room topic: its prefix and a 128-character name
 */
const TOPIC_COST = 1024 + 16 + 256
/** A private room's sealed contents: the payload, plus the IV, the tag and the inner envelope's other fields */
const SEAL_OVERHEAD = 128

/** The relay's GossipSub options that bound what one peer can make it read and remember */
export function roomLimits (config: Pick<ResolvedRelayConfig, 'maxRoomMessageSize' | 'maxTopicsPerPeer'>): Pick<GossipsubOpts, 'maxInboundDataLength' | 'maxTopicBytesPerPeer'> {
  return {
    // an RPC over this is refused from its length prefix, before it is read (GossipSub's default: 4 MiB);
    // two messages' worth, as an answer to IWANT may carry several
    maxInboundDataLength: 2 * config.maxRoomMessageSize + RPC_OVERHEAD,
    // GossipSub's own table of one peer's subscriptions (its default: 1 MiB, ~1,000 topics); a few more
    // than count as room memberships (below), for topics other than rooms'
    maxTopicBytesPerPeer: (config.maxTopicsPerPeer + 4) * TOPIC_COST
  }
}

/** Options of {@link followRooms} */
export interface RoomCarriageOptions extends Pick<ResolvedRelayConfig, 'maxRoomMessageSize' | 'maxTopicsPerPeer' | 'replayWindow'> {
  /** whether a PeerId is another relay of the federation (never a member) */
  isFederated: (peerId: string) => boolean
  counters: Pick<Counters, 'roomMessagesDropped' | 'roomMessagesStale'>
}

/**
 * Joins the room topics the relay's peers join, and leaves them when the last one leaves; returns a stop
 * function. Only peers that hold a reservation count as members (so opening connections is not enough to
 * make the relay carry topics), each for at most `maxTopicsPerPeer` rooms. Other relays of the federation do
 * not count: a relay carries a room for its own peers only (and then meshes with the other relays carrying
 * it). On every carried topic, a validator lets through room envelopes (src/pb/room.proto) whose payload
 * is at most `maxRoomMessageSize` (sealed or not) and whose timestamp is within `replayWindow` of the relay's
 * clock, and nothing else. GossipSub remembers what it forwarded for its seen TTL (at least twice the window),
 * so a recorded message published again after that is outside the window: replays stop at the relay.
 */
export function followRooms (node: RelayNode, options: RoomCarriageOptions): () => void {
  const pubsub = node.services.pubsub
  const reservations = node.services.relay.reservations
  const topicsOf = new Map<string, Set<string>>()
  const members = new Map<string, Map<string, PeerId>>()
  const carried = new Set<string>()

  // the envelope's shape, size and timestamp only: its content (text, JSON, presence, sequence numbers, rates)
  // is the members' to check, and they strike its author for it
  const validate = (_from: PeerId, msg: Message): TopicValidatorResult => {
    let env: RoomEnvelope | undefined
    try {
      env = RoomEnvelope.decode(msg.data)
    } catch {}
    if (env == null || env.data.byteLength > options.maxRoomMessageSize || env.sealed.byteLength > options.maxRoomMessageSize + SEAL_OVERHEAD) {
      options.counters.roomMessagesDropped.inc()
      return TopicValidatorResult.Reject
    }
    if (Math.abs(Date.now() - Number(env.timestamp)) > options.replayWindow) {
      options.counters.roomMessagesStale.inc()
      // a replay is usually forwarded by someone other than its author: nobody here is to blame
      return TopicValidatorResult.Ignore
    }
    return TopicValidatorResult.Accept
  }
  // carry a topic while one of its members holds a reservation
  const update = (topic: string): void => {
    let wanted = false
    for (const peer of members.get(topic)?.values() ?? []) {
      if (reservations.has(peer)) { wanted = true; break }
    }
    if (wanted && !carried.has(topic) && carried.size < MAX_TOPICS) {
      carried.add(topic)
      pubsub.topicValidators.set(topic, validate)
      pubsub.subscribe(topic)
    } else if (!wanted && carried.has(topic)) {
      carried.delete(topic)
      pubsub.unsubscribe(topic)
      pubsub.topicValidators.delete(topic)
    }
  }
  const join = (peer: PeerId, topic: string): void => {
    const id = peer.toString()
    const topics = topicsOf.get(id) ?? new Set<string>()
    if (topics.has(topic) || topics.size >= options.maxTopicsPerPeer) return
    topics.add(topic)
    topicsOf.set(id, topics)
    const peers = members.get(topic) ?? new Map<string, PeerId>()
    peers.set(id, peer)
    members.set(topic, peers)
    update(topic)
  }
  const leave = (id: string, topic: string): void => {
    const topics = topicsOf.get(id)
    if (topics?.delete(topic) !== true) return
    if (topics.size === 0) topicsOf.delete(id)
    const peers = members.get(topic)
    peers?.delete(id)
    if (peers?.size === 0) members.delete(topic)
    update(topic)
  }

  pubsub.addEventListener('subscription-change', evt => {
    const peer = evt.detail.peerId
    if (options.isFederated(peer.toString())) return
    for (const { topic, subscribe } of evt.detail.subscriptions) {
      if (!topic.startsWith(ROOM_TOPIC_PREFIX)) continue
      if (subscribe) join(peer, topic)
      else leave(peer.toString(), topic)
    }
  })
  const onDisconnect = (evt: CustomEvent<PeerId>): void => {
    for (const topic of [...topicsOf.get(evt.detail.toString()) ?? []]) leave(evt.detail.toString(), topic)
  }
  // a peer reserving after it subscribed (it reconnected, and GossipSub sent its subscriptions at once): the
  // relay server tags a reserving peer in the peer store, which says so with peer:update
  const onUpdate = (evt: CustomEvent<{ peer: { id: PeerId } }>): void => {
    const id = evt.detail.peer.id
    const topics = topicsOf.get(id.toString())
    if (topics != null && reservations.has(id)) for (const topic of topics) update(topic)
  }
  node.addEventListener('peer:disconnect', onDisconnect)
  node.addEventListener('peer:update', onUpdate)
  // reservations that expire while their peer stays connected; topics left waiting while MAX_TOPICS were carried
  const sweep = setInterval(() => { for (const topic of new Set([...carried, ...members.keys()])) update(topic) }, 60_000)
  sweep.unref()
  return () => {
    clearInterval(sweep)
    node.removeEventListener('peer:disconnect', onDisconnect)
    node.removeEventListener('peer:update', onUpdate)
  }
}
