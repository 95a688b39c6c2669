// Per-key state with memory independent of how many keys are ever seen: hostile peers mint PeerIds (and room
// authors) for microseconds each, so every table keyed by one is bounded. hashlru (already in the bundle, via
// @multiformats/dns) keeps at most two generations of `max` keys and drops the older one whole.
import hashlru from 'hashlru'

interface Lru { get: (key: string) => unknown, set: (key: string, value: unknown) => void, remove: (key: string) => void }
// CommonJS whose typings say `export default`: the default import is module.exports (the function) at run time,
// which TypeScript's NodeNext and bundler resolutions type differently
const HLRU = ((hashlru as any).default ?? hashlru) as (max: number) => Lru

/** A bounded map: at most `2 × max` keys; the least recently used go first */
export class BoundedMap<V> {
  private readonly lru: Lru

  constructor (max: number) {
    this.lru = HLRU(max)
  }

  get (key: string): V | undefined {
    return this.lru.get(key) as V | undefined
  }

  set (key: string, value: V): void {
    this.lru.set(key, value)
  }

  delete (key: string): void {
    this.lru.remove(key)
  }
}

/** Options of {@link WindowLimiter} */
export interface WindowLimiterOptions {
  /** how many `take`s one key may make per window */
  points: number
  /** the window, in ms; it starts at a key's first `take` */
  windowMs: number
  /** keys kept (× 2 at most); a key pushed out starts afresh, as after a quiet window */
  maxKeys: number
}

/**
 * A fixed-window rate limit per key (libp2p's RateLimiter counts the same way, but keeps a timer per key and
 * every key until its window ends: 200,000 one-message authors were 200,000 timers)
 */
export class WindowLimiter {
  private readonly windows: BoundedMap<{ start: number, used: number }>
  private readonly points: number
  private readonly windowMs: number

  constructor (options: WindowLimiterOptions) {
    this.points = options.points
    this.windowMs = options.windowMs
    this.windows = new BoundedMap(options.maxKeys)
  }

  /** Counts one for `key`: false when its window is used up */
  take (key: string, now = Date.now()): boolean {
    let window = this.windows.get(key)
    if (window == null || now - window.start >= this.windowMs) {
      window = { start: now, used: 0 }
      this.windows.set(key, window)
    }
    if (window.used >= this.points) return false
    window.used++
    return true
  }
}
