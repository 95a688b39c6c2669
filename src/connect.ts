// The dial strategy: how `peer.connect()` reaches another peer (WebRTC through our relays first, then the
// federation, then a relayed circuit), which of several connections to a peer is used, and keeping a
// relayed link alive across the relay's circuit limits.
import { multiaddr } from '@multiformats/multiaddr'
import { TypedEventEmitter } from 'main-event'
import { isDirect, lastPeerId, parseMultiaddr, parsePeerId, transportOf } from './address.ts'
import { InvalidAddressError, PeerUnreachableError } from './errors.ts'
import { peerLogger } from './logger.ts'
import { withFederatedPaths } from './routing.ts'
import type { Transport } from './address.ts'
import type { PeerConfig } from './config.ts'
import type { PeerNode } from './node.ts'
import type { Connection, PeerId } from '@libp2p/interface'

const log = peerLogger('connect')

/** One connected peer, as `connect()` and `connections()` describe it */
export interface ConnectionInfo {
  /** the other peer's PeerId */
  peerId: string
  /** true when no relay sits in the data path (WebRTC, or our own WebSocket to a relay) */
  direct: boolean
  /** `'webrtc'` (direct browser link), `'websockets'` (our own connection to a relay) or `'relay'` (a circuit) */
  transport: Transport
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

export function describe (conn: Connection): ConnectionInfo {
  return { peerId: conn.remotePeer.toString(), direct: isDirect(conn), transport: transportOf(conn) }
}

/** What the connector tells the rest of the peer */
export interface ConnectorEvents {
  /** we settled for a relayed link to `peerId` (or renewed one): worth upgrading to WebRTC */
  'link:relayed': CustomEvent<{ peerId: string }>
}

/** Makes and picks connections to other peers */
export class Connector extends TypedEventEmitter<ConnectorEvents> {
  private readonly node: PeerNode
  private readonly config: PeerConfig
  private readonly vouched: Set<string>
  /** relayed connections we will renew before their duration limit, by connection id */
  private readonly renewals = new Map<string, ReturnType<typeof setTimeout>>()
  private stopped = false

  constructor (node: PeerNode, config: PeerConfig, vouched: Set<string>) {
    super()
    this.node = node
    this.config = config
    this.vouched = vouched
  }

  /**
   * Connects to a peer, by bare PeerId or by multiaddr. A PeerId is looked up through the relays we
   * share with it: a direct WebRTC link is tried first, then (unless `allowRelayed: false`) a relayed one.
   */
  async connect (target: string, options: ConnectOptions = {}): Promise<ConnectionInfo> {
    const { signal } = options
    signal?.throwIfAborted()

    if (typeof target === 'string' && target.startsWith('/')) {
      const ma = parseMultiaddr(target)
      if (lastPeerId(ma) == null) throw new InvalidAddressError(target, 'must end in /p2p/<PeerId> to be dialled')
      return describe(await this.node.dial(ma, { signal }))
    }

    const peerId = parsePeerId(target)
    if (peerId.equals(this.node.peerId)) throw new InvalidAddressError(target, 'is this peer itself')
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
            log('dialling %s (attempt %d)', path, attempt)
            const conn = await this.node.dial(multiaddr(path), { signal })
            if (transportOf(conn) === 'relay') this.keepRelayed(conn, path)
            return describe(conn)
          } catch (err: any) {
            signal?.throwIfAborted()
            log('%s failed: %s', path, err.message)
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
    const paths = await withFederatedPaths(this.node, this.config, this.vouched, target,
      options.allowRelayed === false ? [] : relays.map(relay => `${relay.toString()}/p2p-circuit/p2p/${target}`),
      { signal, allowRelayed: options.allowRelayed })
    const link = await tryPaths(paths.filter(path => !ownWebRTC.includes(path)))
    if (link != null) return link
    throw new PeerUnreachableError(target, `could not reach ${target}:\n  ${errors.join('\n  ')}`)
  }

  /** Every connected peer (relays included), each described by its best connection */
  connections (): ConnectionInfo[] {
    const peers = new Map(this.node.getConnections().map(c => [c.remotePeer.toString(), c.remotePeer]))
    return [...peers.values()].flatMap(peerId => {
      const conn = this.best(peerId)
      return conn == null ? [] : [describe(conn)]
    })
  }

  /** The best open connection to `peerId` (WebRTC, then WebSocket, then a circuit) */
  best (peerId: PeerId): Connection | undefined {
    return this.node.getConnections(peerId)
      .filter(c => c.status === 'open')
      .sort((a, b) => TRANSPORT_RANK[transportOf(a)] - TRANSPORT_RANK[transportOf(b)])[0]
  }

  /** The best open connection to `peerId`, connecting first when there is none */
  async connectionTo (peerId: string, signal?: AbortSignal): Promise<Connection> {
    const id = parsePeerId(peerId)
    if (this.best(id) == null) await this.connect(peerId, { signal })
    const connection = this.best(id)
    if (connection == null) throw new PeerUnreachableError(peerId, `no connection to ${peerId}`)
    return connection
  }

  /** Whether a direct WebRTC link to `peerId` is open */
  hasDirect (peerId: string): boolean {
    return this.node.getConnections().some(c => c.remotePeer.toString() === peerId && transportOf(c) === 'webrtc')
  }

  /** How many peers we hold direct WebRTC links to */
  directCount (): number {
    return new Set(this.node.getConnections().filter(c => transportOf(c) === 'webrtc').map(c => c.remotePeer.toString())).size
  }

  stop (): void {
    this.stopped = true
    for (const timer of this.renewals.values()) clearTimeout(timer)
    this.renewals.clear()
  }

  /**
   * We settled for a relayed link: keep it alive across the relay's circuit limits, so it is never cut
   * silently: renewed at 80 % of its announced duration, and redialled at once if the relay cuts it anyway
   * (js-libp2p relays announce the duration in ms where the spec says seconds, so the announced figure is not
   * to be trusted). DirectLinks (links.ts) hears of it (`link:relayed`) and keeps trying to upgrade it.
   */
  private keepRelayed (conn: Connection, path: string): void {
    this.safeDispatchEvent('link:relayed', { detail: { peerId: conn.remotePeer.toString() } })
    if (this.renewals.has(conn.id)) return
    const onClose = (evt: CustomEvent<Connection>): void => { if (evt.detail.id === conn.id) renew() }
    const renew = (): void => {
      if (!this.renewals.has(conn.id)) return
      clearTimeout(this.renewals.get(conn.id))
      this.renewals.delete(conn.id)
      this.node.removeEventListener('connection:close', onClose)
      if (this.stopped || this.node.getConnections(conn.remotePeer).some(c => c.id !== conn.id && c.status === 'open')) return
      log('renewing the relayed link to %s', conn.remotePeer)
      this.node.dial(multiaddr(path), { force: true })
        .then(fresh => { if (transportOf(fresh) === 'relay') this.keepRelayed(fresh, path) })
        .catch(() => {}) // the peer is gone, or the relay is: nothing left to renew
    }
    const seconds = conn.limits?.seconds
    this.renewals.set(conn.id, setTimeout(renew, seconds == null ? 2 ** 31 - 1 : Math.min(seconds * 1000 * 0.8, 2 ** 31 - 1)))
    this.node.addEventListener('connection:close', onClose)
  }

  private isConnected (peerId?: string): boolean {
    return this.node.getConnections().some(c => c.remotePeer.toString() === peerId)
  }
}
