// The relay's own limits, on top of the ones libp2p's options set (see createRelay), enforced in the
// connection gater: new connections per second, still-upgrading and open connections, and reservations, per
// IP (an IPv6 /64 counts as one IP: it is what one host or household gets), and open connections in total;
// circuits in circuits.ts. Federation relays are exempt by PeerId (once Noise has proved it), never by IP.
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { CircuitLimits } from './circuits.ts'
import { addCount } from './counts.ts'
import { RateLimiter } from './rate-limit.ts'
import { ipKeyOf } from './ip-key.ts'
import type { ResolvedRelayConfig } from './config.ts'
import type { RelayLogger } from './log.ts'
import type { Counters } from './metrics.ts'
import type { RelayNode } from './relay.ts'
import type { ConnectionGater, Libp2p, MultiaddrConnection, PeerId } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'

/**
 * Inbound streams per connection for each protocol the relay speaks: a browser needs one or two of each
 * at a time; more is a peer misbehaving. (Circuits: `maxCircuitsPerPeer`.)
 */
export const STREAM_LIMITS = {
  identify: 2,
  identifyPush: 2,
  ping: 2,
  findPeer: 4,
  dht: 16
} as const

/**
 * The relay's own limits, on top of libp2p's: per IP (IPv6: per /64), new connections per second, pending
 * (still upgrading) and open connections, and reservations; open connections in total (`maxConnections`);
 * circuits per peer and per target (`circuits`); and counting of refusals and circuits. Federation relays
 * (by PeerId) are exempt where their PeerId is known.
 */
export class Limits {
  /** circuits per source peer, per target and per (target, source IP) */
  readonly circuits: CircuitLimits
  private node?: RelayNode
  private readonly rate: RateLimiter
  private readonly pending = new Map<string, number>()
  private readonly pendingByAddr = new Map<string, string>()
  private readonly open = new Map<string, number>()
  private readonly openByConnection = new Map<string, string>()
  private readonly reservedByIp = new Map<string, Map<string, PeerId>>()
  private readonly ipOfPeer = new Map<string, string>()

  private readonly members: PeerId[]

  /** `federation`: the PeerIds of the other relays */
  constructor (private readonly config: ResolvedRelayConfig, private readonly federation: Set<string>, private readonly counters: Counters, private readonly log: RelayLogger) {
    this.rate = new RateLimiter({ perSecond: config.connectionRatePerIp, burst: config.connectionRatePerIp })
    this.circuits = new CircuitLimits(config, federation, counters, log)
    this.members = [...federation].map(id => peerIdFromString(id))
  }

  /**
   * Follows the node's connections, once it exists (the gater is needed to create it); `hopStreams`: the
   * relay server's maxInboundHopStreams
   */
  async attach (node: RelayNode, hopStreams: number): Promise<void> {
    this.node = node
    await this.circuits.attach(node, hopStreams)
    node.addEventListener('connection:open', evt => {
      const conn = evt.detail
      // the connection's remote address is the socket's plus /p2p/<peer>
      this.release(socketAddr(conn.remoteAddr))
      const ip = ipKeyOf(conn.remoteAddr)
      if (conn.direction !== 'inbound' || ip == null || this.federation.has(conn.remotePeer.toString())) return
      addCount(this.open, ip, 1)
      this.openByConnection.set(conn.id, ip)
    })
    node.addEventListener('connection:close', evt => {
      const ip = this.openByConnection.get(evt.detail.id)
      if (ip == null) return
      this.openByConnection.delete(evt.detail.id)
      addCount(this.open, ip, -1)
    })
    node.addEventListener('peer:disconnect', evt => {
      const id = evt.detail.toString()
      const ip = this.ipOfPeer.get(id)
      if (ip == null) return
      this.ipOfPeer.delete(id)
      const peers = this.reservedByIp.get(ip)
      peers?.delete(id)
      if (peers?.size === 0) this.reservedByIp.delete(ip)
    })
  }

  /** libp2p's `connectionGater` option */
  gater (): ConnectionGater {
    return {
      denyInboundConnection: (maConn: MultiaddrConnection) => {
        const addr = socketAddr(maConn.remoteAddr)
        const ip = ipKeyOf(maConn.remoteAddr)
        if (ip == null) return false
        const pending = this.pending.get(ip) ?? 0
        const reason = !this.rate.take(ip)
          ? 'rate_per_ip'
          : pending >= this.config.maxPendingConnectionsPerIp
            ? 'pending_per_ip'
            : pending + (this.open.get(ip) ?? 0) >= this.config.maxConnectionsPerIp ? 'open_per_ip' : undefined
        if (reason != null) {
          this.counters.connectionsRefused.inc({ reason })
          this.log.debug('connection:refused', { ip, reason })
          return true
        }
        this.pending.set(ip, pending + 1)
        this.pendingByAddr.set(addr, ip)
        // released when the upgrade completes (connection:open), when the socket closes, or at the upgrade timeout
        maConn.addEventListener?.('close', () => { this.release(addr) }, { once: true })
        setTimeout(() => { this.release(addr) }, this.config.upgradeTimeout + 1_000).unref()
        return false
      },
      // after Noise, so the PeerId is proven: the federation's relays get in however full the relay is (an
      // address proves nothing: behind a proxy it comes from X-Forwarded-For). libp2p's own maxConnections
      // is set above this one (createRelay), so that it never refuses or prunes them first.
      denyInboundEncryptedConnection: (peer: PeerId) => {
        const node = this.node
        if (node == null || this.federation.has(peer.toString())) return false
        const members = this.members.reduce((n, member) => n + node.getConnections(member).length, 0)
        if (node.getConnections().length - members < this.config.maxConnections) return false
        this.counters.connectionsRefused.inc({ reason: 'full' })
        this.log.debug('connection:refused', { peer: peer.toString(), reason: 'full' })
        return true
      },
      denyInboundRelayReservation: (peer: PeerId) => {
        const node = this.node
        if (node == null || this.federation.has(peer.toString())) return false
        const reservations = node.services.relay.reservations
        if (reservations.has(peer)) { // a refresh
          this.counters.reservationsGranted.inc()
          this.recordCircuit(node, peer)
          return false
        }
        if (reservations.size >= this.config.maxReservations) {
          this.refuse(peer, 'full')
          return false // the reservation store refuses it (RESERVATION_REFUSED); we only count it
        }
        const ip = node.getConnections(peer).map(c => ipKeyOf(c.remoteAddr)).find(h => h != null)
        if (ip != null) {
          // the peers of this IP that hold a reservation; O(limit), whatever the number of reservations
          const peers = this.reservedByIp.get(ip) ?? new Map<string, PeerId>()
          for (const [id, p] of peers) if (!reservations.has(p)) peers.delete(id)
          if (peers.size >= this.config.maxReservationsPerIp) {
            this.refuse(peer, 'per_ip', ip)
            return true
          }
          peers.set(peer.toString(), peer)
          this.reservedByIp.set(ip, peers)
          this.ipOfPeer.set(peer.toString(), ip)
        }
        this.counters.reservationsGranted.inc()
        this.recordCircuit(node, peer)
        return false
      },
      denyOutboundRelayedConnection: (source: PeerId, destination: PeerId) => {
        if (this.circuits.deny(source, destination)) return true
        this.counters.circuits.inc()
        this.log.debug('circuit', { from: source.toString(), to: destination.toString() })
        return false
      }
    }
  }

  /**
   * Remembers a reserving peer's circuit address through us in the peer store, whatever its own identify
   * says (a Firefox tab's had none there at times): federation lookups (the DHT's FIND_NODE) answer from it
   */
  private recordCircuit (node: Libp2p, peer: PeerId): void {
    const circuits = node.getMultiaddrs().map(ma => multiaddr(`${ma.toString()}/p2p-circuit/p2p/${peer.toString()}`))
    node.peerStore.merge(peer, { multiaddrs: circuits }).catch(() => {})
  }

  private refuse (peer: PeerId, reason: string, ip?: string): void {
    this.counters.reservationsRefused.inc({ reason })
    this.log.debug('reservation:refused', { peer: peer.toString(), reason, ip })
  }

  private release (addr: string): void {
    const ip = this.pendingByAddr.get(addr)
    if (ip == null) return
    this.pendingByAddr.delete(addr)
    addCount(this.pending, ip, -1)
  }
}

/** `/ip4/…/tcp/…/ws` without any `/p2p/…`: the same string for a raw socket and its upgraded connection */
function socketAddr (ma: Multiaddr): string {
  return ma.toString().split('/p2p/')[0]
}
