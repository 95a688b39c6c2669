import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { circuitRelayTransport } from '@libp2p/circuit-relay-v2'
import { identify, identifyPush } from '@libp2p/identify'
import { FaultTolerance } from '@libp2p/interface'
import { ping } from '@libp2p/ping'
import { webRTC } from '@libp2p/webrtc'
import { webSockets } from '@libp2p/websockets'
import { createLibp2p } from 'libp2p'
import { dialGater } from './gater.ts'
import { fastMsgId, gossipFrameLimit, gossipsubSkipping } from './gossip.ts'
import type { StandbyPolicy } from './gossip.ts'
import { INBOUND_LIMITS } from './inbound.ts'
import { libp2pLogger } from './logger.ts'
import { VERSION } from './version.ts'
import type { PeerConfig } from './config.ts'
import type { Vouched } from './gater.ts'
import type { Guard } from './guard.ts'
import type { InboundLimits } from './inbound.ts'
import type { GossipSub } from '@libp2p/gossipsub'
import type { Identify } from '@libp2p/identify'
import type { Libp2p, PrivateKey } from '@libp2p/interface'
import type { Ping } from '@libp2p/ping'

/** The services every Peerlane node runs; `peer.libp2p.services` has this shape */
// a type, not an interface: libp2p's ServiceMap needs an index signature
export type PeerServices = {
  /** libp2p's identify protocol */
  identify: Identify
  /** identify push: tells connected peers when our addresses or protocols change */
  identifyPush: unknown
  /** libp2p's ping protocol */
  ping: Ping
  /** GossipSub, which carries rooms */
  pubsub: GossipSub
}

/** The libp2p node behind a Peer (`peer.libp2p`) */
export type PeerNode = Libp2p<PeerServices>

/** What the node is built with besides its config and key */
export interface NodeParts {
  /** scores authors of bad room messages (GossipSub's app-specific score) */
  guard: Guard
  /** whether GossipSub should leave `peerId` out of what it sends now (a relay on standby, gossip.ts) */
  standby: StandbyPolicy
  /** federation relays our relays vouched for (and addresses the app connected to), which the gater lets us dial for a while */
  vouched: Vouched
  /** per-remote-peer limits on what others open to us (relayed connections, WebRTC signalling) */
  inbound: InboundLimits
  /** the configuration of each new RTCPeerConnection (ice.ts: our relays' STUN/TURN and the app's) */
  rtcConfiguration: () => Promise<RTCConfiguration>
}

// a browser without WebRTC (WebKitGTK, some embedded views) must not offer a /webrtc address it cannot answer
export const hasWebRTC = typeof window === 'undefined' || typeof globalThis.RTCPeerConnection === 'function'

/** Builds (but does not start) the libp2p node behind a Peer */
export async function createNode (config: PeerConfig, privateKey: PrivateKey, { guard, standby, vouched, inbound, rtcConfiguration }: NodeParts): Promise<PeerNode> {
  return await createLibp2p({
    privateKey,
    logger: libp2pLogger(),
    // other peers see 'peerlane/<version> …' as our agent version (identify)
    nodeInfo: { name: 'peerlane', version: VERSION },
    start: false,
    addresses: {
      // one '/p2p-circuit' per wanted reservation: libp2p reserves a slot on that many relays we are connected to
      listen: [...Array.from({ length: config.maxReservations }, () => '/p2p-circuit'), ...(hasWebRTC ? ['/webrtc'] : [])]
    },
    transports: [
      webSockets(),
      ...(hasWebRTC ? [webRTC({ rtcConfiguration })] : []),
      circuitRelayTransport({ reservationCompletionTimeout: config.timeout })
    ],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    // libp2p's browser default refuses ws:// and private addresses (which a local or LAN relay uses) and
    // allows any public wss://; Peerlane's allows exactly what gater.ts says, and limits inbound per peer
    connectionGater: { ...dialGater(config.relays, vouched), ...inbound.gater() },
    transportManager: {
      // relay reservations come and go; never fail start() because one is not there yet
      faultTolerance: FaultTolerance.NO_FATAL
    },
    connectionManager: {
      // a browser tab talks to its relays and room members, not to the whole network
      maxConnections: 100,
      // every relayed connection counts against its relay's address here: inbound.ts limits each remote peer
      inboundConnectionThreshold: INBOUND_LIMITS.perRelayPerSecond,
      maxIncomingPendingConnections: INBOUND_LIMITS.pending
    },
    services: {
      identify: identify(),
      identifyPush: identifyPush(),
      ping: ping(),
      // relays on standby (gossip.ts relayStandby) get none of our room traffic
      pubsub: gossipsubSkipping({
        // a room of one must still accept room.send(); the message reaches members who join later only if they were there
        allowPublishToZeroTopicPeers: true,
        globalSignaturePolicy: 'StrictSign',
        // our own messages come back to us signed, for the room's history (rooms deliver them to nobody)
        emitSelf: true,
        // replay protection: at least twice the rooms' replay window (config.ts)
        seenTTL: config.seenTTL,
        // the relay's GossipSub peer carries rooms until direct links exist, over its (unlimited) WebSocket connection
        runOnLimitedConnection: false,
        // a frame over a few of the largest room messages (gossip.ts) is refused from its length prefix, before it
        // is read, verified or decoded (the default let 4 MiB through to the room's own check)
        maxInboundDataLength: gossipFrameLimit(config.maxMessageSize),
        // authors of bad room messages lose score (GUARD_DEFAULTS); the default thresholds then apply:
        // below -10 no gossip, below -50 no publishing to them, below -80 graylisted
        // no IP colocation penalty: room members behind one NAT (an office) share an address, and that says
        // nothing about them
        scoreParams: { appSpecificScore: peerId => guard.score(peerId), appSpecificWeight: 1, IPColocationFactorWeight: 0 },
        // a copy that arrives both ways (a member's, and the relay's) is dropped before its signature is checked again
        fastMsgIdFn: fastMsgId
      }, standby)
    }
  }) as PeerNode
}
