/** Timing of automatic direct links to room members; see README › Rooms › Direct links */
export const MESH_DEFAULTS = {
  /** the peer with the higher PeerId waits this long (plus up to 1 s jitter) before dialling, so usually only one side dials */
  followerDelayMs: 3_000,
  /** retries after a failed attempt wait 5 s, 10 s, 20 s (plus jitter), then give up until the member is seen anew */
  retryBaseMs: 5_000,
  /** attempts at a direct link to one member (the first and three retries) */
  attempts: 4
} as const

/** What DirectLinks needs from the Peer */
export interface LinkTarget {
  readonly id: string
  /** whether a direct WebRTC link to `peerId` is open */
  hasDirect: (peerId: string) => boolean
  /** how many peers we hold direct WebRTC links to */
  directCount: () => number
  /** tries one direct link; rejects when it cannot be made */
  linkDirect: (peerId: string, signal: AbortSignal) => Promise<unknown>
}

/**
 * Links a peer directly (WebRTC) to the members of its rooms, up to `max` direct links: beyond that,
 * or while a link is being made, GossipSub (through the relay or other members) carries room messages.
 */
export class DirectLinks {
  private readonly target: LinkTarget
  private readonly max: number
  private readonly pending = new Map<string, ReturnType<typeof setTimeout>>()
  private readonly controller = new AbortController()

  constructor (target: LinkTarget, max: number) {
    this.target = target
    this.max = max
  }

  /** A room member was seen: link to it unless already linked, busy, or full */
  want (peerId: string): void {
    if (this.pending.has(peerId) || this.target.hasDirect(peerId)) return
    // both sides see each other at about the same time: the lower PeerId dials, the other only if that did not happen
    const delay = this.target.id < peerId ? 0 : MESH_DEFAULTS.followerDelayMs + Math.random() * 1_000
    this.schedule(peerId, 1, delay)
  }

  stop (): void {
    this.controller.abort()
    for (const timer of this.pending.values()) clearTimeout(timer)
    this.pending.clear()
  }

  private schedule (peerId: string, attempt: number, delay: number): void {
    this.pending.set(peerId, setTimeout(() => { void this.attempt(peerId, attempt) }, delay))
  }

  private async attempt (peerId: string, attempt: number): Promise<void> {
    if (this.controller.signal.aborted || this.target.hasDirect(peerId) || this.target.directCount() >= this.max) {
      this.pending.delete(peerId)
      return
    }
    try {
      await this.target.linkDirect(peerId, this.controller.signal)
      this.pending.delete(peerId)
    } catch {
      if (attempt >= MESH_DEFAULTS.attempts || this.controller.signal.aborted) {
        this.pending.delete(peerId)
        return
      }
      this.schedule(peerId, attempt + 1, MESH_DEFAULTS.retryBaseMs * 2 ** (attempt - 1) + Math.random() * 1_000)
    }
  }
}
