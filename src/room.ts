// A room: a GossipSub topic (envelope.ts) with presence (presence.ts), and the checks every received message
// passes before it is delivered or forwarded.
import { TopicValidatorResult } from '@libp2p/gossipsub'
import { TypedEventEmitter } from 'main-event'
import { decodeEnvelope, messageEnvelope, presenceEnvelope, roomTopic } from './envelope.ts'
import { InvalidConfigError, MessageTooLargeError, PeerStoppedError } from './errors.ts'
import { RoomEnvelope } from './pb/room.ts'
import { Presence } from './presence.ts'
import type { Beacon, RoomMessage } from './envelope.ts'
import type { Guard } from './guard.ts'
import type { PeerNode } from './node.ts'
import type { Message } from '@libp2p/gossipsub'
import type { PeerId } from '@libp2p/interface'
import type { TypedEventTarget } from 'main-event'

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

/** A room this peer has joined (`peer.join(name)`): who is here, and the messages they send */
export interface Room extends TypedEventTarget<RoomEvents> {
  /** the name the room was joined under */
  readonly name: string
  /** its GossipSub topic, `roomTopic(name)` */
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
  /** Says goodbye and unsubscribes; the room object is done after this */
  leave: () => Promise<void>
}

/** room names are part of a topic string; keep them short and printable */
const NAME = /^[\p{L}\p{N}._~:@!$&'()*+,;=-]{1,128}$/u

/** Checks a room name and options; throws `InvalidConfigError` naming the bad one */
export function checkRoom (name: unknown, options: RoomOptions): number {
  if (typeof name !== 'string' || !NAME.test(name)) {
    throw new InvalidConfigError('name', `room name ${JSON.stringify(name)} must be 1-128 letters, digits or URL-safe punctuation, without "/"`)
  }
  const maxMessageSize = options.maxMessageSize ?? 65_536
  if (!Number.isInteger(maxMessageSize) || maxMessageSize < 1) {
    throw new InvalidConfigError('maxMessageSize', `must be a whole number of bytes ≥ 1, got ${JSON.stringify(options.maxMessageSize)}`)
  }
  return maxMessageSize
}

/** @internal rooms come from `peer.join()` (src/peer.ts), which keeps one per name */
export class RoomImpl extends TypedEventEmitter<RoomEvents> implements Room {
  readonly name: string
  readonly topic: string
  private readonly node: PeerNode
  private readonly guard: Guard
  private readonly self: string
  private readonly maxMessageSize: number
  private readonly presence: Presence
  private readonly validators: RoomValidator[] = []
  /** messages decoded by the validator (an app message, or a presence beacon's kind), so the message handler need not decode them again */
  private readonly checked = new WeakMap<Message, RoomMessage | Beacon>()
  private readonly onLeft: (members: string[]) => void
  private left = false
  /** our page is hidden: our beacons say so */
  private hidden = false
  private opened = false

  constructor (node: PeerNode, guard: Guard, name: string, options: RoomOptions, onLeft: (members: string[]) => void) {
    super()
    this.maxMessageSize = checkRoom(name, options)
    this.name = name
    this.topic = roomTopic(name)
    this.node = node
    this.guard = guard
    this.self = node.peerId.toString()
    this.onLeft = onLeft
    this.presence = new Presence(node, {
      join: peerId => this.safeDispatchEvent('peer:join', { detail: { peerId } }),
      leave: peerId => this.safeDispatchEvent('peer:leave', { detail: { peerId } }),
      announce: () => { void this.announce(RoomEnvelope.Presence.HERE) }
    })
  }

  validate (fn: RoomValidator): () => void {
    this.validators.push(fn)
    return () => {
      const at = this.validators.indexOf(fn)
      if (at >= 0) this.validators.splice(at, 1)
    }
  }

  get peers (): string[] {
    return this.presence.peers
  }

  /** Subscribes, waits for a first subscriber to talk to, and announces us */
  async open (options: RoomOptions = {}): Promise<void> {
    const pubsub = this.node.services.pubsub
    pubsub.topicValidators.set(this.topic, this.validate_)
    pubsub.addEventListener('message', this.onMessage)
    pubsub.subscribe(this.topic)
    await this.firstSubscriber(options.timeout ?? 5_000, options.signal)
    this.opened = true
    this.presence.start()
  }

  async send (data: string | Uint8Array | unknown, options: { signal?: AbortSignal } = {}): Promise<string> {
    options.signal?.throwIfAborted()
    if (this.left) throw new PeerStoppedError(`room ${JSON.stringify(this.name)} has been left`)
    const envelope = messageEnvelope(data)
    if (envelope.data.byteLength > this.maxMessageSize) {
      throw new MessageTooLargeError('room message', envelope.data.byteLength, this.maxMessageSize)
    }
    await this.publish(envelope)
    return envelope.id
  }

  async leave (): Promise<void> {
    if (this.left) return
    void this.announce(RoomEnvelope.Presence.LEAVE)
    this.left = true
    const members = this.presence.peers
    this.presence.stop()
    const pubsub = this.node.services.pubsub
    pubsub.removeEventListener('message', this.onMessage)
    pubsub.topicValidators.delete(this.topic)
    try { pubsub.unsubscribe(this.topic) } catch {}
    this.onLeft(members)
  }

  /** Best-effort goodbye when the page goes away; resolves once it is sent (or could not be), never rejects */
  async announceLeave (): Promise<void> {
    await this.announce(RoomEnvelope.Presence.LEAVE)
  }

  /**
   * Our page was hidden (or is about to be frozen), or is visible again: members hear it at once, so they
   * keep us while our beacons stop, and see us back (and we them: a fresh sweep) when it resumes
   */
  async setHidden (hidden: boolean): Promise<void> {
    if (this.left || hidden === this.hidden) return
    this.hidden = hidden
    if (this.opened) await this.announce(RoomEnvelope.Presence.HERE)
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
    await this.publish(presenceEnvelope(presence, presence === RoomEnvelope.Presence.HERE && this.hidden))
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
    if (this.guard.isMuted(author)) return TopicValidatorResult.Ignore
    const message = this.guard.allow(author, this.topic) ? await this.check(author, msg.data) : undefined
    if (message === undefined) {
      this.guard.strike(author)
      return source.equals(msg.from) ? TopicValidatorResult.Reject : TopicValidatorResult.Ignore
    }
    this.checked.set(msg, message)
    return TopicValidatorResult.Accept
  }

  /** The message decoded (an app message or a presence beacon), or undefined when it must be dropped */
  private async check (author: string, data: Uint8Array): Promise<RoomMessage | Beacon | undefined> {
    const message = decodeEnvelope(author, data, this.maxMessageSize)
    if (message == null || isBeacon(message)) return message
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
    const message = this.checked.get(msg) ?? decodeUnchecked(msg.data)
    if (isBeacon(message)) {
      if (message.presence === RoomEnvelope.Presence.LEAVE) this.presence.left(from, message.timestamp)
      else this.presence.seen(from, message.hidden, message.timestamp)
      return
    }
    this.presence.seen(from, false, message.timestamp)
    this.safeDispatchEvent('message', { detail: message })
  }
}

/** A message GossipSub delivered without our validator (none is set for it yet): what it says it is, as a beacon */
function decodeUnchecked (data: Uint8Array): Beacon {
  const env = RoomEnvelope.decode(data)
  return { presence: env.presence, hidden: env.hidden, timestamp: Number(env.timestamp) }
}

function isBeacon (message: RoomMessage | Beacon): message is Beacon {
  return 'presence' in message
}
