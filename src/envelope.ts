// A room's wire format: the GossipSub topic of a room, and the RoomEnvelope (src/pb/room.proto) that every
// room message and presence beacon is. A stock libp2p peer joins a room with these two (README › Rooms on the wire).
import { toString as toHex } from 'uint8arrays/to-string'
import { InvalidMessageError } from './errors.ts'
import { RoomEnvelope } from './pb/room.ts'

/** Every Peerlane GossipSub topic starts with this; relays carry the topics their peers join */
export const ROOM_TOPIC_PREFIX = 'peerlane/'

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
}

// room envelope fields besides the payload take well under this many bytes
const ENVELOPE_OVERHEAD = 256

/** A random message id, 24 hex digits */
export function newId (): string {
  return toHex(crypto.getRandomValues(new Uint8Array(12)), 'base16')
}

/** An app message's envelope: a string, bytes or any JSON value as its payload */
export function messageEnvelope (data: unknown): RoomEnvelope & { data: Uint8Array<ArrayBuffer> } {
  const [encoding, bytes] = encode(data)
  return { id: newId(), timestamp: BigInt(Date.now()), encoding, data: bytes, presence: RoomEnvelope.Presence.NONE, hidden: false }
}

/** A presence beacon's envelope (no payload); `hidden` on a HERE beacon when our page is hidden */
export function presenceEnvelope (presence: RoomEnvelope.Presence, hidden = false): RoomEnvelope {
  return { id: newId(), timestamp: BigInt(Date.now()), encoding: RoomEnvelope.Encoding.BYTES, data: new Uint8Array(0), presence, hidden }
}

/** A received presence beacon, decoded: its kind, and whether its sender's page is hidden */
export interface Beacon {
  presence: RoomEnvelope.Presence
  hidden: boolean
  /** the sender's clock when it sent it (ms since the epoch) */
  timestamp: number
}

/**
 * A received envelope from `author`, decoded: an app message, a presence beacon, or undefined when it
 * is malformed or over `maxMessageSize` (the message must then be dropped)
 */
export function decodeEnvelope (author: string, bytes: Uint8Array, maxMessageSize: number): RoomMessage | Beacon | undefined {
  if (bytes.byteLength > maxMessageSize + ENVELOPE_OVERHEAD) return undefined
  try {
    const env = RoomEnvelope.decode(bytes)
    if (env.data.byteLength > maxMessageSize || env.id === '' || env.id.length > 64) return undefined
    if (env.presence !== RoomEnvelope.Presence.NONE) return env.data.byteLength === 0 ? { presence: env.presence, hidden: env.hidden, timestamp: Number(env.timestamp) } : undefined
    return { id: env.id, from: author, data: env.data, timestamp: Number(env.timestamp), ...decodeText(env) }
  } catch {
    return undefined
  }
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
