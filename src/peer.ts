import { RELAY_V2_HOP_CODEC } from '@libp2p/circuit-relay-v2'
import { KEEP_ALIVE } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import { TypedEventEmitter } from 'main-event'
import { isDirect, lastPeerId, parseMultiaddr, parsePeerId, relayPart, transportOf } from './address.ts'
import { resolveConfig } from './config.ts'
import { InvalidAddressError, PeerStoppedError, PeerUnreachableError, RelayUnavailableError } from './errors.ts'
import { Guard } from './guard.ts'
import { exportIdentity, loadIdentity } from './identity.ts'
import { DirectLinks } from './mesh.ts'
import { createNode } from './node.ts'
import { RelayKeeper } from './relays.ts'
import { handleRequests, handleStreams, openStream, request } from './request.ts'
import { Room } from './room.ts'
import { withFederatedPaths } from './routing.ts'
import type { Transport } from './address.ts'
import type { PeerConfig, PeerOptions } from './config.ts'
import type { Identity, IdentitySource } from './identity.ts'
import type { NodeHooks, PeerNode } from './node.ts'
import type { HandleOptions, OpenStreamOptions, ProtocolOptions, RequestHandler, RequestOptions, StreamHandler } from './request.ts'
import type { RoomOptions } from './room.ts'
import type { PeerStream } from './stream.ts'
import type { Connection, PeerId } from '@libp2p/interface'

/** One connected peer, as `connect()` and `connections()` describe it */
export interface ConnectionInfo {
  /** the other peer's PeerId */
  peerId: string
  /** true when no relay sits in the data path (WebRTC, or our own WebSocket to a relay) */
  direct: boolean
  /** `'webrtc'` (direct browser link), `'websockets'` (our own connection to a relay) or `'relay'` (a circuit) */
  transport: Transport
}

/** A relay we are configured with and whether it holds a reservation for us */
export interface RelayStatus {
  /** the relay's PeerId */
  peerId: string
  /** the relay address as configured */
  address: string
  /** whether we hold an unlimited (WebSocket) connection to it */
  connected: boolean
  /** whether it holds a reservation for us, so others can reach us through it */
  reserved: boolean
}

/** The events of a `Peer`: `peer.addEventListener(type, e => e.detail)` */
export interface PeerEvents {
  /** the first connection to a peer opened */
  'peer:connect': CustomEvent<{ peerId: string }>
  /** the last connection to a peer closed */
  'peer:disconnect': CustomEvent<{ peerId: string }>
  /** a direct (WebRTC) connection to a peer opened */
  'connection:direct': CustomEvent<ConnectionInfo>
  /** a relay gave us a reservation: we can be reached through it at `addresses` */
  'relay:reserved': CustomEvent<{ relay: string, addresses: string[] }>
  /** a reservation is gone (relay down or connection lost) */
  'relay:lost': CustomEvent<{ relay: string }>
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

/** Options for `peer.connect` */
export interface ConnectOptions {
  /** gives up connecting; the call rejects with the signal's reason */
  signal?: AbortSignal
  /**
   * When no direct WebRTC link can be made, settle for a relayed one (`direct: false`).
   *
   * @default true
   */
  allowRelayed?: boolean
}

const TRANSPORT_RANK: Record<Transport, number> = { webrtc: 0, websockets: 1, relay: 2 }

/** A running peer: create one with `createPeer` */
export class Peer extends TypedEventEmitter<PeerEvents> {
  /** the underlying libp2p node: the escape hatch for anything Peerlane does not wrap */
  readonly libp2p: PeerNode
  /** where the key came from; `'ephemeral'` means another tab holds the stored identity */
  readonly identity: IdentitySource
  private readonly config: PeerConfig
  private readonly key: Identity
  private readonly rooms = new Map<string, Room>()
  private readonly guard: Guard
  private readonly links: DirectLinks
  private readonly keeper: RelayKeeper
  /** protocol (as given to handle/handleStream) → the ids registered for it */
  private readonly handlers = new Map<string, string[]>()
  /** relayed connections we will renew before their duration limit, by connection id */
  private readonly renewals = new Map<string, ReturnType<typeof setTimeout>>()
  private reserved = new Set<string>()
  private stopped = false

  /** @internal use `createPeer` */
  constructor (node: PeerNode, config: PeerConfig, identity: Identity, guard: Guard, hooks: NodeHooks) {
    super()
    this.libp2p = node
    this.config = config
    this.key = identity
    this.identity = identity.source
    this.guard = guard
    this.links = new DirectLinks({
      id: node.peerId.toString(),
      hasDirect: peerId => this.libp2p.getConnections().some(c => c.remotePeer.toString() === peerId && transportOf(c) === 'webrtc'),
      directCount: () => new Set(this.libp2p.getConnections().filter(c => transportOf(c) === 'webrtc').map(c => c.remotePeer.toString())).size,
      linkDirect: async (peerId, signal) => this.connect(peerId, { signal, allowRelayed: false })
    }, config.maxDirectPeers)
    this.keeper = new RelayKeeper(node, config.relays)
    hooks.standby = peerId => this.relayOnStandby(peerId)
  }

  /** this peer's PeerId, `12D3KooW…` */
  get id (): string {
    return this.libp2p.peerId.toString()
  }

  /** addresses others can dial us at, including `…/p2p-circuit/webrtc/p2p/<id>` for direct WebRTC */
  get addresses (): string[] {
    return this.libp2p.getMultiaddrs().map(ma => ma.toString())
  }

  /** the configured relays and our state with each */
  get relays (): RelayStatus[] {
    return this.config.relays.map(ma => {
      const peerId = lastPeerId(ma) as string
      return {
        peerId,
        address: ma.toString(),
        connected: this.libp2p.getConnections().some(c => c.remotePeer.toString() === peerId && c.limits == null),
        reserved: this.reserved.has(peerId)
      }
    })
  }

  /** @internal starts libp2p, dials the relays and waits for the first reservation */
  async start (signal?: AbortSignal): Promise<void> {
    const node = this.libp2p
    node.addEventListener('peer:connect', evt => { this.safeDispatchEvent('peer:connect', { detail: { peerId: evt.detail.toString() } }) })
    node.addEventListener('peer:disconnect', evt => { this.safeDispatchEvent('peer:disconnect', { detail: { peerId: evt.detail.toString() } }) })
    node.addEventListener('connection:open', evt => {
      if (transportOf(evt.detail) === 'webrtc') this.safeDispatchEvent('connection:direct', { detail: describe(evt.detail) })
    })
    node.addEventListener('self:peer:update', this.onSelfUpdate)
    // self:peer:update comes a second after a reservation (libp2p debounces its peer-store update); the
    // transports' listening/close events come at once, and getMultiaddrs() is already up to date then
    node.addEventListener('transport:listening', this.onSelfUpdate)
    node.addEventListener('transport:close', this.onSelfUpdate)
    if (typeof window !== 'undefined') window.addEventListener('pagehide', this.onPageHide)

    // Before start: the configured relays, kept alive (the connection manager never prunes a relay
    // connection; RelayKeeper redials a lost one) and known to speak circuit relay's hop protocol. libp2p
    // otherwise learns that from identify and only then reserves (identify then reserve: ~95 ms in
    // Chromium here); knowing it, the relay transport's discovery reserves as soon as the connection is
    // up, while identify runs. A relay that does not speak hop just refuses, as it would anyway.
    await Promise.all(this.config.relays.map(async ma => {
      await node.peerStore.merge(parsePeerId(lastPeerId(ma)), {
        multiaddrs: [ma],
        protocols: [RELAY_V2_HOP_CODEC],
        tags: { [KEEP_ALIVE]: { value: 1 } }
      })
    }))
    await node.start()
    // (a reservation made during start() is in this.reserved already)
    const reservation = this.nextReservation(signal)

    const dials = await Promise.allSettled(this.config.relays.map(async ma => node.dial(ma, { signal })))
    this.keeper.start()
    // relays that did not answer now are redialled in the background, with backoff
    dials.forEach((d, i) => { if (d.status === 'rejected') this.keeper.keep(this.config.relays[i]) })
    if (dials.every(d => d.status === 'rejected')) {
      reservation.catch(() => {})
      const reasons = dials.map((d, i) => `${this.config.relays[i].toString()}: ${(d as PromiseRejectedResult).reason?.message}`)
      throw new RelayUnavailableError(`could not connect to any relay:\n  ${reasons.join('\n  ')}`)
    }
    await reservation
  }

  /**
   * Connects to a peer, by bare PeerId or by multiaddr. A PeerId is looked up through the relays we
   * share with it: a direct WebRTC link is tried first, then (unless `allowRelayed: false`) a relayed one.
   */
  async connect (target: string, options: ConnectOptions = {}): Promise<ConnectionInfo> {
    this.assertRunning()
    const { signal } = options
    signal?.throwIfAborted()

    if (typeof target === 'string' && target.startsWith('/')) {
      const ma = parseMultiaddr(target)
      if (lastPeerId(ma) == null) throw new InvalidAddressError(target, 'must end in /p2p/<PeerId> to be dialled')
      return describe(await this.libp2p.dial(ma, { signal }))
    }

    const peerId = parsePeerId(target)
    if (peerId.equals(this.libp2p.peerId)) throw new InvalidAddressError(target, 'is this peer itself')
    const existing = this.best(peerId)
    if (existing != null && isDirect(existing)) return describe(existing)

    // relays we are connected to first: a circuit through them needs no new WebSocket
    const relays = [...this.config.relays].sort((a, b) => Number(this.isConnected(lastPeerId(b))) - Number(this.isConnected(lastPeerId(a))))
    const errors: string[] = []
    const tryPaths = async (paths: string[]): Promise<ConnectionInfo | undefined> => {
      for (const path of paths) {
        if (existing != null && !path.includes('/webrtc')) return describe(existing)
        // ICE on a busy machine can overrun libp2p's per-address dial timeout once: a WebRTC path gets a second try
        for (let attempt = 1; attempt <= (path.includes('/webrtc') ? 2 : 1); attempt++) {
          try {
            const conn = await this.libp2p.dial(multiaddr(path), { signal })
            if (transportOf(conn) === 'relay') this.onRelayed(peerId.toString(), conn, path)
            return describe(conn)
          } catch (err: any) {
            signal?.throwIfAborted()
            errors.push(`${path}: ${err.message}`)
            if (err.name !== 'TimeoutError') break
          }
        }
      }
    }
    // WebRTC through our own relays first: that is where the peers of one app usually meet, and a relay that
    // holds no reservation for the target says so at once
    const ownWebRTC = relays.map(relay => `${relay.toString()}/p2p-circuit/webrtc/p2p/${target}`)
    const direct = await tryPaths(ownWebRTC)
    if (direct != null) return direct
    // then federation (src/routing.ts): our relays tell us where a peer reserved only on another relay is,
    // and the relayed paths come last
    const paths = await withFederatedPaths(this.libp2p, this.config, target,
      options.allowRelayed === false ? [] : relays.map(relay => `${relay.toString()}/p2p-circuit/p2p/${target}`),
      { signal, allowRelayed: options.allowRelayed })
    const link = await tryPaths(paths.filter(path => !ownWebRTC.includes(path)))
    if (link != null) return link
    throw new PeerUnreachableError(target, `could not reach ${target}:\n  ${errors.join('\n  ')}`)
  }

  /** Every connected peer (relays included), each described by its best connection */
  connections (): ConnectionInfo[] {
    const peers = new Map(this.libp2p.getConnections().map(c => [c.remotePeer.toString(), c.remotePeer]))
    return [...peers.values()].flatMap(peerId => {
      const conn = this.best(peerId)
      return conn == null ? [] : [describe(conn)]
    })
  }

  /**
   * Joins a room (a GossipSub topic with presence). The peer links directly (WebRTC) to the members it
   * finds there, up to `maxDirectPeers`; until then messages travel through the relay.
   */
  async join (name: string, options: RoomOptions = {}): Promise<Room> {
    this.assertRunning()
    const existing = this.rooms.get(name)
    if (existing != null) return existing
    const room = new Room({
      node: this.libp2p,
      guard: this.guard,
      onMember: peerId => { this.links.want(peerId) },
      onLeft: left => this.rooms.delete(left.name)
    }, name, options)
    this.rooms.set(name, room)
    try {
      await room.open(options)
    } catch (err) {
      await room.leave()
      throw err
    }
    return room
  }

  /**
   * Answers requests for `protocol` (e.g. `/myapp/echo/1.0.0`) with `handler`. With `{ versions }`
   * (either argument order works: `handle(protocol, { versions }, handler)`) it speaks every version
   * given, and the handler learns which one the caller chose from `context.version`.
   */
  async handle (protocol: string, handler: RequestHandler, options?: HandleOptions): Promise<void>
  async handle (protocol: string, options: HandleOptions, handler: RequestHandler): Promise<void>
  async handle (protocol: string, a: RequestHandler | HandleOptions, b?: RequestHandler | HandleOptions): Promise<void> {
    this.assertRunning()
    const [handler, options] = handlerFirst<RequestHandler, HandleOptions>(a, b)
    this.handlers.set(protocol, await handleRequests(this.libp2p, protocol, handler, options))
  }

  /** Serves byte streams for `protocol`: `handler({ readable, writable, … }, { from, protocol, version })` */
  async handleStream (protocol: string, handler: StreamHandler, options?: ProtocolOptions): Promise<void>
  async handleStream (protocol: string, options: ProtocolOptions, handler: StreamHandler): Promise<void>
  async handleStream (protocol: string, a: StreamHandler | ProtocolOptions, b?: StreamHandler | ProtocolOptions): Promise<void> {
    this.assertRunning()
    const [handler, options] = handlerFirst<StreamHandler, ProtocolOptions>(a, b)
    this.handlers.set(protocol, await handleStreams(this.libp2p, protocol, handler, options))
  }

  /** Stops answering `protocol` (every version registered for it) */
  async unhandle (protocol: string): Promise<void> {
    const ids = this.handlers.get(protocol) ?? [protocol]
    this.handlers.delete(protocol)
    await this.libp2p.unhandle(ids)
  }

  /** Sends a request to a peer (connecting first if need be) and resolves to its answer */
  async request (peerId: string, protocol: string, data: Uint8Array | string, options: RequestOptions = {}): Promise<Uint8Array> {
    return await request(await this.connectionTo(peerId, options.signal), protocol, data, options)
  }

  /**
   * Opens a byte stream to a peer (connecting first if need be): web `readable` / `writable` streams with
   * backpressure, for transfers too large for a request or a room message.
   */
  async openStream (peerId: string, protocol: string, options: OpenStreamOptions = {}): Promise<PeerStream> {
    return await openStream(await this.connectionTo(peerId, options.signal), protocol, options)
  }

  /** Round-trip time to a peer in ms (libp2p ping over the best connection, connecting first if need be) */
  async ping (peerId: string, options: { signal?: AbortSignal } = {}): Promise<number> {
    await this.connectionTo(peerId, options.signal)
    return await this.libp2p.services.ping.ping(parsePeerId(peerId), { signal: options.signal, runOnLimitedConnection: true })
  }

  /**
   * What identify told us about a connected peer: its agent version and the protocols it speaks.
   * Asks the peer again when nothing is known yet.
   */
  async info (peerId: string, options: { signal?: AbortSignal } = {}): Promise<PeerInfo> {
    this.assertRunning()
    const id = parsePeerId(peerId)
    let peer = await this.libp2p.peerStore.get(id, options).catch(() => undefined)
    if (peer == null || peer.protocols.length === 0) {
      const connection = this.best(id)
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

  /**
   * This peer's key as a JSON text sealed with `passphrase` (PBKDF2-SHA256 600,000 iterations, AES-GCM),
   * for `importIdentity` in another browser. Whoever has the text and the passphrase can act as this peer.
   */
  async exportIdentity (options: { passphrase: string }): Promise<string> {
    return await exportIdentity(this.key.privateKey, options.passphrase)
  }

  /** Leaves every room and stops the node; the stored identity is free for another tab afterwards */
  async stop (): Promise<void> {
    if (this.stopped) return
    this.stopped = true
    if (typeof window !== 'undefined') window.removeEventListener('pagehide', this.onPageHide)
    this.links.stop()
    this.keeper.stop()
    for (const timer of this.renewals.values()) clearTimeout(timer)
    await Promise.all([...this.rooms.values()].map(async room => room.leave()))
    this.libp2p.removeEventListener('self:peer:update', this.onSelfUpdate)
    this.libp2p.removeEventListener('transport:listening', this.onSelfUpdate)
    this.libp2p.removeEventListener('transport:close', this.onSelfUpdate)
    await this.libp2p.stop()
    this.key.release()
  }

  /**
   * We settled for a relayed link: keep trying to upgrade it in the background (with backoff, see
   * MESH_DEFAULTS), and keep it alive across the relay's circuit limits, so it is never cut silently:
   * renewed at 80 % of its announced duration, and redialled at once if the relay cuts it anyway (js-libp2p
   * relays announce the duration in ms where the spec says seconds, so the announced figure is not to be trusted).
   */
  private onRelayed (peerId: string, conn: Connection, path: string): void {
    this.links.want(peerId)
    if (this.renewals.has(conn.id)) return
    const onClose = (evt: CustomEvent<Connection>): void => { if (evt.detail.id === conn.id) renew() }
    const renew = (): void => {
      if (!this.renewals.has(conn.id)) return
      clearTimeout(this.renewals.get(conn.id))
      this.renewals.delete(conn.id)
      this.libp2p.removeEventListener('connection:close', onClose)
      if (this.stopped || this.libp2p.getConnections(conn.remotePeer).some(c => c.id !== conn.id && c.status === 'open')) return
      this.libp2p.dial(multiaddr(path), { force: true })
        .then(fresh => { if (transportOf(fresh) === 'relay') this.onRelayed(peerId, fresh, path) })
        .catch(() => {}) // the peer is gone, or the relay is: nothing left to renew
    }
    const seconds = conn.limits?.seconds
    this.renewals.set(conn.id, setTimeout(renew, seconds == null ? 2 ** 31 - 1 : Math.min(seconds * 1000 * 0.8, 2 ** 31 - 1)))
    this.libp2p.addEventListener('connection:close', onClose)
  }

  /** The best open connection to `peerId`, connecting first when there is none */
  private async connectionTo (peerId: string, signal?: AbortSignal): Promise<Connection> {
    this.assertRunning()
    const id = parsePeerId(peerId)
    if (this.best(id) == null) await this.connect(peerId, { signal })
    const connection = this.best(id)
    if (connection == null) throw new PeerUnreachableError(peerId, `no connection to ${peerId}`)
    return connection
  }

  private best (peerId: PeerId): Connection | undefined {
    return this.libp2p.getConnections(peerId)
      .filter(c => c.status === 'open')
      .sort((a, b) => TRANSPORT_RANK[transportOf(a)] - TRANSPORT_RANK[transportOf(b)])[0]
  }

  private isConnected (peerId?: string): boolean {
    return this.libp2p.getConnections().some(c => c.remotePeer.toString() === peerId)
  }

  private assertRunning (): void {
    if (this.stopped) throw new PeerStoppedError()
  }

  /**
   * A relay stands by (GossipSub sends it nothing of ours, see gossip.ts) while every room we are in has
   * members and all of them are our direct GossipSub peers: whatever we sent it would reach nobody, and cost
   * us, the relay and every member (a second copy to check) time on every message. It stays in our mesh, so
   * a newcomer's first beacon still reaches us through it, and that member (not linked yet) brings it back.
   */
  private relayOnStandby (peerId: string): boolean {
    if (this.rooms.size === 0) return false
    if (!this.config.relayIds.has(peerId) && !this.reserved.has(peerId)) return false
    const pubsub = this.libp2p.services.pubsub
    for (const room of this.rooms.values()) {
      const members = room.peers
      if (members.length === 0) return false
      const direct = new Set(pubsub.getSubscribers(room.topic).map(String))
      if (!members.every(member => direct.has(member))) return false
    }
    return true
  }

  /** The relays our circuit addresses go through: those that hold a reservation for us */
  private reservedRelays (): Map<string, string[]> {
    const relays = new Map<string, string[]>()
    for (const ma of this.libp2p.getMultiaddrs()) {
      const relay = relayPart(ma)
      const id = relay == null ? undefined : lastPeerId(relay)
      if (id == null) continue
      relays.set(id, [...(relays.get(id) ?? []), ma.toString()])
    }
    return relays
  }

  private readonly onSelfUpdate = (): void => {
    const now = this.reservedRelays()
    for (const [relay, addresses] of now) {
      if (!this.reserved.has(relay)) this.safeDispatchEvent('relay:reserved', { detail: { relay, addresses } })
    }
    for (const relay of this.reserved) {
      if (!now.has(relay)) this.safeDispatchEvent('relay:lost', { detail: { relay } })
    }
    this.reserved = new Set(now.keys())
  }

  private readonly onPageHide = (evt: PageTransitionEvent): void => {
    // the goodbyes are signed first (asynchronously), then sent over the direct links and to the relays
    const goodbyes = Promise.all([...this.rooms.values()].map(async room => room.announceLeave()))
    // the page is going away for good (not into the back/forward cache): once the goodbyes are out, closing the
    // direct links tells each member at once (see DISCONNECT_GRACE_MS) even where a goodbye got lost. Closing
    // them before would lose the goodbyes to members whose relay stands by. If the page dies sooner, the
    // browser closes them itself.
    if (!evt.persisted) {
      void goodbyes.then(() => {
        for (const conn of this.libp2p.getConnections()) {
          if (transportOf(conn) === 'webrtc') conn.abort(new Error('page closed'))
        }
      })
    }
  }

  /** Resolves at the next (or a current) reservation; rejects after `timeout` or on abort */
  private async nextReservation (signal?: AbortSignal): Promise<void> {
    if (this.reserved.size > 0) return
    await new Promise<void>((resolve, reject) => {
      const done = (): void => {
        clearTimeout(timer)
        this.removeEventListener('relay:reserved', onReserved)
        signal?.removeEventListener('abort', onAbort)
      }
      const onReserved = (): void => { done(); resolve() }
      const onAbort = (): void => { done(); reject(signal?.reason) }
      const timer = setTimeout(() => {
        done()
        reject(new RelayUnavailableError(`no relay gave a reservation within ${this.config.timeout} ms (relays: ${this.config.relays.join(', ')})`))
      }, this.config.timeout)
      this.addEventListener('relay:reserved', onReserved)
      signal?.addEventListener('abort', onAbort)
      if (signal?.aborted === true) onAbort()
    })
  }
}

/** `handle(protocol, handler, options?)` and `handle(protocol, options, handler)` alike: the handler, then the options */
function handlerFirst<H extends (...args: any[]) => unknown, O extends object> (a: H | O, b?: H | O): [H, O | undefined] {
  return typeof a === 'function' ? [a, b as O | undefined] : [b as H, a]
}

function describe (conn: Connection): ConnectionInfo {
  return { peerId: conn.remotePeer.toString(), direct: isDirect(conn), transport: transportOf(conn) }
}

/**
 * Creates a peer: loads (or creates) its identity, connects to the relays and resolves once a relay
 * holds a reservation for it, so that others can dial it.
 */
export async function createPeer (options: PeerOptions): Promise<Peer> {
  const config = resolveConfig(options)
  const { signal } = options
  signal?.throwIfAborted()
  const identity = await loadIdentity(config.identity, { name: config.identityName, whenInUse: config.whenIdentityInUse, protect: config.protect, signal })
  let peer: Peer | undefined
  try {
    const guard = new Guard()
    const hooks: NodeHooks = { standby: () => false }
    peer = new Peer(await createNode(config, identity.privateKey, guard, hooks), config, identity, guard, hooks)
    await peer.start(signal)
    return peer
  } catch (err) {
    await peer?.stop().catch(() => {})
    identity.release()
    throw err
  }
}
