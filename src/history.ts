// Room history: every member keeps the room's recent messages as they arrived, signed GossipSub messages
// intact (history-store.ts persists them), serves them to members who join later, and when it joins asks
// present members for what it lacks (history-wire.ts), checking every signature before it delivers one.
// A member that serves a forged or altered message is struck (guard.ts) and the message dropped.
import { RateLimiter } from '@libp2p/utils'
import { answerHistory, askHistory, encodeSigned, FRAME_OVERHEAD, HISTORY_PROTOCOL, verifySigned } from './history-wire.ts'
import { peerLogger } from './logger.ts'
import type { RoomMessage } from './envelope.ts'
import type { Guard } from './guard.ts'
import type { HistoryStore, StoredEntry } from './history-store.ts'
import type { PeerNode } from './node.ts'
import type { HistoryRequest } from './pb/history.ts'
import type { SignedMessage } from '@libp2p/gossipsub'
import type { Connection } from '@libp2p/interface'

const log = peerLogger('history')

/** Defaults of room history; `peer.join(name, { history: { maxMessages, maxAge, maxBytes } })` sets the first three */
export const HISTORY_DEFAULTS = {
  /** messages kept per room */
  maxMessages: 1000,
  /** how long a message is kept after it arrived (ms): 7 days */
  maxAge: 7 * 24 * 60 * 60_000,
  /** bytes of signed messages kept per room */
  maxBytes: 16 * 1024 * 1024,
  /** members asked, one after another, when joining, until one answers in full */
  askMembers: 3,
  /** how long one answer may take, from asking to its last message (ms) */
  timeout: 10_000,
  /** history requests one peer may make of us per minute */
  requestsPerMinute: 10,
  /** a request from a peer not heard in the room yet waits this long (ms) for its first beacon */
  memberWait: 3_000
} as const

/** How much history a room keeps */
export interface HistoryLimits {
  maxMessages: number
  maxAge: number
  maxBytes: number
}

/** What a room's history needs from its room */
export interface HistoryParts {
  topic: string
  limits: HistoryLimits
  store: HistoryStore
  guard: Guard
  /** the largest envelope the room takes, in bytes */
  maxEnvelope: number
  /** how far back (ms) before our newest message we ask for more, for messages that came late */
  overlap: number
  /** a connection to a member (connecting first if need be) */
  connectionTo: (peerId: string, signal: AbortSignal) => Promise<Connection>
  /** the app message in a verified history message, checked as the room checks any (undefined: drop it) */
  open: (msg: SignedMessage) => Promise<RoomMessage | undefined>
  /** hands a history message to the app */
  deliver: (message: RoomMessage) => void
  /** whether a peer is a member of the room now */
  isMember: (peerId: string) => boolean
}

/** The key a message is kept and delivered once under */
export function historyKey (message: Pick<RoomMessage, 'from' | 'id'>): string {
  return `${message.from}/${message.id}`
}

/** One room's history: what it keeps, what it serves, whom it asks */
export class RoomHistory {
  private readonly parts: HistoryParts
  /** oldest arrival first */
  private entries: StoredEntry[] = []
  /** what the store had when the room opened, until it is replayed */
  private stored: StoredEntry[] = []
  private readonly keys = new Set<string>()
  private bytes = 0
  /** the newest arrival time given: each entry's is later, also within one ms, so that the store keeps their order */
  private lastArrival = 0
  /** members to ask, in the order they were heard */
  private readonly queue: string[] = []
  private asked = 0
  private answered = false
  private asking = false
  private started = false
  private readonly controller = new AbortController()

  constructor (parts: HistoryParts) {
    this.parts = parts
  }

  /** Reads what the store kept of the room */
  async load (): Promise<void> {
    const stored = await this.parts.store.load(this.parts.topic)
    for (const entry of stored) this.keep(entry, false)
    this.lastArrival = stored.at(-1)?.arrival ?? 0
    this.prune()
    this.stored = [...this.entries]
  }

  /** Delivers the messages the store had, oldest first; resolves once all are delivered */
  async replay (): Promise<void> {
    const stored = this.stored
    this.stored = []
    for (const entry of stored) {
      const msg = await verifySigned(entry.message, this.parts.topic)
      const message = msg == null ? undefined : await this.parts.open(msg)
      if (message != null) this.parts.deliver({ ...message, history: true })
    }
  }

  /** Whether the message with this key was delivered (or sent by us) already */
  has (key: string): boolean {
    return this.keys.has(key)
  }

  /** Keeps a message that was delivered live, or that we sent */
  record (msg: SignedMessage, message: RoomMessage): void {
    this.lastArrival = Math.max(Date.now(), this.lastArrival + 0.001)
    this.keep({ key: historyKey(message), arrival: this.lastArrival, timestamp: message.timestamp, message: encodeSigned(msg) }, true)
  }

  /** Starts asking the members heard so far (and those heard later) */
  start (): void {
    this.started = true
    void this.next()
  }

  /** A member was heard for the first time: ask it for what we lack, unless someone answered already */
  ask (member: string): void {
    if (this.answered || this.queue.includes(member)) return
    this.queue.push(member)
    void this.next()
  }

  /** What we serve a member who asks: our messages since `request.since`, the newest `request.limit`, oldest first */
  async serve (from: string, request: HistoryRequest, signal: AbortSignal): Promise<Uint8Array[] | undefined> {
    for (let waited = 0; !this.parts.isMember(from) && waited < HISTORY_DEFAULTS.memberWait; waited += 100) {
      await new Promise(resolve => setTimeout(resolve, 100))
      signal.throwIfAborted()
    }
    if (!this.parts.isMember(from)) return undefined
    this.prune()
    const since = Number(request.since)
    const wanted = this.entries.filter(e => e.timestamp >= since)
    return wanted.slice(Math.max(0, wanted.length - request.limit)).map(e => e.message)
  }

  stop (): void {
    this.answered = true
    this.controller.abort(new Error('room left'))
  }

  private async next (): Promise<void> {
    if (this.asking || !this.started) return
    this.asking = true
    try {
      while (!this.answered && this.asked < HISTORY_DEFAULTS.askMembers && this.queue.length > 0) {
        const member = this.queue.shift() as string
        this.asked++
        this.answered = await this.fetch(member).catch(err => {
          log('history from %s failed: %s', member, err.message)
          return false
        })
      }
    } finally {
      this.asking = false
    }
  }

  /** Asks `member`; true when it answered in full with nothing forged */
  private async fetch (member: string): Promise<boolean> {
    const { topic, limits, guard } = this.parts
    const signal = AbortSignal.any([this.controller.signal, AbortSignal.timeout(HISTORY_DEFAULTS.timeout)])
    const newest = this.entries.reduce((max, e) => Math.max(max, e.timestamp), 0)
    const since = newest === 0 ? 0 : Math.max(0, newest - this.parts.overlap)
    log('asking %s for %s since %d', member, topic, since)
    const connection = await this.parts.connectionTo(member, signal)
    const answer = await askHistory(connection, { topic, since: BigInt(since), limit: limits.maxMessages }, this.parts.maxEnvelope + FRAME_OVERHEAD, signal)
    if (!answer.kept) return false
    let forged = 0
    let delivered = 0
    for await (const bytes of answer.messages) {
      const msg = await verifySigned(bytes, topic)
      if (msg == null) {
        // not a message its author signed for this room: the member made it up or altered it
        forged++
        guard.strike(member)
        continue
      }
      const message = await this.parts.open(msg)
      if (message == null || this.keys.has(historyKey(message)) || this.controller.signal.aborted) continue
      this.record(msg, message)
      this.parts.deliver({ ...message, history: true })
      delivered++
    }
    log('%s served %d new messages of %s, %d forged', member, delivered, topic, forged)
    return forged === 0
  }

  private keep (entry: StoredEntry, persist: boolean): void {
    if (this.keys.has(entry.key)) return
    this.keys.add(entry.key)
    this.entries.push(entry)
    this.bytes += entry.message.byteLength
    if (persist) void this.parts.store.put(this.parts.topic, [entry])
    this.prune()
  }

  /** Drops what is past the limits: too old, too many, too big */
  private prune (now = Date.now()): void {
    const { maxMessages, maxAge, maxBytes } = this.parts.limits
    let drop = 0
    let bytes = this.bytes
    while (drop < this.entries.length && (this.entries.length - drop > maxMessages || bytes > maxBytes || this.entries[drop].arrival < now - maxAge)) {
      bytes -= this.entries[drop].message.byteLength
      drop++
    }
    if (drop === 0) return
    const gone = this.entries.splice(0, drop)
    this.bytes = bytes
    for (const e of gone) this.keys.delete(e.key)
    void this.parts.store.remove(this.parts.topic, gone.map(e => e.key))
  }
}

/**
 * Answers history requests for the rooms `lookup` finds by topic (undefined: we keep none of it, and say
 * so); each peer may ask HISTORY_DEFAULTS.requestsPerMinute times a minute, two at a time per connection
 */
export async function handleHistory (node: PeerNode, lookup: (topic: string) => RoomHistory | undefined): Promise<void> {
  const limiter = new RateLimiter({ points: HISTORY_DEFAULTS.requestsPerMinute, duration: 60 })
  await node.handle(HISTORY_PROTOCOL, async (stream, connection) => {
    const from = connection.remotePeer.toString()
    try {
      limiter.consume(from)
      await answerHistory(stream, from, async (from, request, signal) => await lookup(request.topic)?.serve(from, request, signal), AbortSignal.timeout(HISTORY_DEFAULTS.timeout))
    } catch (err: any) {
      // a refusal (RateLimitError: too many requests) or a broken request: the asker asks someone else
      stream.abort(err instanceof Error ? err : new Error(String(err)))
    }
  }, { runOnLimitedConnection: true, maxInboundStreams: 2 })
}
