// Token buckets per key (a source IP, a PeerId) with a bounded table: the relay's STUN responder and its ICE
// answers use them. libp2p's RateLimiter keeps a timer per key and no bound on keys, which a flood of spoofed
// UDP sources would turn into unbounded memory.

/** A token bucket: `burst` tokens, refilled at `perSecond` */
export interface RateLimit {
  /** tokens added per second */
  perSecond: number
  /** the bucket's size: how many may be taken at once after a quiet spell */
  burst: number
}

/** Options of {@link RateLimiter} */
export interface RateLimiterOptions extends RateLimit {
  /**
   * At most this many keys are tracked; past it, idle keys are dropped and, if none is idle, new keys are
   * refused (so a flood of spoofed sources costs bounded memory and never resets a victim's bucket)
   * @default 65536
   */
  maxKeys?: number
  /** the clock, in milliseconds @default Date.now */
  now?: () => number
}

/** A token bucket per key (a source IP, a PeerId), with bounded memory */
export class RateLimiter {
  readonly perSecond: number
  readonly burst: number
  readonly maxKeys: number
  private readonly now: () => number
  private readonly buckets = new Map<string, { tokens: number, at: number }>()
  private prunedAt = -Infinity

  constructor (options: RateLimiterOptions) {
    if (!(options.perSecond > 0) || !(options.burst >= 1)) {
      throw new RangeError(`rate limit needs perSecond > 0 and burst >= 1 (got ${options.perSecond}/s, burst ${options.burst})`)
    }
    this.perSecond = options.perSecond
    this.burst = options.burst
    this.maxKeys = options.maxKeys ?? 65_536
    this.now = options.now ?? Date.now
  }

  /** Takes one token for `key`: true if allowed, false if over the limit (or the table is full) */
  take (key: string): boolean {
    const t = this.now()
    let bucket = this.buckets.get(key)
    if (bucket == null) {
      if (this.buckets.size >= this.maxKeys) {
        // a full sweep costs O(keys): at most once a second, so a flood of new keys cannot make it a CPU sink
        if (t - this.prunedAt >= 1_000) this.prune()
        if (this.buckets.size >= this.maxKeys) return false
      }
      bucket = { tokens: this.burst, at: t }
      this.buckets.set(key, bucket)
    } else {
      bucket.tokens = Math.min(this.burst, bucket.tokens + Math.max(0, t - bucket.at) / 1_000 * this.perSecond)
      bucket.at = t
    }
    if (bucket.tokens < 1) return false
    bucket.tokens -= 1
    return true
  }

  /** Forgets keys whose bucket has refilled (they would start full anyway) */
  prune (): void {
    const t = this.now()
    this.prunedAt = t
    for (const [key, b] of this.buckets) {
      if (b.tokens + Math.max(0, t - b.at) / 1_000 * this.perSecond >= this.burst) this.buckets.delete(key)
    }
  }

  /** How many keys are tracked now */
  get size (): number {
    return this.buckets.size
  }
}
