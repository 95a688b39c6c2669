import { RateLimiter } from '@libp2p/utils'

/** Defaults for how a peer treats senders of bad room messages; see README › Rooms › Abuse */
export const GUARD_DEFAULTS = {
  /** room messages (presence included) one author may send per second, per room */
  messagesPerSecond: 200,
  /** strikes (dropped messages) before an author is muted */
  muteAfter: 3,
  /** how long a mute lasts, and how long strikes are remembered, in ms */
  muteMs: 60_000,
  /** GossipSub app-specific score per strike: 4 strikes reach the graylist threshold (-80) */
  scorePerStrike: -20
} as const

interface Record_ { strikes: number, since: number }

/**
 * Remembers which authors sent bad room messages. Muted authors' messages are dropped in every room,
 * and their strikes lower their GossipSub score (appSpecificScore), so a directly linked spammer is
 * pruned from the mesh and then graylisted.
 */
export class Guard {
  private readonly records = new Map<string, Record_>()
  private readonly limiter = new RateLimiter({ points: GUARD_DEFAULTS.messagesPerSecond, duration: 1 })

  /** Counts one message from `author` in `room`; false when over the rate limit */
  allow (author: string, room: string): boolean {
    try {
      this.limiter.consume(`${room}\n${author}`)
      return true
    } catch {
      return false
    }
  }

  strike (author: string): void {
    const now = Date.now()
    const record = this.fresh(author, now) ?? { strikes: 0, since: now }
    record.strikes++
    record.since = now
    this.records.set(author, record)
  }

  isMuted (author: string): boolean {
    return (this.fresh(author, Date.now())?.strikes ?? 0) >= GUARD_DEFAULTS.muteAfter
  }

  /** For GossipSub's `appSpecificScore`: 0 for well-behaved peers, negative per recent strike */
  score (peerId: string): number {
    const strikes = this.fresh(peerId, Date.now())?.strikes ?? 0
    return strikes === 0 ? 0 : strikes * GUARD_DEFAULTS.scorePerStrike
  }

  private fresh (author: string, now: number): Record_ | undefined {
    const record = this.records.get(author)
    if (record != null && now - record.since > GUARD_DEFAULTS.muteMs) {
      this.records.delete(author)
      return undefined
    }
    return record
  }
}
