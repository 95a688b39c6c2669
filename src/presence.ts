// Who is in a room: members announce themselves with a beacon every HEARTBEAT_MS; a member not heard from
// for MEMBER_TIMEOUT_MS, or whose last connection to us closed (DISCONNECT_GRACE_MS), has left. A member
// whose page is hidden or frozen says so (its beacons may stop: browsers throttle a hidden page's timers to
// about once a minute, and run nothing in a frozen one) and is kept for HIDDEN_MEMBER_TIMEOUT_MS instead.
import { peerLogger } from './logger.ts'
import type { PeerNode } from './node.ts'
import type { PeerId } from '@libp2p/interface'

const log = peerLogger('presence')

/** Presence timing: members announce themselves this often… */
export const HEARTBEAT_MS = 2_000
/** …and are dropped when not heard from for this long */
export const MEMBER_TIMEOUT_MS = 6_000
/** a member whose last connection to us closed is dropped this soon, unless heard from meanwhile */
export const DISCONNECT_GRACE_MS = 3_500
/** a member whose page said it is hidden (or about to be frozen) is kept this long without a beacon */
export const HIDDEN_MEMBER_TIMEOUT_MS = 10 * 60_000

/** What presence tells its room */
export interface PresenceEvents {
  /** a member was heard from for the first time (or again after it had left) */
  join: (peerId: string) => void
  /** a member left: goodbye, timeout or lost connection */
  leave: (peerId: string) => void
  /** a beacon is due: ours every heartbeat, and an early one when a newcomer arrives */
  announce: () => void
}

/** The members of one room and when each was last heard from */
export class Presence {
  /** member → when last heard from */
  private readonly members = new Map<string, number>()
  /** members whose last beacon said their page is hidden */
  private readonly hidden = new Set<string>()
  /**
   * peers that said goodbye, and the time (their clock) they said it: anything they sent before it that
   * arrives after it (a closing page's "hidden" beacon, say) does not bring them back
   */
  private readonly goodbyes = new Map<string, number>()
  private readonly node: PeerNode
  private readonly events: PresenceEvents
  private heartbeat?: ReturnType<typeof setInterval>
  private answer?: ReturnType<typeof setTimeout>
  private stopped = false

  constructor (node: PeerNode, events: PresenceEvents) {
    this.node = node
    this.events = events
  }

  /** PeerIds of the members, each heard from within MEMBER_TIMEOUT_MS */
  get peers (): string[] {
    return [...this.members.keys()]
  }

  /** Starts the heartbeat (sweep, then our beacon) and announces us at once */
  start (): void {
    this.node.addEventListener('peer:disconnect', this.onDisconnect)
    this.heartbeat = setInterval(() => { this.sweep(); this.events.announce() }, HEARTBEAT_MS)
    this.events.announce()
  }

  stop (): void {
    this.stopped = true
    clearInterval(this.heartbeat)
    clearTimeout(this.answer)
    this.node.removeEventListener('peer:disconnect', this.onDisconnect)
    this.members.clear()
    this.goodbyes.clear()
  }

  /**
   * `peerId` was heard from (a beacon or a message, sent at `sentAt` by its clock); `hidden` when a beacon
   * said its page is hidden
   */
  seen (peerId: string, hidden = false, sentAt = Number.POSITIVE_INFINITY): void {
    const goodbye = this.goodbyes.get(peerId)
    if (goodbye != null) {
      if (sentAt <= goodbye) return
      this.goodbyes.delete(peerId)
    }
    const known = this.members.has(peerId)
    this.members.set(peerId, Date.now())
    if (hidden) this.hidden.add(peerId)
    else this.hidden.delete(peerId)
    if (known) return
    this.events.join(peerId)
    // a newcomer should not wait a whole heartbeat to learn we are here; jitter spreads the answers of a busy room
    this.answer ??= setTimeout(() => {
      this.answer = undefined
      if (!this.stopped) this.events.announce()
    }, 50 + Math.random() * 250)
  }

  /** `peerId` said goodbye (at `sentAt`, by its clock), or was dropped */
  left (peerId: string, sentAt?: number): void {
    if (sentAt != null) {
      this.goodbyes.set(peerId, Math.max(sentAt, this.goodbyes.get(peerId) ?? 0))
      // bounded: a goodbye matters for the few seconds in which earlier messages may still arrive
      if (this.goodbyes.size > 1024) this.goodbyes.delete(this.goodbyes.keys().next().value as string)
    }
    this.hidden.delete(peerId)
    if (this.members.delete(peerId)) {
      log('%s left (%s)', peerId, sentAt != null ? 'goodbye' : 'timeout or lost connection')
      this.events.leave(peerId)
    }
  }

  /** Drops members not heard from in time (6 s, or 10 minutes for a member whose page is hidden) */
  private sweep (): void {
    const now = Date.now()
    for (const [peerId, lastSeen] of this.members) {
      if (lastSeen < now - (this.hidden.has(peerId) ? HIDDEN_MEMBER_TIMEOUT_MS : MEMBER_TIMEOUT_MS)) this.left(peerId)
    }
  }

  /**
   * A tab that closes cannot reliably send its goodbye, but its direct links close with it: a member we
   * lose every connection to is dropped after a short grace, unless a beacon (via the relay) says it is still here.
   */
  private readonly onDisconnect = (evt: CustomEvent<PeerId>): void => {
    const peerId = evt.detail.toString()
    if (!this.members.has(peerId)) return
    const at = Date.now()
    setTimeout(() => {
      const lastSeen = this.members.get(peerId)
      if (lastSeen != null && lastSeen <= at && !this.stopped) this.left(peerId)
    }, DISCONNECT_GRACE_MS)
  }
}
