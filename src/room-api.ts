// What a room is to an app: the `Room` interface, its events, the options of `peer.join`, and their checks.
import { InvalidConfigError } from './errors.ts'
import { HISTORY_DEFAULTS } from './history.ts'
import { ADMISSION_DEFAULTS } from './presence.ts'
import type { ContentRef, FetchOptions, ShareOptions } from './content.ts'
import type { RoomMessage } from './envelope.ts'
import type { HistoryLimits } from './history.ts'
import type { TypedEventTarget } from 'main-event'

/**
 * Decides whether a received room message is acceptable. Return `false` (or throw) to drop it: the
 * message is not delivered nor forwarded, and its author gets a strike (see README › Rooms › Abuse).
 * History messages pass it too (a refused one is dropped, nobody is struck).
 */
export type RoomValidator = (message: RoomMessage) => boolean | Promise<boolean>

/** The events of a `Room`: `room.addEventListener(type, e => e.detail)` */
export interface RoomEvents {
  /** a member sent a message; `detail.history` is true for one sent before it reached us live (README › Room history) */
  message: CustomEvent<RoomMessage>
  /** a peer was heard from in the room for the first time (or again after it had left) */
  'peer:join': CustomEvent<{ peerId: string }>
  /** a member said goodbye, or was not heard from for `MEMBER_TIMEOUT_MS` (or its links closed, see `DISCONNECT_GRACE_MS`) */
  'peer:leave': CustomEvent<{ peerId: string }>
}

/** How much of a room's history a member keeps; see `RoomOptions.history` */
export interface HistoryOptions {
  /**
   * The most recent messages kept.
   *
   * @default 1000
   */
  maxMessages?: number
  /**
   * How long a message is kept after it arrived, in ms.
   *
   * @default 604800000 (7 days)
   */
  maxAge?: number
  /**
   * The most bytes of signed messages kept.
   *
   * @default 16777216 (16 MiB)
   */
  maxBytes?: number
}

/** Options for `peer.join` */
export interface RoomOptions {
  /**
   * The largest payload `send` accepts and receivers take, in bytes; larger payloads belong on streams.
   *
   * @default 65536
   */
  maxMessageSize?: number

  /**
   * How long `join` waits for the first other subscriber of the room (usually a relay) before resolving anyway.
   *
   * @default 5000
   */
  timeout?: number

  /**
   * Makes the room private: its topic and an AES-256-GCM key are derived from this secret (and the room's
   * name), and every envelope's contents are encrypted with it. Members share it out of band (an invite
   * link's fragment, say); use a random one, at least 16 bytes. A different secret is a different, empty room.
   *
   * @default undefined (a public room on `roomTopic(name)`)
   */
  secret?: string | Uint8Array

  /**
   * Keep the room's recent messages (in IndexedDB in browsers, in memory in Node), serve them to members who
   * join later, and ask present members for what we lack when joining. `false` opts out of all three.
   *
   * @default true (the last 1,000 messages, 7 days, 16 MiB)
   */
  history?: boolean | HistoryOptions

  /**
   * The most members the room tracks; messages of further authors are dropped until some leave.
   *
   * @default 1000
   */
  maxMembers?: number

  /**
   * How many new members the room admits per second (and at most at once); messages of authors beyond it
   * are dropped, and admitted with their next beacon.
   *
   * @default 10
   */
  admissionRate?: number

  /** gives up joining; the call rejects with the signal's reason */
  signal?: AbortSignal
}

/** A room this peer has joined (`peer.join(name)`): who is here, and the messages they send */
export interface Room extends TypedEventTarget<RoomEvents> {
  /** the name the room was joined under */
  readonly name: string
  /** its GossipSub topic: `roomTopic(name)`, or for a private room one derived from its secret */
  readonly topic: string
  /** PeerIds of the other members, each seen (a presence beacon or a message) within the last few seconds */
  readonly peers: string[]
  /**
   * Adds a check every received message must pass (after Peerlane's own: signature, size, rate, format).
   * Returns a function that removes it.
   */
  validate: (fn: RoomValidator) => () => void
  /** Sends a message to everyone in the room: a string, bytes, or any JSON-serialisable value. Resolves to its id. */
  send: (data: string | Uint8Array | unknown, options?: { signal?: AbortSignal }) => Promise<string>
  /**
   * Shares content into the room, as `peer.share` does. In a private room it is sealed first (AES-256-GCM, a key
   * per file from the room's secret): its blocks are stored and served sealed, and the ref (`sealed` set) opens
   * only with `room.fetch` in a room with the same secret. Send the ref to the room as a message.
   */
  share: (source: Blob | ReadableStream<Uint8Array>, options?: ShareOptions) => Promise<ContentRef>
  /**
   * Fetches content shared into the room, as `peer.fetch` does, asking the room's members first. A sealed ref is
   * opened as it is read; a segment that does not open (another room's ref, altered content) fails with `ContentSealedError`.
   */
  fetch: ((ref: ContentRef, options: FetchOptions & { as: 'stream' }) => Promise<ReadableStream<Uint8Array>>) & ((ref: ContentRef, options?: FetchOptions) => Promise<Blob>)
  /** Says goodbye and unsubscribes; the room object is done after this */
  leave: () => Promise<void>
}

/** A room's options, checked, with defaults filled in */
export interface RoomSettings {
  maxMessageSize: number
  history: HistoryLimits | undefined
  maxMembers: number
  admissionRate: number
}

/** room names are part of a topic string; keep them short and printable */
const NAME = /^[\p{L}\p{N}._~:@!$&'()*+,;=-]{1,128}$/u

/** Checks a room name and options; throws `InvalidConfigError` naming the bad one */
export function checkRoom (name: unknown, options: RoomOptions): RoomSettings {
  if (typeof name !== 'string' || !NAME.test(name)) {
    throw new InvalidConfigError('name', `room name ${JSON.stringify(name)} must be 1-128 letters, digits or URL-safe punctuation, without "/"`)
  }
  const whole = (field: string, value: unknown, fallback: number, min = 1): number => {
    const n = value ?? fallback
    if (typeof n !== 'number' || !Number.isInteger(n) || n < min) throw new InvalidConfigError(field, `must be a whole number ≥ ${min}, got ${JSON.stringify(value)}`)
    return n
  }
  const history = options.history ?? true
  if (typeof history !== 'boolean' && (history == null || typeof history !== 'object')) {
    throw new InvalidConfigError('history', `must be true, false or { maxMessages?, maxAge?, maxBytes? }, got ${JSON.stringify(history)}`)
  }
  const h = typeof history === 'object' ? history : {}
  const admissionRate = options.admissionRate ?? ADMISSION_DEFAULTS.admissionRate
  if (typeof admissionRate !== 'number' || !(admissionRate > 0)) {
    throw new InvalidConfigError('admissionRate', `must be a number of members per second > 0, got ${JSON.stringify(options.admissionRate)}`)
  }
  return {
    maxMessageSize: whole('maxMessageSize', options.maxMessageSize, 65_536),
    history: history === false
      ? undefined
      : {
          maxMessages: whole('history.maxMessages', h.maxMessages, HISTORY_DEFAULTS.maxMessages),
          maxAge: whole('history.maxAge', h.maxAge, HISTORY_DEFAULTS.maxAge),
          maxBytes: whole('history.maxBytes', h.maxBytes, HISTORY_DEFAULTS.maxBytes)
        },
    maxMembers: whole('maxMembers', options.maxMembers, ADMISSION_DEFAULTS.maxMembers),
    admissionRate
  }
}
