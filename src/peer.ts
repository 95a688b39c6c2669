// createPeer: builds a peer's parts in the order of its data path (identity → node → relays → links →
// rooms) and hands each what it needs; the Peer object is the facade over them.
import { TypedEventEmitter } from 'main-event'
import { parsePeerId, transportOf } from './address.ts'
import { describe, Connector } from './connect.ts'
import { resolveConfig } from './config.ts'
import { PeerStoppedError, PeerUnreachableError } from './errors.ts'
import { relayStandby } from './gossip.ts'
import { Guard } from './guard.ts'
import { RelayIce } from './ice.ts'
import { exportIdentity, loadIdentity } from './identity.ts'
import { watchPage } from './lifecycle.ts'
import { DirectLinks } from './links.ts'
import { createNode } from './node.ts'
import { Relays } from './relays.ts'
import { handleRequests, handleStreams, openStream, request } from './request.ts'
import { RoomImpl } from './room.ts'
import { linkStats } from './stats.ts'
import type { PeerConfig, PeerOptions } from './config.ts'
import type { ConnectionInfo, ConnectOptions } from './connect.ts'
import type { Identity, IdentitySource } from './identity.ts'
import type { PeerNode } from './node.ts'
import type { RelayEvents, RelayStatus } from './relays.ts'
import type { HandleOptions, OpenStreamOptions, ProtocolOptions, RequestHandler, RequestOptions, StreamHandler } from './request.ts'
import type { Room, RoomOptions } from './room.ts'
import type { LinkStats } from './stats.ts'
import type { PeerStream } from './stream.ts'
import type { Connection } from '@libp2p/interface'
import type { TypedEventTarget } from 'main-event'

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
    peer = new PeerImpl({ node, config, identity, guard, rooms, relays, ice, connector, links })
    await peer.start(signal)
    return peer
  } catch (err) {
    await peer?.stop().catch(() => {})
    identity.release()
    throw err
  }
}

/** The events of a `Peer`: `peer.addEventListener(type, e => e.detail)` */
export interface PeerEvents extends RelayEvents {
  /** the first connection to a peer opened */
  'peer:connect': CustomEvent<{ peerId: string }>
  /** the last connection to a peer closed */
  'peer:disconnect': CustomEvent<{ peerId: string }>
  /** a direct (WebRTC) connection to a peer opened */
  'connection:direct': CustomEvent<ConnectionInfo>
}

/** What identify told us about another peer */
export interface PeerInfo {
  /** the peer's PeerId */
  peerId: string
  /** e.g. `peerlane/0.1.0 browser/…`, or another libp2p implementation's */
  agentVersion?: string
  /** the libp2p protocol version it reports in identify, e.g. `ipfs/0.1.0` */
  protocolVersion?: string
  /** every protocol id it handles, e.g. `/app/chat/2.0.0` */
  protocols: string[]
  /** addresses it can be dialled at */
  addresses: string[]
}

/** A running peer: create one with `createPeer` */
export interface Peer extends TypedEventTarget<PeerEvents> {
  /** this peer's PeerId, `12D3KooW…` */
  readonly id: string
  /** where the key came from; `'ephemeral'` means another tab holds the stored identity */
  readonly identity: IdentitySource
  /** the underlying libp2p node: the escape hatch for anything Peerlane does not wrap */
  readonly libp2p: PeerNode
  /** addresses others can dial us at, including `…/p2p-circuit/webrtc/p2p/<id>` for direct WebRTC */
  readonly addresses: string[]
  /** the configured relays and our state with each */
  readonly relays: RelayStatus[]
  /**
   * Connects to a peer, by bare PeerId or by multiaddr. A PeerId is looked up through the relays we
   * share with it: a direct WebRTC link is tried first, then (unless `allowRelayed: false`) a relayed one.
   */
  connect: (target: string, options?: ConnectOptions) => Promise<ConnectionInfo>
  /** Every connected peer (relays included), each described by its best connection */
  connections: () => ConnectionInfo[]
  /**
   * How each connected peer is reached (its best connection): the route (direct · STUN · TURN · relayed),
   * and for WebRTC the chosen ICE candidate pair, its round-trip time and bytes each way. With `peerId`, that peer only.
   */
  stats: (peerId?: string, options?: { signal?: AbortSignal }) => Promise<LinkStats[]>
  /**
   * Joins a room (a GossipSub topic with presence). The peer links directly (WebRTC) to the members it
   * finds there, up to `maxDirectPeers`; until then messages travel through the relay.
   */
  join: (name: string, options?: RoomOptions) => Promise<Room>
  /**
   * Answers requests for `protocol` (e.g. `/myapp/echo/1.0.0`) with `handler`. With `{ versions }` it speaks
   * every version given, and the handler learns which one the caller chose from `context.version`.
   */
  handle: (protocol: string, handler: RequestHandler, options?: HandleOptions) => Promise<void>
  /** Serves byte streams for `protocol`: `handler({ readable, writable, … }, { from, protocol, version })` */
  handleStream: (protocol: string, handler: StreamHandler, options?: ProtocolOptions) => Promise<void>
  /** Stops answering `protocol` (every version registered for it) */
  unhandle: (protocol: string) => Promise<void>
  /** Sends a request to a peer (connecting first if need be) and resolves to its answer */
  request: (peerId: string, protocol: string, data: Uint8Array | string, options?: RequestOptions) => Promise<Uint8Array>
  /**
   * Opens a byte stream to a peer (connecting first if need be): web `readable` / `writable` streams with
   * backpressure, for transfers too large for a request or a room message.
   */
  openStream: (peerId: string, protocol: string, options?: OpenStreamOptions) => Promise<PeerStream>
  /** Round-trip time to a peer in ms (libp2p ping over the best connection, connecting first if need be) */
  ping: (peerId: string, options?: { signal?: AbortSignal }) => Promise<number>
  /** What identify told us about a connected peer: its agent version and the protocols it speaks (asked again when nothing is known yet) */
  info: (peerId: string, options?: { signal?: AbortSignal }) => Promise<PeerInfo>
  /**
   * This peer's key as a JSON text sealed with `passphrase` (PBKDF2-SHA256 600,000 iterations, AES-GCM),
   * for `importIdentity` in another browser. Whoever has the text and the passphrase can act as this peer.
   */
  exportIdentity: (options: { passphrase: string }) => Promise<string>
  /** Leaves every room and stops the node; the stored identity is free for another tab afterwards */
  stop: () => Promise<void>
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
  rooms: Map<string, RoomImpl>
  relays: Relays
  ice: RelayIce
  connector: Connector
  links: DirectLinks
}

/** @internal peers come from `createPeer` */
class PeerImpl extends TypedEventEmitter<PeerEvents> implements Peer {
  readonly libp2p: PeerNode
  readonly identity: IdentitySource
  private readonly parts: Parts
  /** protocol (as given to handle/handleStream) → the ids registered for it */
  private readonly handlers = new Map<string, string[]>()
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
    const { rooms, node, guard, links } = this.parts
    const existing = rooms.get(name)
    if (existing != null) return existing
    const room = new RoomImpl(node, guard, name, options, members => {
      rooms.delete(name)
      for (const member of members) links.release(member)
    })
    room.addEventListener('peer:join', evt => { links.keep(evt.detail.peerId) })
    room.addEventListener('peer:leave', evt => { links.release(evt.detail.peerId) })
    rooms.set(name, room)
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
    await this.connectionTo(peerId, options.signal)
    return await this.libp2p.services.ping.ping(parsePeerId(peerId), { signal: options.signal, runOnLimitedConnection: true })
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

  async exportIdentity (options: { passphrase: string }): Promise<string> {
    return await exportIdentity(this.parts.identity.privateKey, options.passphrase)
  }

  async stop (): Promise<void> {
    if (this.stopped) return
    this.stopped = true
    const { links, relays, ice, connector, rooms, identity } = this.parts
    this.unwatchPage()
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
