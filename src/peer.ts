import { KEEP_ALIVE } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import { TypedEventEmitter } from 'main-event'
import { isDirect, lastPeerId, parseMultiaddr, parsePeerId, relayPart, transportOf } from './address.ts'
import { resolveConfig } from './config.ts'
import { InvalidAddressError, PeerStoppedError, PeerUnreachableError, RelayUnavailableError } from './errors.ts'
import { loadIdentity } from './identity.ts'
import { createNode } from './node.ts'
import { handle, request } from './request.ts'
import { Room } from './room.ts'
import { withFederatedPaths } from './routing.ts'
import type { Transport } from './address.ts'
import type { PeerConfig, PeerOptions } from './config.ts'
import type { Identity, IdentitySource } from './identity.ts'
import type { PeerNode } from './node.ts'
import type { HandleOptions, RequestHandler, RequestOptions } from './request.ts'
import type { RoomOptions } from './room.ts'
import type { Connection, PeerId } from '@libp2p/interface'

/** One connected peer, as `connect()` and `connections()` describe it */
export interface ConnectionInfo {
  peerId: string
  /** true when no relay sits in the data path (WebRTC, or our own WebSocket to a relay) */
  direct: boolean
  transport: Transport
}

/** A relay we are configured with and whether it holds a reservation for us */
export interface RelayStatus {
  peerId: string
  address: string
  connected: boolean
  reserved: boolean
}

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

export interface ConnectOptions {
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
  private reserved = new Set<string>()
  private stopped = false

  /** @internal use `createPeer` */
  constructor (node: PeerNode, config: PeerConfig, identity: Identity) {
    super()
    this.libp2p = node
    this.config = config
    this.key = identity
    this.identity = identity.source
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
    if (typeof window !== 'undefined') window.addEventListener('pagehide', this.onPageHide)

    await node.start()

    // tag the relays so libp2p's reconnect queue redials them when a connection drops
    await Promise.all(this.config.relays.map(async ma => {
      await node.peerStore.merge(parsePeerId(lastPeerId(ma)), {
        multiaddrs: [ma],
        tags: { [KEEP_ALIVE]: { value: 1 } }
      })
    }))

    const reservation = this.nextReservation(signal)
    const dials = await Promise.allSettled(this.config.relays.map(async ma => node.dial(ma, { signal })))
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
    // federation (src/routing.ts): our relays also tell us where a peer reserved only on another relay is
    const paths = await withFederatedPaths(this.libp2p, this.config, target, [
      ...relays.map(relay => `${relay.toString()}/p2p-circuit/webrtc/p2p/${target}`),
      ...(options.allowRelayed === false ? [] : relays.map(relay => `${relay.toString()}/p2p-circuit/p2p/${target}`))
    ], { signal, allowRelayed: options.allowRelayed })
    const errors: string[] = []
    for (const path of paths) {
      if (existing != null && !path.includes('/webrtc')) return describe(existing)
      // ICE on a busy machine can overrun libp2p's per-address dial timeout once: a WebRTC path gets a second try
      for (let attempt = 1; attempt <= (path.includes('/webrtc') ? 2 : 1); attempt++) {
        try {
          return describe(await this.libp2p.dial(multiaddr(path), { signal }))
        } catch (err: any) {
          signal?.throwIfAborted()
          errors.push(`${path}: ${err.message}`)
          if (err.name !== 'TimeoutError') break
        }
      }
    }
    throw new PeerUnreachableError(target, `could not reach ${target}:\n  ${errors.join('\n  ')}`)
  }

  /** Every connected peer (relays included), each described by its best connection */
  connections (): ConnectionInfo[] {
    const peers = new Map<string, Connection>()
    for (const conn of this.libp2p.getConnections()) {
      const key = conn.remotePeer.toString()
      const known = peers.get(key)
      if (known == null || TRANSPORT_RANK[transportOf(conn)] < TRANSPORT_RANK[transportOf(known)]) peers.set(key, conn)
    }
    return [...peers.values()].map(describe)
  }

  /** Joins a room (a GossipSub topic with presence) */
  async join (name: string, options: RoomOptions = {}): Promise<Room> {
    this.assertRunning()
    const existing = this.rooms.get(name)
    if (existing != null) return existing
    const room = new Room(this.libp2p, name, options, left => this.rooms.delete(left.name))
    this.rooms.set(name, room)
    try {
      await room.open(options)
    } catch (err) {
      await room.leave()
      throw err
    }
    return room
  }

  /** Answers requests for `protocol` (e.g. `/myapp/echo/1.0.0`) with `handler` */
  async handle (protocol: string, handler: RequestHandler, options?: HandleOptions): Promise<void> {
    this.assertRunning()
    await handle(this.libp2p, protocol, handler, options)
  }

  /** Stops answering `protocol` */
  async unhandle (protocol: string): Promise<void> {
    await this.libp2p.unhandle(protocol)
  }

  /** Sends a request to a peer (connecting first if need be) and resolves to its answer */
  async request (peerId: string, protocol: string, data: Uint8Array | string, options: RequestOptions = {}): Promise<Uint8Array> {
    this.assertRunning()
    const id = parsePeerId(peerId)
    if (this.best(id) == null) await this.connect(peerId, { signal: options.signal })
    const connection = this.best(id)
    if (connection == null) throw new PeerUnreachableError(peerId, `no connection to ${peerId}`)
    return await request(connection, protocol, data, options)
  }

  /** Leaves every room and stops the node; the stored identity is free for another tab afterwards */
  async stop (): Promise<void> {
    if (this.stopped) return
    this.stopped = true
    if (typeof window !== 'undefined') window.removeEventListener('pagehide', this.onPageHide)
    await Promise.all([...this.rooms.values()].map(async room => room.leave()))
    this.libp2p.removeEventListener('self:peer:update', this.onSelfUpdate)
    await this.libp2p.stop()
    this.key.release()
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

  private readonly onPageHide = (): void => {
    for (const room of this.rooms.values()) room.announceLeave()
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
  const identity = await loadIdentity(config.identity, { name: config.identityName, whenInUse: config.whenIdentityInUse, signal })
  let peer: Peer | undefined
  try {
    peer = new Peer(await createNode(config, identity.privateKey), config, identity)
    await peer.start(signal)
    return peer
  } catch (err) {
    await peer?.stop().catch(() => {})
    identity.release()
    throw err
  }
}
