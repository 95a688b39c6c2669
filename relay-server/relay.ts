import '../src/polyfills.ts'
import { rename, writeFile } from 'node:fs/promises'
import { createServer } from 'node:http'
import { isIPv6 } from 'node:net'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { circuitRelayServer } from '@libp2p/circuit-relay-v2'
import { gossipsub } from '@libp2p/gossipsub'
import { identify } from '@libp2p/identify'
import { ping } from '@libp2p/ping'
import { prometheusMetrics } from '@libp2p/prometheus-metrics'
import { webSockets } from '@libp2p/websockets'
import { createLibp2p } from 'libp2p'
import { Gauge, Registry } from 'prom-client'
import { validateRelayConfig } from './config.ts'
import { loadOrCreateKey } from './key-file.ts'
import { guardWebSockets } from './ws-guard.ts'
import type { RelayConfig } from './config.ts'
import type { CircuitRelayService } from '@libp2p/circuit-relay-v2'
import type { GossipSub } from '@libp2p/gossipsub'
import type { Libp2p } from '@libp2p/interface'
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'

export { RelayConfigError, parseRelayArgs, validateRelayConfig, USAGE } from './config.ts'
export type { RelayConfig } from './config.ts'
export { RelayKeyError } from './key-file.ts'
export { MAX_WS_PAYLOAD } from './ws-guard.ts'

/** Room topics start with this; the relay joins them so rooms work before browsers link up directly */
const ROOM_TOPIC_PREFIX = 'peerlane/'
/** A relay carries at most this many room topics (each costs a little memory per member) */
const MAX_TOPICS = 4096

/**
 * Limits of the circuit-relay v2 server, chosen on purpose (js-libp2p's defaults suit a peer that
 * relays now and then, not a relay that browsers depend on). See README › Relay limits.
 */
export const RELAY_LIMITS = {
  /** a reservation lasts an hour; clients refresh it before it ends */
  reservationTtl: 60 * 60_000,
  /** a relayed circuit carries WebRTC signalling (a few KiB) and short fallback traffic */
  defaultDurationLimit: 10 * 60_000,
  /** bytes per circuit, both directions together (js-libp2p counts them as one) */
  defaultDataLimit: BigInt(4 * 1024 * 1024),
  /** concurrent circuits through the relay, per connection */
  maxInboundHopStreams: 64,
  maxOutboundStopStreams: 4096
} as const

export type RelayNode = Libp2p<{ identify: unknown, ping: unknown, relay: CircuitRelayService, pubsub: GossipSub }>

/** A running (or starting) relay */
export interface Relay {
  /** resolves once listening (and the HTTP server, if any, is up); rejects if the relay cannot start */
  ready: Promise<void>
  /** the relay's multiaddrs with `/p2p/<id>`; empty until `ready` */
  readonly addresses: string[]
  /** the relay's PeerId; empty until `ready` */
  readonly peerId: string
  /** the HTTP server's port, if one was asked for; undefined until `ready` */
  readonly httpPort: number | undefined
  /** the libp2p node, once `ready` */
  readonly libp2p: RelayNode | undefined
  /** closes every connection and the HTTP server */
  close(): Promise<void>
}

/** Starts a relay; await `relay.ready` before using its addresses */
export function createRelay (input: RelayConfig = {}): Relay {
  const config = validateRelayConfig(input)
  let node: RelayNode | undefined
  let http: Server | undefined
  let closed = false
  let stopFollowing = (): void => {}
  const addresses = (): string[] => node?.getMultiaddrs().map(ma => ma.toString()) ?? []

  // before any socket is accepted: a malformed frame must close its connection, not the relay
  guardWebSockets()

  const ready = (async () => {
    const privateKey = config.privateKey ?? (await loadOrCreateKey(config.keyFile as string)).key
    const registry = new Registry()
    const ip = isIPv6(config.host as string) ? 'ip6' : 'ip4'
    node = await createLibp2p({
      privateKey,
      addresses: {
        listen: [`/${ip}/${config.host}/tcp/${config.port}/ws`],
        announce: config.announce
      },
      transports: [webSockets()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      connectionManager: {
        // each reservation holds a connection, and browsers also connect to relay circuits and rooms
        maxConnections: (config.maxReservations as number) + 512,
        // many browsers behind one NAT (or one test machine) connect at once
        inboundConnectionThreshold: 100,
        maxIncomingPendingConnections: 256
      },
      metrics: prometheusMetrics({ registry }),
      services: {
        identify: identify(),
        ping: ping(),
        relay: circuitRelayServer({
          reservations: {
            maxReservations: config.maxReservations,
            reservationTtl: RELAY_LIMITS.reservationTtl,
            defaultDurationLimit: RELAY_LIMITS.defaultDurationLimit,
            defaultDataLimit: RELAY_LIMITS.defaultDataLimit
          },
          maxInboundHopStreams: RELAY_LIMITS.maxInboundHopStreams,
          maxOutboundStopStreams: RELAY_LIMITS.maxOutboundStopStreams
        }),
        pubsub: gossipsub({ globalSignaturePolicy: 'StrictSign', allowPublishToZeroTopicPeers: true })
      }
    }) as RelayNode
    if (closed) { await node.stop(); throw new Error('relay closed while starting') }

    const relayNode = node
    // js-libp2p keeps a reservation until its TTL even when the peer is gone: free the slot now
    relayNode.addEventListener('peer:disconnect', evt => { relayNode.services.relay.reservations.delete(evt.detail) })
    stopFollowing = followRooms(relayNode.services.pubsub)

    new Gauge({ name: 'peerlane_relay_reservations', help: 'Relay reservations held', registers: [registry], collect () { this.set(relayNode.services.relay.reservations.size) } })
    new Gauge({ name: 'peerlane_relay_rooms', help: 'Room topics the relay carries', registers: [registry], collect () { this.set(relayNode.services.pubsub.getTopics().length) } })
    new Gauge({ name: 'peerlane_relay_connections', help: 'Open connections', registers: [registry], collect () { this.set(relayNode.getConnections().length) } })

    if (config.httpPort != null) {
      http = createServer((req, res) => {
        if (req.method === 'GET' && req.url === '/health') {
          res.writeHead(200, { 'content-type': 'application/json' })
          res.end(JSON.stringify({
            status: 'ok',
            peerId: relayNode.peerId.toString(),
            connections: relayNode.getConnections().length,
            reservations: relayNode.services.relay.reservations.size,
            rooms: relayNode.services.pubsub.getTopics().length
          }))
        } else if (req.method === 'GET' && req.url === '/metrics') {
          registry.metrics().then(text => {
            res.writeHead(200, { 'content-type': registry.contentType })
            res.end(text)
          }, (err: Error) => {
            res.writeHead(500).end(err.message)
          })
        } else {
          res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try GET /health or GET /metrics\n')
        }
      })
      const server = http
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject)
        server.listen(config.httpPort, config.host, () => { server.off('error', reject); resolve() })
      })
    }

    if (config.addrFile != null) {
      // write then rename, so a reader never sees a half-written file
      await writeFile(`${config.addrFile}.tmp`, JSON.stringify(addresses(), null, 2) + '\n')
      await rename(`${config.addrFile}.tmp`, config.addrFile)
    }
  })()

  return {
    ready,
    get addresses () { return addresses() },
    get peerId () { return node?.peerId.toString() ?? '' },
    get httpPort () { return (http?.address() as AddressInfo | null)?.port },
    get libp2p () { return node },
    async close () {
      if (closed) return
      closed = true
      await ready.catch(() => {})
      stopFollowing()
      await new Promise<void>(resolve => {
        if (http == null) { resolve(); return }
        http.close(() => { resolve() })
        http.closeAllConnections()
      })
      await node?.stop()
    }
  }
}

/** Joins the room topics the relay's peers join, and leaves them when the last one leaves; returns a stop function */
function followRooms (pubsub: GossipSub): () => void {
  // members that vanish without unsubscribing leave empty topics behind: sweep them
  const sweep = setInterval(() => {
    for (const topic of pubsub.getTopics()) {
      if (pubsub.getSubscribers(topic).length === 0) pubsub.unsubscribe(topic)
    }
  }, 60_000)
  sweep.unref()
  pubsub.addEventListener('subscription-change', evt => {
    for (const { topic, subscribe } of evt.detail.subscriptions) {
      if (!topic.startsWith(ROOM_TOPIC_PREFIX)) continue
      const carried = pubsub.getTopics().includes(topic)
      if (subscribe && !carried && pubsub.getTopics().length < MAX_TOPICS) {
        pubsub.subscribe(topic)
      } else if (!subscribe && carried && pubsub.getSubscribers(topic).length === 0) {
        pubsub.unsubscribe(topic)
      }
    }
  })
  return () => { clearInterval(sweep) }
}
