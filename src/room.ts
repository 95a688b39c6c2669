import { TopicValidatorResult } from '@libp2p/gossipsub'
import { TypedEventEmitter } from 'main-event'
import { toString as toHex } from 'uint8arrays/to-string'
import { InvalidMessageError, MessageTooLargeError, PeerStoppedError } from './errors.ts'
import { RoomEnvelope } from './pb/room.ts'
import type { Guard } from './guard.ts'
import type { PeerNode } from './node.ts'
import type { Message } from '@libp2p/gossipsub'
import type { PeerId } from '@libp2p/interface'

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

/**
 * Decides whether a received room message is acceptable. Return `false` (or throw) to drop it: the
 * message is not delivered nor forwarded, and its author gets a strike (see README › Rooms › Abuse).
 */
export type RoomValidator = (message: RoomMessage) => boolean | Promise<boolean>

/** The events of a `Room`: `room.addEventListener(type, e => e.detail)` */
export interface RoomEvents {
  /** a member sent a message */
  message: CustomEvent<RoomMessage>
  /** a peer was heard from in the room for the first time (or again after it had left) */
  'peer:join': CustomEvent<{ peerId: string }>
  /** a member said goodbye, or was not heard from for `MEMBER_TIMEOUT_MS` (or its links closed, see `DISCONNECT_GRACE_MS`) */
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
export const HEARTBEAT_MS = 2_000
/** …and are dropped when not heard from for this long */
export const MEMBER_TIMEOUT_MS = 6_000
/** a member whose last connection to us closed is dropped this soon, unless heard from meanwhile */
export const DISCONNECT_GRACE_MS = 3_500
/** room names are part of a topic string; keep them short and printable */
const NAME = /^[\p{L}\p{N}._~:@!$&'()*+,;=-]{1,128}$/u
// room envelope fields besides the payload take well under this many bytes
const ENVELOPE_OVERHEAD = 256

/** What a Room needs from its Peer */
export interface RoomContext {
  node: PeerNode
  guard: Guard
  /** a member was seen for the first time: the peer may link to it directly */
  onMember: (peerId: string) => void
  onLeft: (room: Room) => void
}

/** A GossipSub topic with presence: who is here, and the messages they send */
export class Room extends TypedEventEmitter<RoomEvents> {
  /** the name the room was joined under */
  readonly name: string
  /** its GossipSub topic, `roomTopic(name)` */
  readonly topic: string
  private readonly node: PeerNode
  private readonly context: RoomContext
  private readonly self: string
  private readonly maxMessageSize: number
  private readonly members = new Map<string, number>()
  private readonly validators: RoomValidator[] = []
  /** messages decoded by the validator (an app message, or a presence beacon's kind), so the message handler need not decode them again */
  private readonly checked = new WeakMap<Message, RoomMessage | RoomEnvelope.Presence>()
  private heartbeat?: ReturnType<typeof setInterval>
  private answer?: ReturnType<typeof setTimeout>
  private left = false

  /** @internal rooms come from `peer.join()` */
  constructor (context: RoomContext, name: string, options: RoomOptions) {
    super()
    if (typeof name !== 'string' || !NAME.test(name)) {
      throw new InvalidMessageError(`room name ${JSON.stringify(name)} must be 1-128 letters, digits or URL-safe punctuation, without "/"`)
    }
    this.name = name
    this.topic = roomTopic(name)
    this.context = context
    this.node = context.node
    this.self = context.node.peerId.toString()
    this.maxMessageSize = options.maxMessageSize ?? 65_536
    if (!Number.isInteger(this.maxMessageSize) || this.maxMessageSize < 1) {
      throw new InvalidMessageError(`maxMessageSize must be a whole number of bytes ≥ 1, got ${JSON.stringify(options.maxMessageSize)}`)
    }
  }

  /**
   * Adds a check every received message must pass (after Peerlane's own: signature, size, rate, format).
   * Returns a function that removes it.
   */
  validate (fn: RoomValidator): () => void {
    this.validators.push(fn)
    return () => {
      const at = this.validators.indexOf(fn)
      if (at >= 0) this.validators.splice(at, 1)
    }
  }

  /** PeerIds of the other members, each seen (a presence beacon or a message) within the last few seconds */
  get peers (): string[] {
    return [...this.members.keys()]
  }

  /** Subscribes, waits for a first subscriber to talk to, and announces us */
  async open (options: RoomOptions = {}): Promise<void> {
    const pubsub = this.node.services.pubsub
    pubsub.topicValidators.set(this.topic, this.validate_)
    pubsub.addEventListener('message', this.onMessage)
    this.node.addEventListener('peer:disconnect', this.onDisconnect)
    pubsub.subscribe(this.topic)
    await this.firstSubscriber(options.timeout ?? 5_000, options.signal)
    this.heartbeat = setInterval(() => { this.sweep(); void this.announce(RoomEnvelope.Presence.HERE) }, HEARTBEAT_MS)
    void this.announce(RoomEnvelope.Presence.HERE)
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
    void this.announce(RoomEnvelope.Presence.LEAVE)
    this.left = true
    clearInterval(this.heartbeat)
    clearTimeout(this.answer)
    const pubsub = this.node.services.pubsub
    pubsub.removeEventListener('message', this.onMessage)
    this.node.removeEventListener('peer:disconnect', this.onDisconnect)
    pubsub.topicValidators.delete(this.topic)
    try { pubsub.unsubscribe(this.topic) } catch {}
    this.members.clear()
    this.context.onLeft(this)
  }

  /** Best-effort goodbye when the page goes away; resolves once it is sent (or could not be), never rejects */
  async announceLeave (): Promise<void> {
    await this.announce(RoomEnvelope.Presence.LEAVE)
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

  /** Publishes a presence beacon; resolves once it is sent (or could not be), never rejects */
  private async announce (presence: RoomEnvelope.Presence): Promise<void> {
    if (this.left) return
    await this.publish({ id: newId(), timestamp: BigInt(Date.now()), encoding: RoomEnvelope.Encoding.BYTES, data: new Uint8Array(0), presence })
      .catch(() => {}) // presence is best effort; the next beacon follows soon
  }

  private async publish (envelope: RoomEnvelope): Promise<void> {
    await this.node.services.pubsub.publish(this.topic, RoomEnvelope.encode(envelope))
  }

  /**
   * GossipSub validator. A bad message (malformed, oversize, over the author's rate, or refused by an app
   * validator) is dropped and its author gets a strike. It is `Reject`ed (lowering the GossipSub score of the
   * peer that sent it) only when that peer is its author: a relay or member that merely forwarded it is not
   * blamed, it is `Ignore`d.
   */
  private readonly validate_ = async (source: PeerId, msg: Message): Promise<TopicValidatorResult> => {
    if (msg.type !== 'signed') return TopicValidatorResult.Reject
    const author = msg.from.toString()
    const guard = this.context.guard
    if (guard.isMuted(author)) return TopicValidatorResult.Ignore
    const message = guard.allow(author, this.topic) ? await this.check(author, msg) : undefined
    if (message === undefined) {
      guard.strike(author)
      return source.equals(msg.from) ? TopicValidatorResult.Reject : TopicValidatorResult.Ignore
    }
    this.checked.set(msg, message)
    return TopicValidatorResult.Accept
  }

  /** The message decoded (for a valid presence beacon, its kind), or undefined when it must be dropped */
  private async check (author: string, msg: Message & { type: 'signed' }): Promise<RoomMessage | RoomEnvelope.Presence | undefined> {
    if (msg.data.byteLength > this.maxMessageSize + ENVELOPE_OVERHEAD) return undefined
    let message: RoomMessage
    let env: RoomEnvelope
    try {
      env = RoomEnvelope.decode(msg.data)
      if (env.data.byteLength > this.maxMessageSize || env.id === '' || env.id.length > 64) return undefined
      if (env.presence !== RoomEnvelope.Presence.NONE) return env.data.byteLength === 0 ? env.presence : undefined
      message = { id: env.id, from: author, data: env.data, timestamp: Number(env.timestamp), ...decodeText(env) }
    } catch {
      return undefined
    }
    for (const fn of this.validators) {
      try {
        if (await fn(message) === false) return undefined
      } catch {
        return undefined
      }
    }
    return message
  }

  private readonly onMessage = (evt: CustomEvent<Message>): void => {
    const msg = evt.detail
    if (msg.topic !== this.topic || msg.type !== 'signed') return
    const from = msg.from.toString()
    if (from === this.self) return
    // the validator's verdict; a message it never saw is treated as a beacon, by what it says it is
    const message = this.checked.get(msg) ?? RoomEnvelope.decode(msg.data).presence
    if (typeof message !== 'object') {
      if (message === RoomEnvelope.Presence.LEAVE) {
        if (this.members.delete(from)) this.safeDispatchEvent('peer:leave', { detail: { peerId: from } })
        return
      }
      this.seen(from)
      return
    }
    this.seen(from)
    this.safeDispatchEvent('message', { detail: message })
  }

  /**
   * A tab that closes cannot reliably send its goodbye, but its direct links close with it: a member we
   * lose every connection to is dropped after a short grace, unless a beacon (via the relay) says it is still here.
   */
  private readonly onDisconnect = (evt: CustomEvent<PeerId>): void => {
    const peerId = evt.detail.toString()
    if (!this.members.has(peerId)) return
    const at = Date.now()
    setTimeout(() => {
      const lastSeen = this.members.get(peerId)
      if (lastSeen != null && lastSeen <= at && !this.left) {
        this.members.delete(peerId)
        this.safeDispatchEvent('peer:leave', { detail: { peerId } })
      }
    }, DISCONNECT_GRACE_MS)
  }

  private seen (peerId: string): void {
    const known = this.members.has(peerId)
    this.members.set(peerId, Date.now())
    if (known) return
    this.safeDispatchEvent('peer:join', { detail: { peerId } })
    this.context.onMember(peerId)
    // a newcomer should not wait a whole heartbeat to learn we are here; jitter spreads the answers of a busy room
    this.answer ??= setTimeout(() => {
      this.answer = undefined
      void this.announce(RoomEnvelope.Presence.HERE)
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
