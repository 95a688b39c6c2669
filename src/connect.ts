// The dial strategy: how `peer.connect()` reaches another peer (WebRTC through our relays first, then the
// federation, then a relayed circuit), which of several connections to a peer is used, and keeping a
// relayed link alive across the relay's circuit limits.
import { multiaddr } from '@multiformats/multiaddr'
import { TypedEventEmitter } from 'main-event'
import pRetry from 'p-retry'
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
  /**
   * we hold a relayed link to `peerId` (connect() made or found it, or renewed it): worth upgrading to WebRTC,
   * at once when `eager` (the app asked to connect)
   */
  'link:relayed': CustomEvent<{ peerId: string, eager: boolean }>
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
   * Connects to a peer, by bare PeerId or by multiaddr. A PeerId is looked up through the relays we share
   * with it (then the relays' federation). By default this resolves as soon as a relayed circuit is up and
   * the WebRTC link is made in the background (`connection:direct`); with `allowRelayed: false` it resolves
   * with the WebRTC link, or rejects once ICE fails.
   */
  async connect (target: string, options: ConnectOptions & { webrtcTries?: number, eager?: boolean } = {}): Promise<ConnectionInfo> {
    const { signal } = options
    // the app asked for this peer: link directly whatever maxDirectPeers says (internal callers may not be the app)
    const eager = options.eager ?? true
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
        // ICE on a busy machine can overrun libp2p's per-address dial timeout once: a WebRTC path gets a second
        // try (background upgrades have their own retries, links.ts, and take one)
        for (let attempt = 1; attempt <= (path.includes('/webrtc') ? options.webrtcTries ?? 2 : 1); attempt++) {
          try {
            log('dialling %s (attempt %d)', path, attempt)
            const conn = await this.node.dial(multiaddr(path), { signal })
            // libp2p answers a dial with an open connection it already has when it thinks the new one would be no
            // better (an unlimited circuit), and joins a dial to a peer with one under way (a history request's,
            // say): for a WebRTC path that is no WebRTC link, so the next attempt dials again
            if (path.includes('/webrtc') && transportOf(conn) !== 'webrtc') {
              errors.push(`${path}: answered by the ${transportOf(conn)} connection, not a WebRTC link`)
              continue
            }
            if (transportOf(conn) === 'relay') this.keepRelayed(conn, path, eager)
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
    const ownWebRTC = relays.map(relay => `${relay.toString()}/p2p-circuit/webrtc/p2p/${target}`)
    const ownRelayed = relays.map(relay => `${relay.toString()}/p2p-circuit/p2p/${target}`)
    if (options.allowRelayed !== false) {
      // usable at once: the relayed circuit is up after one relay round trip of its own, while ICE (which may
      // never succeed behind some NATs) runs in the background (DirectLinks hears `link:relayed`)
      if (existing != null) {
        this.safeDispatchEvent('link:relayed', { detail: { peerId: target, eager } })
        return describe(existing)
      }
      const relayed = await tryPaths(ownRelayed)
      if (relayed != null) return relayed
    } else {
      // WebRTC through our own relays first: that is where the peers of one app usually meet, and a relay that
      // holds no reservation for the target says so at once
      const direct = await tryPaths(ownWebRTC)
      if (direct != null) return direct
    }
    // then federation (src/routing.ts): our relays tell us where a peer reserved only on another relay is
    const paths = await withFederatedPaths(this.node, this.config, this.vouched, target,
      options.allowRelayed === false ? [] : ownRelayed, { signal, allowRelayed: options.allowRelayed })
    const tried = new Set([...ownWebRTC, ...(options.allowRelayed === false ? [] : ownRelayed)])
    const isWebRTC = (path: string): boolean => path.includes('/webrtc')
    const untried = paths.filter(path => !tried.has(path))
    // relayed paths first where they are allowed (usable soonest), then WebRTC
    const link = await tryPaths(options.allowRelayed === false ? untried : [...untried.filter(p => !isWebRTC(p)), ...untried.filter(isWebRTC)])
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
  async connectionTo (peerId: string, signal?: AbortSignal, eager = true): Promise<Connection> {
    const id = parsePeerId(peerId)
    if (this.best(id) == null) await this.connect(peerId, { signal, eager })
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
  private keepRelayed (conn: Connection, path: string, eager = true): void {
    this.safeDispatchEvent('link:relayed', { detail: { peerId: conn.remotePeer.toString(), eager } })
    if (this.renewals.has(conn.id)) return
    const onClose = (evt: CustomEvent<Connection>): void => { if (evt.detail.id === conn.id) renew() }
    const renew = (): void => {
      if (!this.renewals.has(conn.id)) return
      clearTimeout(this.renewals.get(conn.id))
      this.renewals.delete(conn.id)
      this.node.removeEventListener('connection:close', onClose)
      if (this.stopped) return
      const others = this.node.getConnections(conn.remotePeer).filter(c => c.id !== conn.id && c.status === 'open')
      // a WebRTC link took over; or another circuit (a WebRTC attempt's signalling one, say) carries the link now
      if (others.some(c => transportOf(c) !== 'relay')) return
      const circuit = others.find(c => transportOf(c) === 'relay')
      if (circuit != null) { this.keepRelayed(circuit, path, false); return }
      log('renewing the relayed link to %s', conn.remotePeer)
      // libp2p joins a dial to a peer that is already being dialled (a WebRTC upgrade, say) and shares its
      // outcome: a renewal that failed that way gets more tries
      pRetry(async () => await this.node.dial(multiaddr(path), { force: true }), { retries: 3, minTimeout: 1_000, maxTimeout: 2_000 })
        .then(fresh => { if (transportOf(fresh) === 'relay') this.keepRelayed(fresh, path, false) })
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
