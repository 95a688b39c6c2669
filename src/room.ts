import { TopicValidatorResult } from '@libp2p/gossipsub'
import { TypedEventEmitter } from 'main-event'
import { toString as toHex } from 'uint8arrays/to-string'
import { InvalidMessageError, MessageTooLargeError, PeerStoppedError } from './errors.ts'
import { RoomEnvelope } from './pb/room.ts'
import type { PeerNode } from './node.ts'
import type { Message } from '@libp2p/gossipsub'

/** The GossipSub topic of room `name`; a stock libp2p peer subscribes to this to join */
export function roomTopic (name: string): string {
  return `peerlane/1/room/${name}`
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

/** The events of a `Room`: `room.addEventListener(type, e => e.detail)` */
export interface RoomEvents {
  /** a member sent a message */
  message: CustomEvent<RoomMessage>
  /** a peer was heard from in the room for the first time (or again after it had left) */
  'peer:join': CustomEvent<{ peerId: string }>
  /** a member said goodbye, or was not heard from for `MEMBER_TIMEOUT_MS` */
  'peer:leave': CustomEvent<{ peerId: string }>
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

  /** gives up joining; the call rejects with the signal's reason */
  signal?: AbortSignal
}

/** Presence timing: members announce themselves this often… */
export const HEARTBEAT_MS = 2_500
/** …and are dropped when not heard from for this long */
export const MEMBER_TIMEOUT_MS = 8_000
/** room names are part of a topic string; keep them short and printable */
const NAME = /^[\p{L}\p{N}._~:@!$&'()*+,;=-]{1,128}$/u
// room envelope fields besides the payload take well under this many bytes
const ENVELOPE_OVERHEAD = 256

/** A GossipSub topic with presence: who is here, and the messages they send */
export class Room extends TypedEventEmitter<RoomEvents> {
  /** the name the room was joined under */
  readonly name: string
  /** its GossipSub topic, `roomTopic(name)` */
  readonly topic: string
  private readonly node: PeerNode
  private readonly self: string
  private readonly maxMessageSize: number
  private readonly members = new Map<string, number>()
  private heartbeat?: ReturnType<typeof setInterval>
  private answer?: ReturnType<typeof setTimeout>
  private left = false
  private readonly onLeft: (room: Room) => void

  constructor (node: PeerNode, name: string, options: RoomOptions, onLeft: (room: Room) => void) {
    super()
    if (typeof name !== 'string' || !NAME.test(name)) {
      throw new InvalidMessageError(`room name ${JSON.stringify(name)} must be 1-128 letters, digits or URL-safe punctuation, without "/"`)
    }
    this.name = name
    this.topic = roomTopic(name)
    this.node = node
    this.self = node.peerId.toString()
    this.maxMessageSize = options.maxMessageSize ?? 65_536
    this.onLeft = onLeft
  }

  /** PeerIds of the other members, each seen (a presence beacon or a message) within the last few seconds */
  get peers (): string[] {
    return [...this.members.keys()]
  }

  /** Subscribes, waits for a first subscriber to talk to, and announces us */
  async open (options: RoomOptions = {}): Promise<void> {
    const pubsub = this.node.services.pubsub
    pubsub.topicValidators.set(this.topic, this.validate)
    pubsub.addEventListener('message', this.onMessage)
    pubsub.subscribe(this.topic)
    await this.firstSubscriber(options.timeout ?? 5_000, options.signal)
    this.heartbeat = setInterval(() => { this.sweep(); this.announce(RoomEnvelope.Presence.HERE) }, HEARTBEAT_MS)
    this.announce(RoomEnvelope.Presence.HERE)
  }

  /**
   * Sends a message to everyone in the room: a string, bytes, or any JSON-serialisable value.
   * Resolves to the message id.
   */
  async send (data: string | Uint8Array | unknown, options: { signal?: AbortSignal } = {}): Promise<string> {
    options.signal?.throwIfAborted()
    if (this.left) throw new PeerStoppedError(`room ${JSON.stringify(this.name)} has been left`)
    const [encoding, bytes] = encode(data)
    if (bytes.byteLength > this.maxMessageSize) {
      throw new MessageTooLargeError('room message', bytes.byteLength, this.maxMessageSize)
    }
    const id = newId()
    await this.publish({ id, timestamp: BigInt(Date.now()), encoding, data: bytes, presence: RoomEnvelope.Presence.NONE })
    return id
  }

  /** Says goodbye and unsubscribes; the room object is done after this */
  async leave (): Promise<void> {
    if (this.left) return
    this.announce(RoomEnvelope.Presence.LEAVE)
    this.left = true
    clearInterval(this.heartbeat)
    clearTimeout(this.answer)
    const pubsub = this.node.services.pubsub
    pubsub.removeEventListener('message', this.onMessage)
    pubsub.topicValidators.delete(this.topic)
    try { pubsub.unsubscribe(this.topic) } catch {}
    this.members.clear()
    this.onLeft(this)
  }

  /** Best-effort goodbye when the page goes away (no awaiting: the page may not live that long) */
  announceLeave (): void {
    this.announce(RoomEnvelope.Presence.LEAVE)
  }

  private async firstSubscriber (timeout: number, signal?: AbortSignal): Promise<void> {
    const pubsub = this.node.services.pubsub
    if (pubsub.getSubscribers(this.topic).length > 0) return
    await new Promise<void>((resolve, reject) => {
      const done = (): void => {
        clearTimeout(timer)
        pubsub.removeEventListener('subscription-change', check)
        signal?.removeEventListener('abort', abort)
      }
      const check = (): void => {
        if (pubsub.getSubscribers(this.topic).length > 0) { done(); resolve() }
      }
      const abort = (): void => { done(); reject(signal?.reason) }
      // alone in the room (or no relay carries it yet): still a valid room, messages flow once someone comes
      const timer = setTimeout(() => { done(); resolve() }, timeout)
      pubsub.addEventListener('subscription-change', check)
      signal?.addEventListener('abort', abort)
      if (signal?.aborted === true) abort()
    })
  }

  private announce (presence: RoomEnvelope.Presence): void {
    if (this.left) return
    this.publish({ id: newId(), timestamp: BigInt(Date.now()), encoding: RoomEnvelope.Encoding.BYTES, data: new Uint8Array(0), presence })
      .catch(() => {}) // presence is best effort; the next beacon follows soon
  }

  private async publish (envelope: RoomEnvelope): Promise<void> {
    await this.node.services.pubsub.publish(this.topic, RoomEnvelope.encode(envelope))
  }

  /** GossipSub validator: malformed or oversize envelopes are rejected, which also lowers the sender's score */
  private readonly validate = (_from: unknown, msg: Message): TopicValidatorResult => {
    if (msg.type !== 'signed' || msg.data.byteLength > this.maxMessageSize + ENVELOPE_OVERHEAD) {
      return TopicValidatorResult.Reject
    }
    try {
      const env = RoomEnvelope.decode(msg.data)
      if (env.data.byteLength > this.maxMessageSize || env.id === '') return TopicValidatorResult.Reject
      if (env.encoding !== RoomEnvelope.Encoding.BYTES) decodeText(env)
    } catch {
      return TopicValidatorResult.Reject
    }
    return TopicValidatorResult.Accept
  }

  private readonly onMessage = (evt: CustomEvent<Message>): void => {
    const msg = evt.detail
    if (msg.topic !== this.topic || msg.type !== 'signed') return
    const from = msg.from.toString()
    if (from === this.self) return
    const env = RoomEnvelope.decode(msg.data)

    if (env.presence === RoomEnvelope.Presence.LEAVE) {
      if (this.members.delete(from)) this.safeDispatchEvent('peer:leave', { detail: { peerId: from } })
      return
    }
    this.seen(from)
    if (env.presence === RoomEnvelope.Presence.HERE) return

    this.safeDispatchEvent('message', {
      detail: { id: env.id, from, data: env.data, timestamp: Number(env.timestamp), ...decodeText(env) }
    })
  }

  private seen (peerId: string): void {
    const known = this.members.has(peerId)
    this.members.set(peerId, Date.now())
    if (known) return
    this.safeDispatchEvent('peer:join', { detail: { peerId } })
    // a newcomer should not wait a whole heartbeat to learn we are here; jitter spreads the answers of a busy room
    this.answer ??= setTimeout(() => {
      this.answer = undefined
      this.announce(RoomEnvelope.Presence.HERE)
    }, 50 + Math.random() * 250)
  }

  private sweep (): void {
    const cutoff = Date.now() - MEMBER_TIMEOUT_MS
    for (const [peerId, lastSeen] of this.members) {
      if (lastSeen < cutoff) {
        this.members.delete(peerId)
        this.safeDispatchEvent('peer:leave', { detail: { peerId } })
      }
    }
  }
}

function newId (): string {
  return toHex(crypto.getRandomValues(new Uint8Array(12)), 'base16')
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
