// A room: a GossipSub topic (envelope.ts) with presence (presence.ts), history (history.ts) and, for a private
// room, its key (room-key.ts), and the checks every received message passes before it is delivered or forwarded.
import { TopicValidatorResult } from '@libp2p/gossipsub'
import { TypedEventEmitter } from 'main-event'
import { isBeacon, messageEnvelope, openEnvelope, presenceEnvelope, roomTopic, sealEnvelope } from './envelope.ts'
import { toString as toBase64 } from 'uint8arrays/to-string'
import { fromString as fromBase64 } from 'uint8arrays/from-string'
import { checkRef, SEALED_SEGMENT } from './content.ts'
import { ContentSealedError, MessageTooLargeError, PeerStoppedError } from './errors.ts'
import { historyKey, RoomHistory } from './history.ts'
import { peerLogger } from './logger.ts'
import { RoomEnvelope } from './pb/room.ts'
import { Presence } from './presence.ts'
import { ReplayGuard } from './replay.ts'
import { checkRoom } from './room-api.ts'
import type { Content, ContentRef, FetchOptions, ShareOptions } from './content.ts'
import type { Opened, RoomMessage } from './envelope.ts'
import type { Guard } from './guard.ts'
import type { HistoryStore } from './history-store.ts'
import type { PeerNode } from './node.ts'
import type { Room, RoomEvents, RoomOptions, RoomSettings, RoomValidator } from './room-api.ts'
import type { RoomKey } from './room-key.ts'
import type { Message, SignedMessage } from '@libp2p/gossipsub'
import type { Connection, PeerId } from '@libp2p/interface'

const log = peerLogger('room')

/** Messages that arrive while `join` runs are held (at most this many) and delivered once it resolved */
const EARLY_MESSAGES = 1000

/** What a room is made with besides its name and options */
export interface RoomParts {
  node: PeerNode
  guard: Guard
  store: HistoryStore
  /** live messages outside this window (ms) of our clock are replays */
  replayWindow: number
  /** a connection to a member, for history */
  connectionTo: (peerId: string, signal: AbortSignal) => Promise<Connection>
  /** a private room's key (derived from its secret); undefined for a public room */
  key?: RoomKey
  /** the peer's content (room.share / room.fetch) */
  content: Content
  /** called once the room is left, with the members it had */
  onLeft: (members: string[]) => void
}

/** @internal rooms come from `peer.join()` (src/peer.ts), which keeps one per topic */
export class RoomImpl extends TypedEventEmitter<RoomEvents> implements Room {
  readonly name: string
  readonly topic: string
  /** the room's history, unless it opted out */
  readonly history?: RoomHistory
  private readonly parts: RoomParts
  private readonly settings: RoomSettings
  private readonly self: string
  private readonly presence: Presence
  private readonly replay: ReplayGuard
  private readonly validators: RoomValidator[] = []
  /** messages opened by the validator, so the message handler need not open them again */
  private readonly checked = new WeakMap<Message, Opened>()
  /** the envelopes we publish (by their bytes, which GossipSub hands back to us with its signature), for our history */
  private readonly own = new WeakMap<Uint8Array, RoomMessage>()
  /** live messages that arrived before `join` resolved */
  private early: RoomMessage[] | undefined = []
  private left = false
  /** our page is hidden: our beacons say so */
  private hidden = false
  private opened = false

  constructor (name: string, options: RoomOptions, parts: RoomParts) {
    super()
    this.settings = checkRoom(name, options)
    this.name = name
    this.parts = parts
    this.topic = parts.key?.topic ?? roomTopic(name)
    this.self = parts.node.peerId.toString()
    this.replay = new ReplayGuard(parts.replayWindow)
    this.presence = new Presence(parts.node, {
      join: peerId => {
        this.safeDispatchEvent('peer:join', { detail: { peerId } })
        this.history?.ask(peerId)
      },
      leave: peerId => this.safeDispatchEvent('peer:leave', { detail: { peerId } }),
      announce: () => { void this.announce(RoomEnvelope.Presence.HERE) }
    }, this.settings)
    const limits = this.settings.history
    if (limits != null) {
      this.history = new RoomHistory({
        topic: this.topic,
        limits,
        store: parts.store,
        guard: parts.guard,
        maxEnvelope: this.settings.maxMessageSize,
        overlap: parts.replayWindow,
        connectionTo: parts.connectionTo,
        open: async msg => await this.openHistory(msg),
        deliver: message => { this.deliver(message) },
        isMember: peerId => this.presence.has(peerId)
      })
    }
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

  /**
   * Loads the stored history, subscribes, waits for a first subscriber to talk to, and announces us; once
   * `join` has resolved (the next task), delivers the stored history, then what arrived meanwhile
   */
  async open (options: RoomOptions = {}): Promise<void> {
    await this.history?.load()
    const pubsub = this.parts.node.services.pubsub
    pubsub.topicValidators.set(this.topic, this.validate_)
    pubsub.addEventListener('message', this.onMessage)
    pubsub.subscribe(this.topic)
    await this.firstSubscriber(options.timeout ?? 5_000, options.signal)
    this.opened = true
    this.presence.start()
    setTimeout(() => { void this.ready() }, 0)
  }

  async send (data: string | Uint8Array | unknown, options: { signal?: AbortSignal } = {}): Promise<string> {
    options.signal?.throwIfAborted()
    if (this.left) throw new PeerStoppedError(`room ${JSON.stringify(this.name)} has been left`)
    const envelope = messageEnvelope(data)
    if (envelope.data.byteLength > this.settings.maxMessageSize) {
      throw new MessageTooLargeError('room message', envelope.data.byteLength, this.settings.maxMessageSize)
    }
    const bytes = await sealEnvelope(envelope, this.parts.key, this.self)
    this.own.set(bytes, { id: envelope.id, from: this.self, data: envelope.data, timestamp: Number(envelope.timestamp) })
    await this.parts.node.services.pubsub.publish(this.topic, bytes)
    return envelope.id
  }

  async share (source: Blob | ReadableStream<Uint8Array>, options?: ShareOptions): Promise<ContentRef> {
    this.assertJoined()
    const { key, content } = this.parts
    if (key == null) return await content.share(source, options)
    const salt = crypto.getRandomValues(new Uint8Array(16))
    return await content.share(source, options, { key: await key.contentKey(salt), salt: toBase64(salt, 'base64url'), segment: SEALED_SEGMENT })
  }

  async fetch (ref: ContentRef, options: FetchOptions & { as: 'stream' }): Promise<ReadableStream<Uint8Array>>
  async fetch (ref: ContentRef, options?: FetchOptions): Promise<Blob>
  async fetch (ref: ContentRef, options: FetchOptions = {}): Promise<Blob | ReadableStream<Uint8Array>> {
    this.assertJoined()
    const { key, content } = this.parts
    const checked = checkRef(ref)
    const withMembers = { ...options, from: [...new Set([...(options.from ?? []), ...this.peers])] }
    if (checked.sealed == null) return await content.fetch(checked, withMembers)
    if (key == null) throw new ContentSealedError(checked.cid, `${checked.cid} is sealed for a private room: ${JSON.stringify(this.name)} is public`)
    return await content.fetch(checked, withMembers, { key: await key.contentKey(fromBase64(checked.sealed.salt, 'base64url')), segment: checked.sealed.segment })
  }

  async leave (): Promise<void> {
    if (this.left) return
    void this.announce(RoomEnvelope.Presence.LEAVE)
    this.left = true
    const members = this.presence.peers
    this.presence.stop()
    this.history?.stop()
    const pubsub = this.parts.node.services.pubsub
    pubsub.removeEventListener('message', this.onMessage)
    pubsub.topicValidators.delete(this.topic)
    try { pubsub.unsubscribe(this.topic) } catch {}
    this.parts.onLeft(members)
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

  private assertJoined (): void {
    if (this.left) throw new PeerStoppedError(`room ${JSON.stringify(this.name)} has been left`)
  }

  private async ready (): Promise<void> {
    await this.history?.replay()
    this.history?.start()
    const early = this.early ?? []
    this.early = undefined
    for (const message of early) this.deliver(message)
  }

  private deliver (message: RoomMessage): void {
    if (this.left) return
    if (this.early != null && message.history !== true) {
      if (this.early.length < EARLY_MESSAGES) this.early.push(message)
      return
    }
    this.safeDispatchEvent('message', { detail: message })
  }

  private async firstSubscriber (timeout: number, signal?: AbortSignal): Promise<void> {
    const pubsub = this.parts.node.services.pubsub
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
    try {
      const envelope = presenceEnvelope(presence, presence === RoomEnvelope.Presence.HERE && this.hidden)
      await this.parts.node.services.pubsub.publish(this.topic, await sealEnvelope(envelope, this.parts.key, this.self))
    } catch {} // presence is best effort; the next beacon follows soon
  }

  /**
   * GossipSub validator. A bad message (malformed, oversize, over the author's rate, not sealed with a private
   * room's key, or refused by an app validator) is dropped and its author gets a strike. It is `Reject`ed
   * (lowering the GossipSub score of the peer that sent it) only when that peer is its author: a relay or
   * member that merely forwarded it is not blamed, it is `Ignore`d. A stale or replayed message, or one from
   * an author the room does not admit now (ADMISSION_DEFAULTS), is ignored without a strike.
   */
  private readonly validate_ = async (source: PeerId, msg: Message): Promise<TopicValidatorResult> => {
    if (msg.type !== 'signed') return TopicValidatorResult.Reject
    const author = msg.from.toString()
    const { guard } = this.parts
    if (guard.isMuted(author)) return TopicValidatorResult.Ignore
    const opened = guard.allow(author, this.topic) ? await openEnvelope(author, msg.data, this.settings.maxMessageSize, this.parts.key) : undefined
    if (opened != null) {
      if (!this.presence.admits(author)) return TopicValidatorResult.Ignore
      const stale = this.replay.check(author, opened.timestamp, opened.seq)
      if (stale != null) {
        log('dropped a %s message from %s (%s)', isBeacon(opened.body) ? 'presence' : 'room', author, stale)
        return TopicValidatorResult.Ignore
      }
    }
    if (opened == null || (!isBeacon(opened.body) && !await this.passes(opened.body))) {
      guard.strike(author)
      return source.equals(msg.from) ? TopicValidatorResult.Reject : TopicValidatorResult.Ignore
    }
    this.checked.set(msg, opened)
    return TopicValidatorResult.Accept
  }

  /** Whether the app's validators take `message` */
  private async passes (message: RoomMessage): Promise<boolean> {
    for (const fn of this.validators) {
      try {
        if (await fn(message) === false) return false
      } catch {
        return false
      }
    }
    return true
  }

  /** The app message in a history message (verified by the history), if it opens and passes the app's validators */
  private async openHistory (msg: SignedMessage): Promise<RoomMessage | undefined> {
    const opened = await openEnvelope(msg.from.toString(), msg.data, this.settings.maxMessageSize, this.parts.key)
    if (opened == null || isBeacon(opened.body) || !await this.passes(opened.body)) return undefined
    return opened.body
  }

  private readonly onMessage = (evt: CustomEvent<Message>): void => {
    const msg = evt.detail
    if (msg.topic !== this.topic || msg.type !== 'signed') return
    const from = msg.from.toString()
    if (from === this.self) {
      const mine = this.own.get(msg.data)
      if (mine != null) this.history?.record(msg, mine)
      return
    }
    // the validator's verdict; GossipSub delivers nothing of this topic it did not validate
    const opened = this.checked.get(msg)
    if (opened == null) return
    const { body } = opened
    const order = opened.seq > 0 ? opened.seq : opened.timestamp * 1000
    if (isBeacon(body)) {
      if (body.presence === RoomEnvelope.Presence.LEAVE) this.presence.left(from, order)
      else this.presence.seen(from, body.hidden, order)
      return
    }
    this.presence.seen(from, false, order)
    if (!this.presence.has(from) || this.history?.has(historyKey(body)) === true) return
    this.history?.record(msg, body)
    this.deliver(body)
  }
}
