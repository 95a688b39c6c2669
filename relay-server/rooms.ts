// Room carriage: which room topics the relay's GossipSub peer subscribes to, so that it forwards them.
import { ROOM_TOPIC_PREFIX } from 'peerlane/shared'
import type { GossipSub } from '@libp2p/gossipsub'

/** A relay carries at most this many room topics (each costs a little memory per member) */
const MAX_TOPICS = 4096

/**
 * Joins the room topics the relay's peers join, and leaves them when the last one leaves; returns a stop
 * function. Other relays of the federation do not count as members: a relay carries a room only for
 * its own peers (and then meshes with the other relays carrying it).
 */
export function followRooms (pubsub: GossipSub, isFederated: (peerId: string) => boolean): () => void {
  const members = (topic: string): number => pubsub.getSubscribers(topic).filter(p => !isFederated(p.toString())).length
  // members that vanish without unsubscribing leave empty topics behind: sweep them
  const sweep = setInterval(() => {
    for (const topic of pubsub.getTopics()) {
      if (members(topic) === 0) pubsub.unsubscribe(topic)
    }
  }, 60_000)
  sweep.unref()
  pubsub.addEventListener('subscription-change', evt => {
    if (isFederated(evt.detail.peerId.toString())) return
    for (const { topic, subscribe } of evt.detail.subscriptions) {
      if (!topic.startsWith(ROOM_TOPIC_PREFIX)) continue
      const carried = pubsub.getTopics().includes(topic)
      if (subscribe && !carried && pubsub.getTopics().length < MAX_TOPICS) {
        pubsub.subscribe(topic)
      } else if (!subscribe && carried && members(topic) === 0) {
        pubsub.unsubscribe(topic)
      }
    }
  })
  return () => { clearInterval(sweep) }
}
