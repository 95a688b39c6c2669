// What other peers may open to us. Every relayed connection seems to come from its relay's address, so
// libp2p's own inbound limits (new connections per second per host, pending upgrades) are shared by every
// peer behind a relay: one peer flooding circuits at us shut out everyone else. Here the limits are per
// remote PeerId, which the relay states in the circuit's STOP request and Noise then proves.
import { Circuit, WebRTC } from '@multiformats/multiaddr-matcher'
import { transportOf } from './address.ts'
import { BoundedMap, WindowLimiter } from './limiter.ts'
import { peerLogger } from './logger.ts'
import type { Connection, ConnectionGater, Libp2p, MultiaddrConnection, PeerId, Stream } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'

/** A circuit, not a WebRTC link signalled over one */
const isRelayed = (ma: Multiaddr): boolean => Circuit.matches(ma) && !WebRTC.matches(ma)

const log = peerLogger('inbound')

/** Limits on what one remote peer may open to us; see README › Troubleshooting */
export const INBOUND_LIMITS = {
  /**
   * relayed connections one remote peer may have opened to us at once (open or being set up). WebRTC links are
   * bounded by the signalling streams they need (below): an honest Firefox peer was seen to open 7 at once.
   */
  perPeer: 6,
  /** new relayed connections one remote peer may open to us per minute */
  relayedPerPeerPerMinute: 20,
  /** WebRTC signalling streams one remote peer may have open to us at once (each one is an RTCPeerConnection) */
  signalingPerPeer: 2,
  /**
   * new inbound connections per second through one relay (libp2p's `inboundConnectionThreshold`, which keys
   * on the relay's address; its default, 5, is one room's worth of members linking at once)
   */
  perRelayPerSecond: 20,
  /** inbound connections being set up at once, all peers together (libp2p's `maxIncomingPendingConnections`) */
  pending: 32,
  /** remote peers whose counts are kept (twice this at most); one pushed out starts afresh */
  maxPeers: 4096
} as const

/** How long a relayed connection may take from its STOP request to being open (libp2p's inbound upgrade timeout, plus slack) */
const SETUP_MS = 11_000

/** The WebRTC transport's signalling protocol: one RTCPeerConnection per stream */
const SIGNALING_PROTOCOL = '/webrtc-signaling/0.0.1'

/** Counts and refuses what remote peers open to us; `gater()` goes into the connection gater, `attach` follows the node */
export class InboundLimits {
  private node?: Libp2p
  /** relayed connections allowed by their STOP request and not open yet, by remote peer */
  private readonly settingUp = new BoundedMap<number>(INBOUND_LIMITS.maxPeers)
  private readonly rate = new WindowLimiter({ points: INBOUND_LIMITS.relayedPerPeerPerMinute, windowMs: 60_000, maxKeys: INBOUND_LIMITS.maxPeers })
  private readonly signaling = new BoundedMap<number>(INBOUND_LIMITS.maxPeers)
  /** how many connections and streams were refused, by reason (for tests and debugging) */
  readonly refused = { perPeer: 0, rate: 0, signaling: 0 }

  /** Follows the node's connections and guards its WebRTC signalling, once it exists (the gater is needed to create it) */
  attach (node: Libp2p): void {
    this.node = node
    node.addEventListener('connection:open', evt => { this.onOpen(evt.detail) })
    node.use(SIGNALING_PROTOCOL, this.signalingMiddleware)
  }

  /** The inbound side of libp2p's `connectionGater` */
  gater (): Pick<ConnectionGater, 'denyInboundRelayedConnection' | 'denyInboundUpgradedConnection'> {
    return {
      denyInboundRelayedConnection: (_relay: PeerId, remote: PeerId) => this.denyRelayed(remote),
      // the PeerId Noise proved, in case a relay named another in the STOP request
      denyInboundUpgradedConnection: (remote: PeerId, maConn: MultiaddrConnection) => isRelayed(maConn.remoteAddr) && this.relayedFrom(remote) >= INBOUND_LIMITS.perPeer && this.refuse('perPeer', remote)
    }
  }

  private denyRelayed (remote: PeerId): boolean {
    const id = remote.toString()
    const settingUp = this.settingUp.get(id) ?? 0
    if (this.relayedFrom(remote) + settingUp >= INBOUND_LIMITS.perPeer) return this.refuse('perPeer', remote)
    if (!this.rate.take(id)) return this.refuse('rate', remote)
    this.settingUp.set(id, settingUp + 1)
    // released when it opens (onOpen), or when its setup has timed out
    setTimeout(() => { this.release(id) }, SETUP_MS)
    return false
  }

  private refuse (reason: keyof InboundLimits['refused'], remote: PeerId): true {
    this.refused[reason]++
    log('refused a connection from %p: %s', remote, reason)
    return true
  }

  private release (id: string): void {
    const n = (this.settingUp.get(id) ?? 0) - 1
    if (n > 0) this.settingUp.set(id, n)
    else this.settingUp.delete(id)
  }

  /** Open inbound relayed connections from `remote` */
  private relayedFrom (remote: PeerId): number {
    return this.node?.getConnections(remote).filter(c => c.direction === 'inbound' && c.status === 'open' && transportOf(c) === 'relay').length ?? 0
  }

  /** A relayed connection two upgrades raced past the gater with: the newest over the limit is closed */
  private onOpen (conn: Connection): void {
    if (conn.direction !== 'inbound' || transportOf(conn) !== 'relay') return
    this.release(conn.remotePeer.toString())
    if (this.relayedFrom(conn.remotePeer) > INBOUND_LIMITS.perPeer) {
      this.refuse('perPeer', conn.remotePeer)
      conn.abort(new Error(`more than ${INBOUND_LIMITS.perPeer} connections from ${conn.remotePeer.toString()}`))
    }
  }

  /** libp2p middleware on the signalling protocol: throwing refuses the stream (libp2p aborts it) */
  private readonly signalingMiddleware = (stream: Stream, connection: Connection, next: (stream: Stream, connection: Connection) => void): void => {
    // libp2p runs middleware on the streams we open, too
    if (stream.direction !== 'inbound') { next(stream, connection); return }
    const id = connection.remotePeer.toString()
    const open = this.signaling.get(id) ?? 0
    if (open >= INBOUND_LIMITS.signalingPerPeer) {
      this.refuse('signaling', connection.remotePeer)
      throw new Error(`more than ${INBOUND_LIMITS.signalingPerPeer} WebRTC signalling streams from ${id}`)
    }
    this.signaling.set(id, open + 1)
    stream.addEventListener('close', () => {
      const n = (this.signaling.get(id) ?? 0) - 1
      if (n > 0) this.signaling.set(id, n)
      else this.signaling.delete(id)
    }, { once: true })
    next(stream, connection)
  }
}
