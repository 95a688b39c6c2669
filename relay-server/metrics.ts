// The relay's Prometheus metrics: libp2p's own (through @libp2p/prometheus-metrics) and the relay's
// counters and gauges, all in one registry that /metrics serves.
import { prometheusMetrics } from '@libp2p/prometheus-metrics'
import { Counter, Gauge } from 'prom-client'
import type { RelayNode } from './relay.ts'
import type { Connection, Metrics } from '@libp2p/interface'
import type { Registry } from 'prom-client'

const HOP = '/libp2p/circuit/relay/0.2.0/hop'
const STOP = '/libp2p/circuit/relay/0.2.0/stop'

/** The relay's counters, incremented where the events happen (limits, circuits, rooms) */
export interface Counters {
  reservationsGranted: Counter
  reservationsRefused: Counter<'reason'>
  circuits: Counter
  circuitsRefused: Counter<'reason'>
  connectionsRefused: Counter<'reason'>
  relayedBytes: Counter
  roomMessages: Counter
  roomMessagesDropped: Counter
  roomMessagesStale: Counter
  dhtRefused: Counter
  findPeerRefused: Counter<'reason'>
  stunRequests: Counter<'outcome'>
}

/** Creates the relay's counters in `registry` */
export function createCounters (registry: Registry): Counters {
  return {
    reservationsGranted: new Counter({ name: 'peerlane_relay_reservations_granted_total', help: 'Reservations granted or refreshed', registers: [registry] }),
    reservationsRefused: new Counter({ name: 'peerlane_relay_reservations_refused_total', help: 'Reservations refused, by reason (full, per_ip)', labelNames: ['reason'], registers: [registry] }),
    circuits: new Counter({ name: 'peerlane_relay_circuits_total', help: 'Relayed circuits opened', registers: [registry] }),
    circuitsRefused: new Counter({ name: 'peerlane_relay_circuits_refused_total', help: 'Relayed circuits refused, by reason (per_peer, per_target, per_target_per_ip)', labelNames: ['reason'], registers: [registry] }),
    connectionsRefused: new Counter({ name: 'peerlane_relay_connections_refused_total', help: 'Inbound connections refused by the relay\'s own limits, by reason (rate_per_ip, pending_per_ip, open_per_ip, full: past --max-connections)', labelNames: ['reason'], registers: [registry] }),
    relayedBytes: new Counter({ name: 'peerlane_relay_relayed_bytes_total', help: 'Bytes carried by relayed circuits (both directions, as received by the relay)', registers: [registry] }),
    roomMessages: new Counter({ name: 'peerlane_relay_room_messages_total', help: 'Room messages (presence beacons included) the relay received and checked, each counted once', registers: [registry] }),
    roomMessagesDropped: new Counter({ name: 'peerlane_relay_room_messages_dropped_total', help: 'Room messages dropped, not forwarded: not a room envelope, or over --max-room-message-size', registers: [registry] }),
    roomMessagesStale: new Counter({ name: 'peerlane_relay_room_messages_stale_total', help: 'Room messages not forwarded because their timestamp is outside --replay-window: replays, or senders whose clock is off', registers: [registry] }),
    dhtRefused: new Counter({ name: 'peerlane_relay_dht_refused_total', help: 'Inbound federation DHT streams reset because their peer is not a relay of the federation', registers: [registry] }),
    findPeerRefused: new Counter({ name: 'peerlane_relay_find_peer_refused_total', help: 'Find-peer requests reset unanswered, by reason (rate: the requester\'s, busy: too many federation lookups at once)', labelNames: ['reason'], registers: [registry] }),
    stunRequests: new Counter({ name: 'peerlane_relay_stun_requests_total', help: 'Datagrams to the relay\'s STUN port, by outcome (answered, refused: over a rate, ignored: not a Binding request)', labelNames: ['outcome'], registers: [registry] })
  }
}

/**
 * libp2p's `metrics` option: @libp2p/prometheus-metrics in `registry`, which also counts the bytes
 * relayed circuits carry into `relayedBytes`
 */
export function relayMetrics (registry: Registry, relayedBytes: Counter): (components: any) => Metrics {
  return (components: any) => countRelayedBytes(prometheusMetrics({ registry })(components), relayedBytes)
}

/**
 * Registers the gauges, read from the running node at each scrape, and counts room messages.
 * `federation`: the PeerIds of the other relays, which are not room members.
 */
export function watchRelay (registry: Registry, node: RelayNode, federation: Set<string>, counters: Counters): void {
  const pubsub = node.services.pubsub
  const relay = node.services.relay
  new Gauge({ name: 'peerlane_relay_reservations', help: 'Relay reservations held', registers: [registry], collect () { this.set(relay.reservations.size) } })
  new Gauge({ name: 'peerlane_relay_rooms', help: 'Room topics the relay carries', registers: [registry], collect () { this.set(pubsub.getTopics().length) } })
  new Gauge({ name: 'peerlane_relay_connections', help: 'Open connections', registers: [registry], collect () { this.set(node.getConnections().length) } })
  new Gauge({
    name: 'peerlane_relay_connections_by_transport',
    help: 'Open connections by transport (websockets, websockets-tls, circuit, other)',
    labelNames: ['transport'],
    registers: [registry],
    collect () {
      const counts: Record<string, number> = { websockets: 0, 'websockets-tls': 0, circuit: 0, other: 0 }
      for (const conn of node.getConnections()) counts[transportLabel(conn)]++
      for (const [transport, n] of Object.entries(counts)) this.set({ transport }, n)
    }
  })
  new Gauge({
    name: 'peerlane_relay_room_peers',
    help: 'Peers per room topic: members summed over rooms (stat="sum") and the largest room (stat="max")',
    labelNames: ['stat'],
    registers: [registry],
    collect () {
      let sum = 0
      let max = 0
      for (const topic of pubsub.getTopics()) {
        const n = pubsub.getSubscribers(topic).filter(p => !federation.has(p.toString())).length
        sum += n
        max = Math.max(max, n)
      }
      this.set({ stat: 'sum' }, sum)
      this.set({ stat: 'max' }, max)
    }
  })
  new Gauge({
    name: 'peerlane_relay_federation_peers',
    help: 'Relays of the federation: configured, and connected now',
    labelNames: ['state'],
    registers: [registry],
    collect () {
      this.set({ state: 'configured' }, federation.size)
      this.set({ state: 'connected' }, [...federation].filter(id => node.getConnections().some(c => c.remotePeer.toString() === id)).length)
    }
  })
  pubsub.addEventListener('gossipsub:message', () => { counters.roomMessages.inc() })
}

function transportLabel (conn: Connection): string {
  const text = conn.remoteAddr.toString()
  if (text.includes('/p2p-circuit')) return 'circuit'
  if (text.includes('/tls/ws') || text.includes('/wss')) return 'websockets-tls'
  if (text.includes('/ws')) return 'websockets'
  return 'other'
}

/** Counts bytes received on circuit streams (hop: from the dialling side, stop: from the target) */
function countRelayedBytes (metrics: Metrics, counter: Counter): Metrics {
  const track = metrics.trackProtocolStream.bind(metrics)
  metrics.trackProtocolStream = (stream) => {
    track(stream)
    if (stream.protocol !== HOP && stream.protocol !== STOP) return
    const dispatchEvent = stream.dispatchEvent.bind(stream)
    stream.dispatchEvent = (evt: Event): boolean => {
      if (evt.type === 'message') counter.inc((evt as MessageEvent<{ byteLength: number }>).data.byteLength)
      return dispatchEvent(evt)
    }
  }
  return metrics
}
