// A room's wire format: the GossipSub topic of a room, and the RoomEnvelope (src/pb/room.proto) that every
// room message and presence beacon is. A stock libp2p peer joins a room with these two (README › Rooms on the wire).
import { toString as toHex } from 'uint8arrays/to-string'
import { InvalidMessageError } from './errors.ts'
import { RoomEnvelope } from './pb/room.ts'
import type { RoomKey } from './room-key.ts'

/** Every Peerlane GossipSub topic starts with this; relays carry the topics their peers join */
export const ROOM_TOPIC_PREFIX = 'peerlane/'

/** The envelope version this SDK sends (fields 7-9 of RoomEnvelope); 1 is an envelope without `version` */
export const ENVELOPE_VERSION = 2

/** The GossipSub topic of room `name`; a stock libp2p peer subscribes to this to join */
export function roomTopic (name: string): string {
  return `${ROOM_TOPIC_PREFIX}1/room/${name}`
}

/** A message received in a room */
export interface RoomMessage {
  /** unique per message, chosen by the sender */
  id: string
  /** the sender's PeerId, checked against its GossipSub signature */
  from: string
  /** the payload as bytes, whatever was sent */
  data: Uint8Array
  /** set when a string or a JSON value was sent */
  text?: string
  /** set when a JSON value was sent */
  json?: unknown
  /** the sender's clock (ms since the epoch) when it sent the message */
  timestamp: number
  /**
   * true for a message sent before it reached us live: from the room's stored history, or from a member's
   * (see README › Room history). Our own earlier messages come back this way too.
   */
  history?: boolean
}

/** A received presence beacon, decoded: its kind, and whether its sender's page is hidden */
export interface Beacon {
  presence: RoomEnvelope.Presence
  hidden: boolean
}

/** A received envelope, opened: what it is, and when (by its author's clock and sequence) it was sent */
export interface Opened {
  body: RoomMessage | Beacon
  /** the author's clock, ms since the epoch */
  timestamp: number
  /** the author's sequence number; 0 from a version 1 envelope */
  seq: number
}

// room envelope fields besides the payload take well under this many bytes (sealing adds 28 and a few of framing)
const ENVELOPE_OVERHEAD = 320

/** A random message id, 24 hex digits */
export function newId (): string {
  return toHex(crypto.getRandomValues(new Uint8Array(12)), 'base16')
}

let lastSeq = 0

/**
 * The next sequence number of our envelopes: ms since the epoch × 1000, plus a counter when several fall
 * in one ms. It increases across reloads while the clock does (up to 1000 envelopes per ms), and is exact
 * as a JavaScript number until the year 2255.
 */
export function nextSeq (now = Date.now()): number {
  lastSeq = Math.max(now * 1000, lastSeq + 1)
  return lastSeq
}

/** An app message's envelope: a string, bytes or any JSON value as its payload */
export function messageEnvelope (data: unknown): RoomEnvelope & { data: Uint8Array<ArrayBuffer> } {
  const [encoding, bytes] = encode(data)
  return { ...header(), id: newId(), encoding, data: bytes, presence: RoomEnvelope.Presence.NONE, hidden: false }
}

/** A presence beacon's envelope (no payload); `hidden` on a HERE beacon when our page is hidden */
export function presenceEnvelope (presence: RoomEnvelope.Presence, hidden = false): RoomEnvelope {
  return { ...header(), id: newId(), encoding: RoomEnvelope.Encoding.BYTES, data: new Uint8Array(0), presence, hidden }
}

function header (): Pick<RoomEnvelope, 'timestamp' | 'version' | 'seq' | 'sealed'> {
  const now = Date.now()
  return { timestamp: BigInt(now), version: ENVELOPE_VERSION, seq: BigInt(nextSeq(now)), sealed: new Uint8Array(0) }
}

/** The bytes to publish: the envelope as it is, or, with a private room's key, its contents sealed */
export async function sealEnvelope (env: RoomEnvelope, key: RoomKey | undefined, author: string): Promise<Uint8Array<ArrayBuffer>> {
  if (key == null) return RoomEnvelope.encode(env)
  const inner = RoomEnvelope.encode({ id: env.id, encoding: env.encoding, data: env.data, presence: env.presence, hidden: env.hidden })
  return RoomEnvelope.encode({ timestamp: env.timestamp, version: env.version, seq: env.seq, sealed: await key.seal(inner, author) })
}

/**
 * A received envelope from `author`, opened (with `key` in a private room): an app message or a presence
 * beacon, or undefined when it is malformed, over `maxMessageSize`, sealed with another key (or not sealed
 * in a private room, or sealed in a public one): the message must then be dropped
 */
export async function openEnvelope (author: string, bytes: Uint8Array, maxMessageSize: number, key?: RoomKey): Promise<Opened | undefined> {
  if (bytes.byteLength > maxMessageSize + ENVELOPE_OVERHEAD) return undefined
  let outer: RoomEnvelope
  try {
    outer = RoomEnvelope.decode(bytes)
  } catch {
    return undefined
  }
  const seq = outer.version >= ENVELOPE_VERSION ? Number(outer.seq) : 0
  if (outer.version >= ENVELOPE_VERSION && seq <= 0) return undefined
  let env = outer
  if (key != null) {
    if (outer.sealed.byteLength === 0 || outer.id !== '' || outer.data.byteLength !== 0) return undefined
    const plain = await key.open(outer.sealed, author)
    if (plain == null) return undefined
    try {
      env = RoomEnvelope.decode(plain)
    } catch {
      return undefined
    }
    if (env.sealed.byteLength !== 0) return undefined
  } else if (outer.sealed.byteLength !== 0) {
    return undefined
  }
  const body = decodeBody(author, env, Number(outer.timestamp), maxMessageSize)
  return body == null ? undefined : { body, timestamp: Number(outer.timestamp), seq }
}

function decodeBody (author: string, env: RoomEnvelope, timestamp: number, maxMessageSize: number): RoomMessage | Beacon | undefined {
  if (env.data.byteLength > maxMessageSize || env.id === '' || env.id.length > 64) return undefined
  if (env.presence !== RoomEnvelope.Presence.NONE) return env.data.byteLength === 0 ? { presence: env.presence, hidden: env.hidden } : undefined
  try {
    return { id: env.id, from: author, data: env.data, timestamp, ...decodeText(env) }
  } catch {
    return undefined
  }
}

export function isBeacon (body: RoomMessage | Beacon): body is Beacon {
  return 'presence' in body
}

function encode (data: unknown): [RoomEnvelope.Encoding, Uint8Array<ArrayBuffer>] {
  if (typeof data === 'string') return [RoomEnvelope.Encoding.TEXT, new TextEncoder().encode(data)]
  if (data instanceof Uint8Array) return [RoomEnvelope.Encoding.BYTES, new Uint8Array(data)]
  let json: string | undefined
  try {
    json = JSON.stringify(data)
  } catch (err: any) {
    throw new InvalidMessageError(`room message cannot be serialised as JSON: ${err.message}`, { cause: err })
  }
  if (json === undefined) throw new InvalidMessageError(`room message of type ${typeof data} cannot be sent: use a string, a Uint8Array or a JSON value`)
  return [RoomEnvelope.Encoding.JSON, new TextEncoder().encode(json)]
}

const utf8 = new TextDecoder('utf-8', { fatal: true })

function decodeText (env: RoomEnvelope): { text?: string, json?: unknown } {
  if (env.encoding === RoomEnvelope.Encoding.BYTES) return {}
  const text = utf8.decode(env.data)
  return env.encoding === RoomEnvelope.Encoding.JSON ? { text, json: JSON.parse(text) } : { text }
}
