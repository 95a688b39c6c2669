// The relay's own limits, on top of the ones libp2p's options set (see createRelay): reservations and
// still-upgrading connections per IP, enforced in the connection gater, which also counts refusals and circuits.
import { isIPv6 } from 'node:net'
import { multiaddr } from '@multiformats/multiaddr'
import type { ResolvedRelayConfig } from './config.ts'
import type { FederationPeer } from './federation.ts'
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
 * The relay's own limits, on top of libp2p's: reservations per IP, pending (still upgrading) connections
 * per IP, and counting of refusals and circuits. Federation relays are exempt.
 */
export class Limits {
  private node?: RelayNode
  private readonly pending = new Map<string, number>()
  private readonly pendingByAddr = new Map<string, string>()
  private readonly reservedByIp = new Map<string, Map<string, PeerId>>()
  private readonly ipOfPeer = new Map<string, string>()

  /** `federation`: the PeerIds of the other relays */
  constructor (private readonly config: ResolvedRelayConfig, private readonly federation: Set<string>, private readonly counters: Counters, private readonly log: RelayLogger) {}

  /** Follows the node's connections, once it exists (the gater is needed to create it) */
  attach (node: RelayNode): void {
    this.node = node
    // the connection's remote address is the socket's plus /p2p/<peer>
    node.addEventListener('connection:open', evt => { this.release(socketAddr(evt.detail.remoteAddr)) })
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
        const ip = hostOf(maConn.remoteAddr)
        if (ip == null) return false
        const n = this.pending.get(ip) ?? 0
        if (n >= this.config.maxPendingConnectionsPerIp) {
          this.counters.connectionsRefused.inc({ reason: 'pending_per_ip' })
          this.log.debug('connection:refused', { ip, reason: 'pending_per_ip' })
          return true
        }
        this.pending.set(ip, n + 1)
        this.pendingByAddr.set(addr, ip)
        // released when the upgrade completes (connection:open), when the socket closes, or at the upgrade timeout
        maConn.addEventListener?.('close', () => { this.release(addr) }, { once: true })
        setTimeout(() => { this.release(addr) }, this.config.upgradeTimeout + 1_000).unref()
        return false
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
        const ip = node.getConnections(peer).map(c => hostOf(c.remoteAddr)).find(h => h != null)
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
    const n = (this.pending.get(ip) ?? 1) - 1
    if (n <= 0) this.pending.delete(ip)
    else this.pending.set(ip, n)
  }
}

/**
 * The connection manager's `allow` list: the federation relays' IPs (`/ip4/…`, `/ip6/…`), exempt from
 * libp2p's per-IP rate and pending limits
 */
export function exemptAddresses (federation: FederationPeer[]): string[] {
  return federation.flatMap(p => p.addrs.flatMap(ma => {
    const host = hostOf(ma)
    return host == null ? [] : [`/${isIPv6(host) ? 'ip6' : 'ip4'}/${host}`]
  }))
}

/** `/ip4/…/tcp/…/ws` without any `/p2p/…`: the same string for a raw socket and its upgraded connection */
function socketAddr (ma: Multiaddr): string {
  return ma.toString().split('/p2p/')[0]
}

/** The IP of an /ip4 or /ip6 multiaddr */
function hostOf (ma: Multiaddr): string | undefined {
  const c = ma.getComponents()[0]
  return c?.name === 'ip4' || c?.name === 'ip6' ? c.value : undefined
}
