// Replay protection for live room messages. GossipSub drops a copy of a message it has seen, but only for
// its seen-cache TTL (`seenTTL`); a recorded message published again later would be new to it. So a live
// message must also be fresh: its timestamp within `replayWindow` of our clock (either way, so with
// `seenTTL` ≥ 2 × `replayWindow` a copy that outlives the seen cache is outside the window), and its
// sequence number not behind what its author sent since by more than REPLAY_DEFAULTS.reorderMs. History
// (README › Room history) is exempt: it is verified by signature and deduplicated by id instead.
import { REPLAY_WINDOW, SEEN_TTL } from './config.ts'

/** Defaults of replay protection; `replayWindow` and `seenTTL` are peer options */
export const REPLAY_DEFAULTS = {
  /** a live message whose timestamp is further than this from our clock (ms) is dropped */
  replayWindow: REPLAY_WINDOW,
  /** GossipSub's seen-cache TTL (ms): at least twice the window */
  seenTTL: SEEN_TTL,
  /** a message this far (ms) behind the newest one from its author is a replay; copies of one message may arrive out of order by less */
  reorderMs: 10_000,
  /** authors whose sequence numbers a room tracks; the least recently heard is forgotten first */
  authors: 4096,
  /** sequence numbers remembered per author, to tell a late copy from a new message */
  recent: 64
} as const

/** Why a live message was refused */
export type Stale = 'old' | 'future' | 'replayed'

interface AuthorState {
  /** the newest sequence number accepted */
  top: number
  /** when (our clock) it was accepted */
  at: number
  /** the sequence numbers accepted within reorderMs of `top`, oldest first */
  recent: number[]
}

/** The freshness check of one room's live messages; memory bounded by REPLAY_DEFAULTS.authors */
export class ReplayGuard {
  private readonly window: number
  private readonly authors = new Map<string, AuthorState>()

  constructor (window: number = REPLAY_DEFAULTS.replayWindow) {
    this.window = window
  }

  /**
   * Whether a live message from `author` sent at `timestamp` (its clock) with sequence number `seq` (0 for a
   * version 1 envelope, which only the window checks) is fresh: undefined, and remembered; or why it is not
   */
  check (author: string, timestamp: number, seq: number, now = Date.now()): Stale | undefined {
    if (timestamp < now - this.window) return 'old'
    if (timestamp > now + this.window) return 'future'
    if (seq === 0) return undefined
    const state = this.authors.get(author)
    if (state == null || now - state.at > this.window * 2) {
      this.remember(author, { top: seq, at: now, recent: [seq] })
      return undefined
    }
    if (seq > state.top) {
      state.top = seq
      state.at = now
      state.recent.push(seq)
    } else {
      const floor = state.top - REPLAY_DEFAULTS.reorderMs * 1000
      if (seq < floor || state.recent.includes(seq)) return 'replayed'
      // older than everything remembered: a late copy cannot be told from a replay
      if (state.recent.length >= REPLAY_DEFAULTS.recent && seq < state.recent[0]) return 'replayed'
      state.recent.push(seq)
      state.recent.sort((a, b) => a - b)
    }
    while (state.recent.length > REPLAY_DEFAULTS.recent || (state.recent.length > 1 && state.recent[0] < state.top - REPLAY_DEFAULTS.reorderMs * 1000)) state.recent.shift()
    this.remember(author, state)
    return undefined
  }

  /** Authors tracked now (for tests: bounded) */
  get size (): number {
    return this.authors.size
  }

  private remember (author: string, state: AuthorState): void {
    this.authors.delete(author)
    this.authors.set(author, state)
    if (this.authors.size > REPLAY_DEFAULTS.authors) this.authors.delete(this.authors.keys().next().value as string)
  }
}
