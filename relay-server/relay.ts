import 'peerlane/shared'
import { readFile, rename, writeFile } from 'node:fs/promises'
import { createServer } from 'node:http'
import { isIP, isIPv6 } from 'node:net'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { circuitRelayServer } from '@libp2p/circuit-relay-v2'
import { gossipsub } from '@libp2p/gossipsub'
import { identify, identifyPush } from '@libp2p/identify'
import { ping } from '@libp2p/ping'
import { prometheusMetrics } from '@libp2p/prometheus-metrics'
import { webSockets } from '@libp2p/websockets'
import { createLibp2p } from 'libp2p'
import { Counter, Gauge, Registry } from 'prom-client'
import { WebSocket } from 'ws'
import { RelayConfigError, validateRelayConfig } from './config.ts'
import { FEDERATION_DHT_PROTOCOL, connectFederation, federationPeers, handleFindPeer } from './federation.ts'
import { loadOrCreateKey } from './key-file.ts'
import { fastMsgId, libp2pLogger, ROOM_TOPIC_PREFIX } from 'peerlane/shared'
import { createLogger } from './log.ts'
import type { RelayConfig, ResolvedRelayConfig } from './config.ts'
import type { RelayLogger } from './log.ts'
import type { CircuitRelayService } from '@libp2p/circuit-relay-v2'
import type { GossipSub } from '@libp2p/gossipsub'
import type { Connection, ConnectionGater, Libp2p, Metrics, MultiaddrConnection, PeerId } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'

export { RelayConfigError, parseRelayArgs, validateRelayConfig, USAGE, DEFAULTS } from './config.ts'
export type { RelayConfig, ResolvedRelayConfig, LogLevel } from './config.ts'
export { RelayKeyError } from './key-file.ts'
export { createLogger } from './log.ts'
export type { RelayLogger } from './log.ts'

/** A relay carries at most this many room topics (each costs a little memory per member) */
const MAX_TOPICS = 4096
const HOP = '/libp2p/circuit/relay/0.2.0/hop'
const STOP = '/libp2p/circuit/relay/0.2.0/stop'

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

/** How often the relay pings each connection to find dead ones (libp2p's default: 10 s) */
export const RELAY_PING_INTERVAL = 60_000

export type RelayNode = Libp2p<{ identify: unknown, identifyPush: unknown, ping: unknown, relay: CircuitRelayService, pubsub: GossipSub, dht?: unknown }>

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
  /** the validated config, defaults filled in */
  readonly config: ResolvedRelayConfig
  /**
   * Stops accepting (the listener closes, `/ready` turns 503), closes every connection cleanly (Yamux
   * GoAway, WebSocket close) and the HTTP server
   */
  close(): Promise<void>
}

/** Starts a relay; await `relay.ready` before using its addresses */
export function createRelay (input: RelayConfig = {}, options: { log?: RelayLogger } = {}): Relay {
  const config = validateRelayConfig(input)
  const log = options.log ?? createLogger(config.logLevel)
  let node: RelayNode | undefined
  let http: Server | undefined
  let closed = false
  let listening = false
  const stops: Array<() => void> = []
  const addresses = (): string[] => node?.getMultiaddrs().map(ma => ma.toString()) ?? []

  const ready = (async () => {
    const privateKey = config.privateKey ?? (await loadOrCreateKey(config.keyFile)).key
    const tls = config.tlsCert == null ? undefined : await readTls(config.tlsCert, config.tlsKey as string)
    const registry = new Registry()
    const counters = createCounters(registry)
    const ip = isIPv6(config.host) ? 'ip6' : 'ip4'
    const federation = federationPeers(config.peers)
    const federationIds = new Set(federation.map(p => p.id.toString()))
    const limits = new Limits(config, federationIds, counters, log)

    node = await createLibp2p({
      privateKey,
      logger: libp2pLogger(),
      addresses: {
        listen: [`/${ip}/${config.host}/tcp/${config.port}/${tls == null ? 'ws' : 'tls/ws'}`],
        announce: config.announce
      },
      transports: [webSockets({
        // slowloris at the HTTP level: the WebSocket handshake must arrive within the upgrade timeout
        http: { headersTimeout: config.upgradeTimeout, requestTimeout: config.upgradeTimeout, maxHeaderSize: 8192 },
        https: tls == null ? undefined : { ...tls, headersTimeout: config.upgradeTimeout, requestTimeout: config.upgradeTimeout, maxHeaderSize: 8192 }
      })],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      connectionGater: limits.gater(),
      connectionManager: {
        maxConnections: config.maxConnections,
        inboundConnectionThreshold: config.connectionRatePerIp,
        maxIncomingPendingConnections: config.maxPendingConnections,
        inboundUpgradeTimeout: config.upgradeTimeout,
        // federation relays are exempt from the per-IP rate and pending limits
        allow: federation.flatMap(p => p.addrs.flatMap(ma => { const host = hostOf(ma); return host == null ? [] : [`/${isIPv6(host) ? 'ip6' : 'ip4'}/${host}`] }))
      },
      // libp2p pings every connection every 10 s to find dead ones: at thousands of idle browsers that is
      // most of an idle relay's CPU. Once a minute still frees a dead peer's reservation within ~1 min.
      connectionMonitor: { pingInterval: RELAY_PING_INTERVAL },
      metrics: (components: any) => countRelayedBytes(prometheusMetrics({ registry })(components), counters.relayedBytes),
      services: {
        identify: identify({ maxInboundStreams: STREAM_LIMITS.identify }),
        // browsers push their circuit addresses once reserved: the federation's peer routing answers with them
        identifyPush: identifyPush({ maxInboundStreams: STREAM_LIMITS.identifyPush }),
        ping: ping({ maxInboundStreams: STREAM_LIMITS.ping }),
        relay: circuitRelayServer({
          reservations: {
            maxReservations: config.maxReservations,
            reservationTtl: config.reservationTtl,
            defaultDurationLimit: config.circuitDuration,
            defaultDataLimit: BigInt(config.circuitData)
          },
          maxInboundHopStreams: config.maxCircuitsPerPeer,
          maxOutboundStopStreams: config.maxConnections
        }),
        pubsub: gossipsub({
          globalSignaturePolicy: 'StrictSign',
          allowPublishToZeroTopicPeers: true,
          // a message that arrives again (from another member, or another relay) is dropped before its
          // signature is checked again
          fastMsgIdFn: fastMsgId,
          // no IP colocation penalty: browsers share addresses (NAT, offices, carrier-grade NAT), and
          // GossipSub's default remembers every peer of the last hour, so past 10 peers from one IP it
          // refused the next ones' GRAFTs and then ignored them; per-IP limits (Limits) bound one IP instead
          scoreParams: { IPColocationFactorWeight: 0 },
          // the other relays: always forwarded to, whatever the mesh, and reconnected every 30 heartbeats
          directPeers: federation,
          directConnectTicks: 30
        }),
        // peer routing among the relays of a federation (nobody else speaks this protocol id); loaded
        // only for a federation: a lone relay answers lookups from its own reservations
        ...(federation.length === 0 ? {} : { dht: await federationDHT() })
      }
    }) as RelayNode
    if (closed) { await node.stop(); throw new Error('relay closed while starting') }

    const relayNode = node
    limits.attach(relayNode)
    linearGetConnections(relayNode)
    setWsMaxPayload(relayNode, config.wsMaxPayload, log)
    if (config.trustProxy.length > 0) trustProxies(relayNode, new Set(config.trustProxy), log)
    // js-libp2p keeps a reservation until its TTL even when the peer is gone: free the slot now
    relayNode.addEventListener('peer:disconnect', evt => { relayNode.services.relay.reservations.delete(evt.detail) })
    stops.push(followRooms(relayNode.services.pubsub, id => federationIds.has(id)))
    await handleFindPeer(relayNode, federationIds, log)
    stops.push(await connectFederation(relayNode, federation, log))
    registerGauges(registry, relayNode, federationIds)
    relayNode.services.pubsub.addEventListener('gossipsub:message', () => { counters.roomMessages.inc() })
    if (log.enabled('debug')) {
      relayNode.addEventListener('connection:open', evt => { log.debug('connection:open', { peer: evt.detail.remotePeer.toString(), addr: evt.detail.remoteAddr.toString() }) })
      relayNode.addEventListener('connection:close', evt => { log.debug('connection:close', { peer: evt.detail.remotePeer.toString(), addr: evt.detail.remoteAddr.toString() }) })
    }

    if (config.httpPort != null) {
      http = createServer((req, res) => {
        const url = (req.url ?? '').split('?')[0]
        if (req.method !== 'GET') {
          res.writeHead(405, { 'content-type': 'text/plain' }).end('GET only\n')
        } else if (url === '/health') {
          // liveness: the process runs and its event loop answers
          res.writeHead(200, { 'content-type': 'application/json' })
          res.end(JSON.stringify(status(relayNode, listening && !closed ? 'ok' : 'stopping')))
        } else if (url === '/ready') {
          // readiness: listening, not shutting down, and a slot free for one more reservation
          const full = relayNode.services.relay.reservations.size >= config.maxReservations
          const ok = listening && !closed && !full
          res.writeHead(ok ? 200 : 503, { 'content-type': 'application/json' })
          res.end(JSON.stringify({ ...status(relayNode, ok ? 'ready' : closed ? 'stopping' : full ? 'full' : 'starting'), maxReservations: config.maxReservations }))
        } else if (url === '/metrics') {
          registry.metrics().then(text => {
            res.writeHead(200, { 'content-type': registry.contentType })
            res.end(text)
          }, (err: Error) => {
            res.writeHead(500).end(err.message)
          })
        } else {
          res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try GET /health, /ready or /metrics\n')
        }
      })
      http.headersTimeout = 10_000
      http.requestTimeout = 10_000
      const server = http
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject)
        server.listen(config.httpPort, config.host, () => { server.off('error', reject); resolve() })
      })
    }

    if (config.addrFile != null) {
      // atomically: whoever polls the file never reads half of it
      await writeFile(`${config.addrFile}.tmp`, JSON.stringify(addresses(), null, 2) + '\n')
      await rename(`${config.addrFile}.tmp`, config.addrFile)
    }
    listening = true
    log.info('listening', {
      peerId: relayNode.peerId.toString(),
      addresses: addresses(),
      health: config.httpPort == null ? undefined : `http://${urlHost(config.host)}:${(http?.address() as AddressInfo).port}/health`,
      peers: config.peers,
      limits: {
        maxReservations: config.maxReservations,
        maxReservationsPerIp: config.maxReservationsPerIp,
        maxConnections: config.maxConnections,
        circuitDuration: config.circuitDuration,
        circuitData: config.circuitData,
        wsMaxPayload: config.wsMaxPayload
      }
    })
  })()

  return {
    ready,
    config,
    get addresses () { return addresses() },
    get peerId () { return node?.peerId.toString() ?? '' },
    get httpPort () { return (http?.address() as AddressInfo | null)?.port },
    get libp2p () { return node },
    async close () {
      if (closed) return
      closed = true
      await ready.catch(() => {})
      for (const stop of stops) stop()
      const connections = node?.getConnections().length ?? 0
      // libp2p stops its listener first (no new connections), then closes each connection gracefully
      await node?.stop()
      await new Promise<void>(resolve => {
        if (http == null) { resolve(); return }
        http.close(() => { resolve() })
        http.closeAllConnections()
      })
      log.info('stopped', { closedConnections: connections })
    }
  }
}

async function federationDHT (): Promise<any> {
  const { kadDHT, passthroughMapper } = await import('@libp2p/kad-dht')
  return kadDHT({
    protocol: FEDERATION_DHT_PROTOCOL,
    clientMode: false,
    peerInfoMapper: passthroughMapper,
    maxInboundStreams: STREAM_LIMITS.dht,
    initialQuerySelfInterval: 5_000
  })
}

function status (node: RelayNode, state: string): Record<string, unknown> {
  return {
    status: state,
    peerId: node.peerId.toString(),
    connections: node.getConnections().length,
    reservations: node.services.relay.reservations.size,
    rooms: node.services.pubsub.getTopics().length
  }
}

function urlHost (host: string): string {
  return isIPv6(host) ? `[${host}]` : host
}

async function readTls (certFile: string, keyFile: string): Promise<{ cert: string, key: string }> {
  const read = async (field: string, path: string): Promise<string> => {
    try {
      const text = await readFile(path, 'utf8')
      if (!text.includes('-----BEGIN')) throw new Error('not a PEM file')
      return text
    } catch (err: any) {
      throw new RelayConfigError(field, `${path}: ${err.code ?? err.message}`)
    }
  }
  return { cert: await read('tls-cert', certFile), key: await read('tls-key', keyFile) }
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

interface Counters {
  reservationsGranted: Counter
  reservationsRefused: Counter<'reason'>
  circuits: Counter
  connectionsRefused: Counter<'reason'>
  relayedBytes: Counter
  roomMessages: Counter
}

function createCounters (registry: Registry): Counters {
  return {
    reservationsGranted: new Counter({ name: 'peerlane_relay_reservations_granted_total', help: 'Reservations granted or refreshed', registers: [registry] }),
    reservationsRefused: new Counter({ name: 'peerlane_relay_reservations_refused_total', help: 'Reservations refused, by reason (full, per_ip)', labelNames: ['reason'], registers: [registry] }),
    circuits: new Counter({ name: 'peerlane_relay_circuits_total', help: 'Relayed circuits opened', registers: [registry] }),
    connectionsRefused: new Counter({ name: 'peerlane_relay_connections_refused_total', help: 'Inbound connections refused by the relay\'s own limits, by reason', labelNames: ['reason'], registers: [registry] }),
    relayedBytes: new Counter({ name: 'peerlane_relay_relayed_bytes_total', help: 'Bytes carried by relayed circuits (both directions, as received by the relay)', registers: [registry] }),
    roomMessages: new Counter({ name: 'peerlane_relay_room_messages_total', help: 'Room messages (presence beacons included) the relay received and checked, each counted once', registers: [registry] })
  }
}

function registerGauges (registry: Registry, node: RelayNode, federation: Set<string>): void {
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

/**
 * The relay's own limits, on top of libp2p's: reservations per IP, pending (still upgrading) connections
 * per IP, and counting of refusals and circuits. Federation relays are exempt.
 */
class Limits {
  private node?: RelayNode
  private readonly pending = new Map<string, number>()
  private readonly pendingByAddr = new Map<string, string>()
  private readonly reservedByIp = new Map<string, Map<string, PeerId>>()
  private readonly ipOfPeer = new Map<string, string>()

  constructor (private readonly config: ResolvedRelayConfig, private readonly federation: Set<string>, private readonly counters: Counters, private readonly log: RelayLogger) {}

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
 * libp2p's `connectionManager.getConnections()` builds its answer with `conns = conns.concat(c)` per peer,
 * which is quadratic in the number of peers, and libp2p calls it on every inbound connection (the pending
 * check and the pruner, only to read `.length`). At thousands of browsers that became most of the relay's
 * CPU and made each new connection slower than the last. Same answer, built in linear time.
 */
function linearGetConnections (node: RelayNode): void {
  const manager = (node as any).components?.connectionManager
  const connections = manager?.connections
  if (typeof manager?.getConnections !== 'function' || typeof connections?.values !== 'function') return
  manager.getConnections = (peerId?: PeerId): Connection[] => {
    if (peerId != null) return connections.get(peerId) ?? []
    const out: Connection[] = []
    for (const conns of connections.values()) for (const conn of conns) out.push(conn)
    return out
  }
}

/**
 * @libp2p/websockets creates its `ws` server without `maxPayload`, so `ws` accepts 100 MiB messages,
 * buffered whole in memory. It has no option for it; the listener's WebSocketServer reads
 * `options.maxPayload` for each new connection, so set it there. If a future version changes that shape,
 * say so loudly rather than silently running without the limit. Also gives every accepted socket an
 * 'error' listener (see inside).
 */
function setWsMaxPayload (node: RelayNode, maxPayload: number, log: RelayLogger): void {
  const listeners = (node as any).components?.transportManager?.getListeners?.() ?? []
  let set = 0
  for (const listener of listeners) {
    const wsServer = listener?.wsServer
    const options = wsServer?.options
    if (options != null && typeof options.maxPayload === 'number' && typeof wsServer.on === 'function') {
      options.maxPayload = maxPayload
      // @libp2p/websockets adds no 'error' listener to the sockets it accepts, so a protocol error (a
      // message over maxPayload, a bad frame) would be an uncaught exception that kills the process.
      // ws closes the socket itself (1009, 1002…); we only log it.
      // `WebSocket` is ws's documented option for the class of accepted sockets
      options.WebSocket = class extends WebSocket {
        constructor (...args: any[]) {
          super(...(args as [null]))
          this.on('error', (err: any) => { log.debug('websocket:error', { code: err?.code, error: err?.message }) })
        }
      }
      set++
    }
  }
  if (set === 0) log.warn('ws-max-payload:unsupported', { message: 'could not find the WebSocket server of @libp2p/websockets: its default 100 MiB message limit applies' })
}

/**
 * Behind a reverse proxy every WebSocket comes from the proxy's IP. For connections from a trusted proxy,
 * take the client's IP from X-Forwarded-For (the rightmost address that is not a trusted proxy) before
 * @libp2p/websockets builds the connection's remote multiaddr from `req.socket.remoteAddress`.
 */
function trustProxies (node: RelayNode, trusted: Set<string>, log: RelayLogger): void {
  const listeners = (node as any).components?.transportManager?.getListeners?.() ?? []
  let set = 0
  for (const listener of listeners) {
    const wsServer = listener?.wsServer
    if (typeof wsServer?.handleUpgrade !== 'function') continue
    const handleUpgrade = wsServer.handleUpgrade.bind(wsServer)
    wsServer.handleUpgrade = (req: any, socket: any, head: any, cb: any) => {
      const client = forwardedClient(req.socket?.remoteAddress, req.headers?.['x-forwarded-for'], trusted)
      if (client != null) Object.defineProperty(req.socket, 'remoteAddress', { value: client, configurable: true })
      return handleUpgrade(req, socket, head, cb)
    }
    set++
  }
  if (set === 0) log.warn('trust-proxy:unsupported', { message: 'could not find the WebSocket server of @libp2p/websockets: X-Forwarded-For is ignored' })
}

/** The client IP a trusted proxy reports, or undefined to keep the socket's own */
export function forwardedClient (peer: string | undefined, header: string | string[] | undefined, trusted: Set<string>): string | undefined {
  const strip = (ip: string): string => ip.startsWith('::ffff:') ? ip.slice(7) : ip
  if (peer == null || header == null || !trusted.has(strip(peer))) return undefined
  const hops = (Array.isArray(header) ? header.join(',') : header).split(',').map(h => strip(h.trim())).filter(h => isIP(h) !== 0)
  for (let i = hops.length - 1; i >= 0; i--) {
    if (!trusted.has(hops[i])) return hops[i]
  }
  return undefined
}

/**
 * Joins the room topics the relay's peers join, and leaves them when the last one leaves; returns a stop
 * function. Other relays of the federation do not count as members: a relay carries a room only for
 * its own peers (and then meshes with the other relays carrying it).
 */
function followRooms (pubsub: GossipSub, isFederated: (peerId: string) => boolean): () => void {
  const members = (topic: string): number => pubsub.getSubscribers(topic).filter(p => !isFederated(p.toString())).length
  // members that vanish without unsubscribing leave empty topics behind: sweep them
  const sweep = setInterval(() => {
    for (const topic of pubsub.getTopics()) {
      if (members(topic) === 0) pubsub.unsubscribe(topic)
    }
  }, 60_000)
  sweep.unref()
  pubsub.addEventListener('subscription-change', evt => {
    if (isFederated(evt.detail.peerId.toString())) return
    for (const { topic, subscribe } of evt.detail.subscriptions) {
      if (!topic.startsWith(ROOM_TOPIC_PREFIX)) continue
      const carried = pubsub.getTopics().includes(topic)
      if (subscribe && !carried && pubsub.getTopics().length < MAX_TOPICS) {
        pubsub.subscribe(topic)
      } else if (!subscribe && carried && members(topic) === 0) {
        pubsub.unsubscribe(topic)
      }
    }
  })
  return () => { clearInterval(sweep) }
}
