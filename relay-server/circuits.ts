// Relayed circuits per source peer, per target peer and per (target, source IP): libp2p's circuit relay
// server only bounds hop streams per connection (maxInboundHopStreams) and stop streams per target
// connection, so one peer with several connections, or many PeerIds (they cost nothing) from one host,
// could hold every circuit a target can take, each for up to --circuit-duration.
import { AsyncLocalStorage } from 'node:async_hooks'
import { RELAY_V2_HOP_CODEC } from '@libp2p/circuit-relay-v2'
import { addCount } from './counts.ts'
import { ipKeyOf } from './ip-key.ts'
import type { ResolvedRelayConfig } from './config.ts'
import type { RelayLogger } from './log.ts'
import type { Counters } from './metrics.ts'
import type { RelayNode } from './relay.ts'
import type { Connection, PeerId, Stream } from '@libp2p/interface'

/** Why a circuit was refused, as `peerlane_relay_circuits_refused_total{reason}` counts it */
export type CircuitRefusal = 'per_peer' | 'per_target' | 'per_target_per_ip'

/** The hop request being handled: its stream lives exactly as long as the circuit it asks for */
interface HopRequest { stream: Stream, connection: Connection }

/**
 * Counts open circuits and refuses a hop CONNECT over a limit. The check runs in the connection gater's
 * `denyOutboundRelayedConnection` (after libp2p's own checks: a reservation exists for the target), so the
 * refusal is libp2p's own PERMISSION_DENIED answer; each circuit is counted until its hop stream closes.
 */
export class CircuitLimits {
  private readonly bySource = new Map<string, number>()
  private readonly byTarget = new Map<string, number>()
  private readonly byTargetIp = new Map<string, number>()
  // the gater is given only the two PeerIds: the hop request it is checking comes from this context
  private readonly hop = new AsyncLocalStorage<HopRequest>()

  /** `federation`: the PeerIds of the other relays (not limited) */
  constructor (
    private readonly config: Pick<ResolvedRelayConfig, 'maxCircuitsPerPeer' | 'maxCircuitsPerTarget' | 'maxCircuitsPerTargetPerIp'>,
    private readonly federation: Set<string>,
    private readonly counters: Pick<Counters, 'circuitsRefused'>,
    private readonly log: RelayLogger
  ) {}

  /**
   * Runs each hop stream of the node's circuit relay server in a context that names the stream and its
   * connection, by registering the server's own `onHop` handler again with the same options (`hopStreams`:
   * its maxInboundHopStreams). If the server has no `onHop`, the limits are off and a warning says so.
   *
   * Upstream: delete once the relay server passes the hop connection to `denyOutboundRelayedConnection` or
   * has per-peer circuit limits of its own.
   */
  async attach (node: RelayNode, hopStreams: number): Promise<void> {
    const server = node.services.relay as unknown as { onHop?: (stream: Stream, connection: Connection) => Promise<void> }
    const onHop = server.onHop
    if (typeof onHop !== 'function') {
      this.log.warn('circuit-limits:unsupported', { message: 'the circuit relay server has no onHop: circuits per peer and per target are not limited' })
      return
    }
    await node.unhandle(RELAY_V2_HOP_CODEC)
    await node.handle(RELAY_V2_HOP_CODEC, async (stream, connection) => {
      await this.hop.run({ stream, connection }, async () => { await onHop.call(server, stream, connection) })
    }, { maxInboundStreams: hopStreams, runOnLimitedConnection: true })
  }

  /** The gater's `denyOutboundRelayedConnection`: true refuses the circuit; else it is counted until it closes */
  deny (source: PeerId, target: PeerId): boolean {
    const hop = this.hop.getStore()
    const from = source.toString()
    if (hop == null || this.federation.has(from)) return false
    const to = target.toString()
    const ip = ipKeyOf(hop.connection.remoteAddr) ?? from
    const pair = `${to} ${ip}`
    let reason: CircuitRefusal | undefined
    if ((this.bySource.get(from) ?? 0) >= this.config.maxCircuitsPerPeer) reason = 'per_peer'
    else if ((this.byTarget.get(to) ?? 0) >= this.config.maxCircuitsPerTarget) reason = 'per_target'
    else if ((this.byTargetIp.get(pair) ?? 0) >= this.config.maxCircuitsPerTargetPerIp) reason = 'per_target_per_ip'
    if (reason != null) {
      this.counters.circuitsRefused.inc({ reason })
      this.log.debug('circuit:refused', { from, to, ip, reason })
      return true
    }
    // a stream already closed fires no more events, and carries no circuit: nothing to count
    if (hop.stream.status === 'closed' || hop.stream.status === 'aborted' || hop.stream.status === 'reset') return false
    addCount(this.bySource, from, 1)
    addCount(this.byTarget, to, 1)
    addCount(this.byTargetIp, pair, 1)
    hop.stream.addEventListener('close', () => {
      addCount(this.bySource, from, -1)
      addCount(this.byTarget, to, -1)
      addCount(this.byTargetIp, pair, -1)
    }, { once: true })
    return false
  }

  /** Circuits open now (counted by source) */
  get size (): number {
    let n = 0
    for (const count of this.bySource.values()) n += count
    return n
  }
}
