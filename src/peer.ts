// createPeer: builds a peer's parts in the order of its data path (identity → node → relays → links →
// rooms) and hands each what it needs; the Peer object is the facade over them.
import { TypedEventEmitter } from 'main-event'
import { parsePeerId, transportOf } from './address.ts'
import { describe, Connector } from './connect.ts'
import { Content, holderCandidates } from './content.ts'
import { resolveConfig } from './config.ts'
import { PeerStoppedError, PeerUnreachableError } from './errors.ts'
import { relayStandby } from './gossip.ts'
import { Guard } from './guard.ts'
import { handleHistory } from './history.ts'
import { openHistoryStore } from './history-store.ts'
import { RelayIce } from './ice.ts'
import { exportIdentity, loadIdentity } from './identity.ts'
import { watchPage } from './lifecycle.ts'
import { DirectLinks } from './links.ts'
import { createNode } from './node.ts'
import { Relays } from './relays.ts'
import { handleRequests, handleStreams, openStream, request } from './request.ts'
import { roomTopic } from './envelope.ts'
import { RoomImpl } from './room.ts'
import { checkRoom } from './room-api.ts'
import { deriveRoomKey } from './room-key.ts'
import { linkStats, pingOver } from './stats.ts'
import type { PeerConfig, PeerOptions } from './config.ts'
import type { ConnectionInfo, ConnectOptions } from './connect.ts'
import type { ContentRef, FetchOptions, ShareOptions } from './content.ts'
import type { Peer, PeerEvents, PeerInfo } from './peer-api.ts'
import type { Identity, IdentitySource } from './identity.ts'
import type { PeerNode } from './node.ts'
import type { RelayStatus } from './relays.ts'
import type { HandleOptions, OpenStreamOptions, ProtocolOptions, RequestHandler, RequestOptions, StreamHandler } from './request.ts'
import type { Room, RoomOptions } from './room-api.ts'
import type { LinkStats } from './stats.ts'
import type { PeerStream } from './stream.ts'
import type { Connection } from '@libp2p/interface'

/**
 * Creates a peer: loads (or creates) its identity, connects to the relays and resolves once a relay
 * holds a reservation for it, so that others can dial it.
 */
export async function createPeer (options: PeerOptions): Promise<Peer> {
  const config = resolveConfig(options)
  const { signal } = options
  signal?.throwIfAborted()
  const identity = await loadIdentity(config.identity, { name: config.identityName, whenInUse: config.whenIdentityInUse, protect: config.protect, signal })
  let peer: PeerImpl | undefined
  try {
    const guard = new Guard()
    const rooms = new Map<string, RoomImpl>()
    const relayIds = new Set(config.relayIds)
    const vouched = new Set<string>()
    const ice = new RelayIce(config)
    const node = await createNode(config, identity.privateKey, { guard, vouched, standby: relayStandby(relayIds, rooms), rtcConfiguration: async () => await ice.rtcConfiguration() })
    ice.start(node)
    const relays = new Relays(node, config, relayIds)
    const connector = new Connector(node, config, vouched)
    const links = new DirectLinks(node, connector, config.maxDirectPeers)
    const content = new Content({
      node,
      config: config.content,
      name: config.identityName,
      strike: peerId => { guard.strike(peerId) },
      candidates: () => holderCandidates(rooms.values(), node.getConnections().map(c => c.remotePeer.toString()), relayIds),
      link: async (peerId, signal) => { await connector.connect(peerId, { allowRelayed: false, signal }) }
    })
    peer = new PeerImpl({ node, config, identity, guard, rooms, relays, ice, connector, links, content })
    await peer.start(signal)
    return peer
  } catch (err) {
    await peer?.stop().catch(() => {})
    identity.release()
    throw err
  }
}

/** `err` if it is an Error; otherwise (an Event, a string, a stray object) a PeerUnreachableError that says what it was */
function asError (peerId: string, err: unknown): Error {
  if (err instanceof Error) return err
  const what = (err as any)?.type ?? (err as any)?.message ?? String(err)
  return new PeerUnreachableError(peerId, `the link to ${peerId} failed: ${String(what)}`)
}

interface Parts {
  node: PeerNode
  config: PeerConfig
  identity: Identity
  guard: Guard
  /** the rooms joined, by topic */
  rooms: Map<string, RoomImpl>
  relays: Relays
  ice: RelayIce
  connector: Connector
  links: DirectLinks
  content: Content
}

/** @internal peers come from `createPeer` */
class PeerImpl extends TypedEventEmitter<PeerEvents> implements Peer {
  readonly libp2p: PeerNode
  readonly identity: IdentitySource
  private readonly parts: Parts
  /** protocol (as given to handle/handleStream) → the ids registered for it */
  private readonly handlers = new Map<string, string[]>()
  /** where rooms keep their history (IndexedDB in browsers) */
  private readonly store = openHistoryStore()
  private unwatchPage = (): void => {}
  private stopped = false
  /** the page is hidden or frozen: rooms joined now say so from their first beacon */
  private hidden = false

  constructor (parts: Parts) {
    super()
    this.parts = parts
    this.libp2p = parts.node
    this.identity = parts.identity.source
  }

  get id (): string {
    return this.libp2p.peerId.toString()
  }

  get addresses (): string[] {
    return this.libp2p.getMultiaddrs().map(ma => ma.toString())
  }

  get relays (): RelayStatus[] {
    return this.parts.relays.status()
  }

  /** Starts libp2p, dials the relays and waits for the first reservation */
  async start (signal?: AbortSignal): Promise<void> {
    const { node, relays } = this.parts
    node.addEventListener('peer:connect', evt => { this.safeDispatchEvent('peer:connect', { detail: { peerId: evt.detail.toString() } }) })
    node.addEventListener('peer:disconnect', evt => { this.safeDispatchEvent('peer:disconnect', { detail: { peerId: evt.detail.toString() } }) })
    node.addEventListener('connection:open', evt => {
      if (transportOf(evt.detail) === 'webrtc') this.safeDispatchEvent('connection:direct', { detail: describe(evt.detail) })
    })
    relays.addEventListener('relay:reserved', evt => { this.safeDispatchEvent('relay:reserved', { detail: evt.detail }) })
    relays.addEventListener('relay:lost', evt => { this.safeDispatchEvent('relay:lost', { detail: evt.detail }) })
    this.unwatchPage = watchPage({
      onHide: persisted => { this.onPageHide(persisted) },
      onWake: () => { relays.wake(); this.parts.links.wake() },
      onHidden: hidden => {
        this.hidden = hidden
        for (const room of this.parts.rooms.values()) void room.setHidden(hidden)
      }
    })
    await relays.prepare()
    await node.start()
    await handleHistory(node, topic => this.parts.rooms.get(topic)?.history)
    await relays.connect(signal)
  }

  async connect (target: string, options: ConnectOptions = {}): Promise<ConnectionInfo> {
    this.assertRunning()
    return await this.parts.connector.connect(target, options)
  }

  connections (): ConnectionInfo[] {
    return this.parts.connector.connections()
  }

  async stats (peerId?: string, options: { signal?: AbortSignal } = {}): Promise<LinkStats[]> {
    this.assertRunning()
    options.signal?.throwIfAborted()
    const { connector } = this.parts
    const peers = peerId == null ? [...new Map(this.libp2p.getConnections().map(c => [c.remotePeer.toString(), c.remotePeer])).values()] : [parsePeerId(peerId)]
    const conns = peers.flatMap(id => connector.best(id) ?? [])
    return await Promise.all(conns.map(linkStats))
  }

  async join (name: string, options: RoomOptions = {}): Promise<Room> {
    this.assertRunning()
    const { rooms, node, guard, links, config } = this.parts
    checkRoom(name, options)
    const key = options.secret == null ? undefined : await deriveRoomKey(name, options.secret)
    const topic = key?.topic ?? roomTopic(name)
    const existing = rooms.get(topic)
    if (existing != null) return existing
    const room = new RoomImpl(name, options, {
      node,
      guard,
      key,
      content: this.parts.content,
      store: this.store,
      replayWindow: config.replayWindow,
      // a history request does not ask for a direct link: DirectLinks links to members as maxDirectPeers says
      connectionTo: async (peerId, signal) => await this.parts.connector.connectionTo(peerId, signal, false),
      onLeft: members => {
        if (rooms.get(topic) === room) rooms.delete(topic)
        for (const member of members) links.release(member)
      }
    })
    room.addEventListener('peer:join', evt => { links.keep(evt.detail.peerId) })
    room.addEventListener('peer:leave', evt => { links.release(evt.detail.peerId) })
    rooms.set(topic, room)
    try {
      await room.setHidden(this.hidden)
      await room.open(options)
    } catch (err) {
      await room.leave()
      throw err
    }
    return room
  }

  async handle (protocol: string, handler: RequestHandler, options?: HandleOptions): Promise<void> {
    this.assertRunning()
    this.handlers.set(protocol, await handleRequests(this.libp2p, protocol, handler, options))
  }

  async handleStream (protocol: string, handler: StreamHandler, options?: ProtocolOptions): Promise<void> {
    this.assertRunning()
    this.handlers.set(protocol, await handleStreams(this.libp2p, protocol, handler, options))
  }

  async unhandle (protocol: string): Promise<void> {
    const ids = this.handlers.get(protocol) ?? [protocol]
    this.handlers.delete(protocol)
    await this.libp2p.unhandle(ids)
  }

  async request (peerId: string, protocol: string, data: Uint8Array | string, options: RequestOptions = {}): Promise<Uint8Array> {
    return await this.overBestConnection(peerId, options.signal, async conn => await request(conn, protocol, data, options))
  }

  async openStream (peerId: string, protocol: string, options: OpenStreamOptions = {}): Promise<PeerStream> {
    return await this.overBestConnection(peerId, options.signal, async conn => await openStream(conn, protocol, options))
  }

  async ping (peerId: string, options: { signal?: AbortSignal } = {}): Promise<number> {
    return await this.overBestConnection(peerId, options.signal, async conn => await pingOver(conn, options))
  }

  async info (peerId: string, options: { signal?: AbortSignal } = {}): Promise<PeerInfo> {
    this.assertRunning()
    const id = parsePeerId(peerId)
    let peer = await this.libp2p.peerStore.get(id, options).catch(() => undefined)
    if (peer == null || peer.protocols.length === 0) {
      const connection = this.parts.connector.best(id)
      if (connection == null) throw new PeerUnreachableError(peerId, `not connected to ${peerId}: connect() first`)
      await this.libp2p.services.identify.identify(connection, options)
      peer = await this.libp2p.peerStore.get(id, options)
    }
    const text = (key: string): string | undefined => {
      const value = peer?.metadata.get(key)
      return value == null ? undefined : new TextDecoder().decode(value)
    }
    return {
      peerId,
      agentVersion: text('AgentVersion'),
      protocolVersion: text('ProtocolVersion'),
      protocols: [...peer.protocols],
      addresses: peer.addresses.map(a => a.multiaddr.toString())
    }
  }

  async share (source: Blob | ReadableStream<Uint8Array>, options?: ShareOptions): Promise<ContentRef> {
    this.assertRunning()
    return await this.parts.content.share(source, options)
  }

  async fetch (ref: ContentRef, options: FetchOptions & { as: 'stream' }): Promise<ReadableStream<Uint8Array>>
  async fetch (ref: ContentRef, options?: FetchOptions): Promise<Blob>
  async fetch (ref: ContentRef, options?: FetchOptions): Promise<Blob | ReadableStream<Uint8Array>> {
    this.assertRunning()
    return await this.parts.content.fetch(ref, options)
  }

  async unshare (ref: ContentRef | string, options?: { signal?: AbortSignal }): Promise<void> {
    this.assertRunning()
    await this.parts.content.unshare(ref, options)
  }

  async exportIdentity (options: { passphrase: string }): Promise<string> {
    return await exportIdentity(this.parts.identity.privateKey, options.passphrase)
  }

  async stop (): Promise<void> {
    if (this.stopped) return
    this.stopped = true
    const { links, relays, ice, connector, rooms, identity, content } = this.parts
    this.unwatchPage()
    await content.stop().catch(() => {})
    links.stop()
    relays.stop()
    ice.stop()
    connector.stop()
    await Promise.all([...rooms.values()].map(async room => room.leave()))
    await this.libp2p.stop()
    identity.release()
  }

  /**
   * Runs `call` on the best connection to `peerId` (connecting first if need be). When that connection closes
   * under the call (a relayed circuit that ends as the WebRTC link takes over, say) and another is open, the
   * call runs once more on that one. Whatever it throws leaves as an Error with a name.
   */
  private async overBestConnection<T> (peerId: string, signal: AbortSignal | undefined, call: (conn: Connection) => Promise<T>): Promise<T> {
    const first = await this.connectionTo(peerId, signal)
    try {
      return await call(first)
    } catch (err) {
      const next = this.parts.connector.best(first.remotePeer)
      if (first.status !== 'open' && next != null && next.id !== first.id && signal?.aborted !== true) {
        return await call(next).catch(err => { throw asError(peerId, err) })
      }
      throw asError(peerId, err)
    }
  }

  private async connectionTo (peerId: string, signal?: AbortSignal): Promise<Connection> {
    this.assertRunning()
    return await this.parts.connector.connectionTo(peerId, signal)
  }

  private assertRunning (): void {
    if (this.stopped) throw new PeerStoppedError()
  }

  private onPageHide (persisted: boolean): void {
    // the goodbyes are signed first (asynchronously), then sent over the direct links and to the relays
    const goodbyes = Promise.all([...this.parts.rooms.values()].map(async room => room.announceLeave()))
    // the page is going away for good (not into the back/forward cache): once the goodbyes are out, closing the
    // direct links tells each member at once (see DISCONNECT_GRACE_MS) even where a goodbye got lost. Closing
    // them before would lose the goodbyes to members whose relay stands by. If the page dies sooner, the
    // browser closes them itself.
    if (persisted) return
    void goodbyes.then(() => {
      for (const conn of this.libp2p.getConnections()) {
        if (transportOf(conn) === 'webrtc') conn.abort(new Error('page closed'))
      }
    })
  }
}
