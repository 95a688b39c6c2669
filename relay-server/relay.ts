// createRelay: the libp2p node of a Peerlane relay, wired to the parts in the files next to this one.
import 'peerlane/shared' // first: Node's WebSocket polyfill, before libp2p is loaded
import { readFile, rename, writeFile } from 'node:fs/promises'
import { isIPv6 } from 'node:net'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { circuitRelayServer } from '@libp2p/circuit-relay-v2'
import { gossipsub } from '@libp2p/gossipsub'
import { identify, identifyPush } from '@libp2p/identify'
import { ping } from '@libp2p/ping'
import { webSockets } from '@libp2p/websockets'
import { createLibp2p } from 'libp2p'
import { fastMsgId, libp2pLogger } from 'peerlane/shared'
import { Registry } from 'prom-client'
import { RelayConfigError, validateRelayConfig } from './config.ts'
import { connectFederation, federationPeers, handleFindPeer } from './federation.ts'
import { federationDHT } from './federation-dht.ts'
import { closeHttp, createHttpServer, healthUrl, listenHttp } from './http.ts'
import { loadOrCreateKey } from './key-file.ts'
import { Limits, STREAM_LIMITS } from './limits.ts'
import { createLogger } from './log.ts'
import { createCounters, relayMetrics, watchRelay } from './metrics.ts'
import { freeReservationsOnDisconnect, linearGetConnections, setWsMaxPayload } from './patches.ts'
import { trustProxies } from './proxy.ts'
import { startNatTraversal } from './nat.ts'
import { followRooms, roomLimits } from './rooms.ts'
import type { RelayConfig, ResolvedRelayConfig } from './config.ts'
import type { RelayLogger } from './log.ts'
import type { NatTraversal } from './nat.ts'
import type { CircuitRelayService } from '@libp2p/circuit-relay-v2'
import type { GossipSub } from '@libp2p/gossipsub'
import type { Libp2p } from '@libp2p/interface'
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'

/** How often the relay pings each connection to find dead ones (libp2p's default: 10 s) */
export const RELAY_PING_INTERVAL = 60_000

/** The relay's libp2p node and its services */
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
  /** the UDP port of the relay's STUN server, when it runs one; undefined until `ready` */
  readonly stunPort: number | undefined
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
  let nat: NatTraversal | undefined
  let closed = false
  let listening = false
  const stops: Array<() => void> = []
  const addresses = (): string[] => node?.getMultiaddrs().map(ma => ma.toString()) ?? []

  const ready = (async () => {
    const privateKey = config.privateKey ?? (await loadOrCreateKey(config.keyFile, log)).key
    const tls = config.tlsCert == null ? undefined : await readTls(config.tlsCert, config.tlsKey as string)
    const registry = new Registry()
    const counters = createCounters(registry)
    const ip = isIPv6(config.host) ? 'ip6' : 'ip4'
    const federation = federationPeers(config.peers)
    const federationIds = new Set(federation.map(p => p.id.toString()))
    const limits = new Limits(config, federationIds, counters, log)
    // hop streams per connection: two more than circuits, so a peer at its circuit limit can still refresh
    // its reservation (circuits per peer and per target are counted in Limits, circuits.ts)
    const hopStreams = config.maxCircuitsPerPeer + 2

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
        // the cap is the gater's (Limits), which exempts federation relays by PeerId: libp2p's own is above
        // it by what may be upgrading at once and the federation, so libp2p never refuses or prunes those first
        maxConnections: config.maxConnections + config.maxPendingConnections + 2 * federation.length,
        // Limits rates per IP and per IPv6 /64 itself; libp2p's (per address, not configurable away) stays behind it
        inboundConnectionThreshold: 2 * config.connectionRatePerIp,
        maxIncomingPendingConnections: config.maxPendingConnections,
        inboundUpgradeTimeout: config.upgradeTimeout
      },
      // libp2p pings every connection every 10 s to find dead ones: at thousands of idle browsers that is
      // most of an idle relay's CPU. Once a minute still frees a dead peer's reservation within ~1 min.
      connectionMonitor: { pingInterval: RELAY_PING_INTERVAL },
      metrics: relayMetrics(registry, counters.relayedBytes),
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
          maxInboundHopStreams: hopStreams,
          maxOutboundStopStreams: config.maxCircuitsPerTarget
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
          // replay protection: a copy the seen cache forgot is outside the room check's window (rooms.ts)
          seenTTL: config.seenTtl,
          // the other relays: always forwarded to, whatever the mesh, and reconnected every 30 heartbeats
          directPeers: federation,
          directConnectTicks: 30,
          ...roomLimits(config)
        }),
        // peer routing among the relays of a federation, closed to every other PeerId
        ...(federation.length === 0 ? {} : { dht: await federationDHT(federationIds, () => { counters.dhtRefused.inc() }) })
      }
    }) as RelayNode
    if (closed) { await node.stop(); throw new Error('relay closed while starting') }

    const relayNode = node
    await limits.attach(relayNode, hopStreams)
    linearGetConnections(relayNode)
    setWsMaxPayload(relayNode, config.wsMaxPayload, log)
    if (config.trustProxy.length > 0) trustProxies(relayNode, new Set(config.trustProxy), log)
    freeReservationsOnDisconnect(relayNode)
    stops.push(followRooms(relayNode, { isFederated: id => federationIds.has(id), maxTopicsPerPeer: config.maxTopicsPerPeer, maxRoomMessageSize: config.maxRoomMessageSize, replayWindow: config.replayWindow, counters }))
    await handleFindPeer(relayNode, federationIds, log, { onRefused: reason => { counters.findPeerRefused.inc({ reason }) } })
    stops.push(await connectFederation(relayNode, federation, log))
    watchRelay(registry, relayNode, federationIds, counters)
    nat = await startNatTraversal(relayNode, config, log, outcome => { counters.stunRequests.inc({ outcome }) })
    if (log.enabled('debug')) {
      relayNode.addEventListener('connection:open', evt => { log.debug('connection:open', { peer: evt.detail.remotePeer.toString(), addr: evt.detail.remoteAddr.toString() }) })
      relayNode.addEventListener('connection:close', evt => { log.debug('connection:close', { peer: evt.detail.remotePeer.toString(), addr: evt.detail.remoteAddr.toString() }) })
    }

    if (config.httpPort != null) {
      http = createHttpServer(relayNode, registry, config, { get listening () { return listening }, get closed () { return closed } })
      await listenHttp(http, config.httpPort, config.httpHost)
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
      health: http == null ? undefined : healthUrl(http, config.httpHost),
      peers: config.peers,
      ice: nat.urls,
      limits: {
        maxReservations: config.maxReservations,
        maxReservationsPerIp: config.maxReservationsPerIp,
        maxConnections: config.maxConnections,
        maxConnectionsPerIp: config.maxConnectionsPerIp,
        maxCircuitsPerPeer: config.maxCircuitsPerPeer,
        maxCircuitsPerTarget: config.maxCircuitsPerTarget,
        maxTopicsPerPeer: config.maxTopicsPerPeer,
        maxRoomMessageSize: config.maxRoomMessageSize,
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
    get stunPort () { return nat?.stun?.port },
    async close () {
      if (closed) return
      closed = true
      await ready.catch(() => {})
      for (const stop of stops) stop()
      const connections = node?.getConnections().length ?? 0
      // libp2p stops its listener first (no new connections), then closes each connection gracefully
      await node?.stop()
      await nat?.close()
      if (http != null) await closeHttp(http)
      log.info('stopped', { closedConnections: connections })
    }
  }
}

/** The PEM certificate and key for `--tls-cert` / `--tls-key`; a file that is missing or not PEM names its flag */
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
