// Who is in a room: members announce themselves with a beacon every HEARTBEAT_MS; a member not heard from
// for MEMBER_TIMEOUT_MS, or whose last connection to us closed (DISCONNECT_GRACE_MS), has left. A member
// whose page is hidden or frozen says so (its beacons may stop: browsers throttle a hidden page's timers to
// about once a minute, and run nothing in a frozen one) and is kept for HIDDEN_MEMBER_TIMEOUT_MS instead.
// New members are admitted at a bounded rate and up to a cap (ADMISSION_DEFAULTS), so that authors made up
// by the thousand cannot make every member track and link to all of them.
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

/** Defaults of room admission; `peer.join(name, { maxMembers, admissionRate })` sets them per room */
export const ADMISSION_DEFAULTS = {
  /** members a room tracks at most; messages of further authors are dropped until some leave */
  maxMembers: 1000,
  /** new members admitted per second (and at most this many at once) */
  admissionRate: 10
} as const

/** What presence tells its room */
export interface PresenceEvents {
  /** a member was heard from for the first time (or again after it had left) */
  join: (peerId: string) => void
  /** a member left: goodbye, timeout or lost connection */
  leave: (peerId: string) => void
  /** a beacon is due: ours every heartbeat, and an early one when a newcomer arrives */
  announce: () => void
}

/** How many members a room admits, and how fast */
export interface Admission {
  maxMembers: number
  admissionRate: number
}

interface Member {
  /** when (our clock) it was last heard from */
  seen: number
  /** the sending order (sequence number) of the newest message heard from it */
  order: number
}

/** The members of one room and when each was last heard from */
export class Presence {
  private readonly members = new Map<string, Member>()
  /** members whose last beacon said their page is hidden */
  private readonly hidden = new Set<string>()
  /**
   * peers that said goodbye, and when (their sending order) they said it: anything they sent before it that
   * arrives after it (a closing page's "hidden" beacon, say) does not bring them back
   */
  private readonly goodbyes = new Map<string, number>()
  private readonly node: PeerNode
  private readonly events: PresenceEvents
  private readonly admission: Admission
  /** admissions left now, refilled at admissionRate per second */
  private tokens: number
  private refilled = Date.now()
  private heartbeat?: ReturnType<typeof setInterval>
  private answer?: ReturnType<typeof setTimeout>
  private stopped = false

  constructor (node: PeerNode, events: PresenceEvents, admission: Admission = ADMISSION_DEFAULTS) {
    this.node = node
    this.events = events
    this.admission = admission
    this.tokens = admission.admissionRate
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

  /** Whether `peerId` is a member */
  has (peerId: string): boolean {
    return this.members.has(peerId)
  }

  /**
   * Whether a message of `peerId` may be taken: it is a member, or the room has room for one more and
   * admits new members at this rate (the admission is used up once it is `seen`)
   */
  admits (peerId: string, now = Date.now()): boolean {
    if (this.members.has(peerId)) return true
    if (this.members.size >= this.admission.maxMembers) return false
    const rate = this.admission.admissionRate
    this.tokens = Math.min(rate, this.tokens + (now - this.refilled) * rate / 1000)
    this.refilled = now
    return this.tokens >= 1
  }

  /**
   * `peerId` was heard from (a beacon or a message, sent at `order` by its sequence numbers, or its clock
   * × 1000 from a version 1 peer); `hidden` when a beacon said its page is hidden
   */
  seen (peerId: string, hidden = false, order = Number.POSITIVE_INFINITY): void {
    const goodbye = this.goodbyes.get(peerId)
    if (goodbye != null) {
      if (order <= goodbye) return
      this.goodbyes.delete(peerId)
    }
    const member = this.members.get(peerId)
    if (member == null) {
      if (!this.admits(peerId)) return
      this.tokens--
    }
    this.members.set(peerId, { seen: Date.now(), order: Math.max(order === Number.POSITIVE_INFINITY ? 0 : order, member?.order ?? 0) })
    if (hidden) this.hidden.add(peerId)
    else this.hidden.delete(peerId)
    if (member != null) return
    this.events.join(peerId)
    // a newcomer should not wait a whole heartbeat to learn we are here; jitter spreads the answers of a busy room
    this.answer ??= setTimeout(() => {
      this.answer = undefined
      if (!this.stopped) this.events.announce()
    }, 50 + Math.random() * 250)
  }

  /**
   * `peerId` said goodbye (at `order`, see `seen`), or was dropped. A goodbye sent before something we
   * heard from it since is an old one (its page reloaded and came back): it is ignored.
   */
  left (peerId: string, order?: number): void {
    if (order != null) {
      if (order < (this.members.get(peerId)?.order ?? 0)) return
      this.goodbyes.set(peerId, Math.max(order, this.goodbyes.get(peerId) ?? 0))
      // bounded: a goodbye matters for the few seconds in which earlier messages may still arrive
      if (this.goodbyes.size > 1024) this.goodbyes.delete(this.goodbyes.keys().next().value as string)
    }
    this.hidden.delete(peerId)
    if (this.members.delete(peerId)) {
      log('%s left (%s)', peerId, order != null ? 'goodbye' : 'timeout or lost connection')
      this.events.leave(peerId)
    }
  }

  /** Drops members not heard from in time (6 s, or 10 minutes for a member whose page is hidden) */
  private sweep (): void {
    const now = Date.now()
    for (const [peerId, { seen: lastSeen }] of this.members) {
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
      const lastSeen = this.members.get(peerId)?.seen
      if (lastSeen != null && lastSeen <= at && !this.stopped) this.left(peerId)
    }, DISCONNECT_GRACE_MS)
  }
}
