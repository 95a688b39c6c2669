import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { circuitRelayTransport } from '@libp2p/circuit-relay-v2'
import { identify, identifyPush } from '@libp2p/identify'
import { FaultTolerance } from '@libp2p/interface'
import { ping } from '@libp2p/ping'
import { isPrivate } from '@libp2p/utils'
import { webRTC } from '@libp2p/webrtc'
import { webSockets } from '@libp2p/websockets'
import { WebSockets } from '@multiformats/multiaddr-matcher'
import { createLibp2p } from 'libp2p'
import { relayPart, transportPart } from './address.ts'
import { fastMsgId, gossipsubSkipping } from './gossip.ts'
import type { StandbyPolicy } from './gossip.ts'
import { libp2pLogger } from './logger.ts'
import { VERSION } from './version.ts'
import type { PeerConfig } from './config.ts'
import type { Guard } from './guard.ts'
import type { GossipSub } from '@libp2p/gossipsub'
import type { Identify } from '@libp2p/identify'
import type { ConnectionGater, Libp2p, PrivateKey } from '@libp2p/interface'
import type { Ping } from '@libp2p/ping'
import type { Multiaddr } from '@multiformats/multiaddr'

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

/**
 * libp2p's browser gater refuses ws:// and private addresses, which a local or LAN relay uses.
 * Allow exactly the configured relays (and circuits through them), and the federation relays one of them
 * vouched for (`vouched`, transport parts such as `/ip4/…/tcp/…/ws`, filled in by src/routing.ts), and keep
 * refusing the rest.
 */
export function relayGater (relays: Multiaddr[], vouched: ReadonlySet<string> = new Set()): ConnectionGater {
  const allowed = new Set(relays.map(transportPart))
  const isAllowed = (ma: Multiaddr): boolean => {
    const transport = transportPart(relayPart(ma) ?? ma)
    return allowed.has(transport) || vouched.has(transport)
  }
  return {
    denyDialMultiaddr: (ma) => {
      if (isAllowed(ma)) return false
      return WebSockets.matches(ma) || isPrivate(ma) === true
    }
  }
}

/** What the node is built with besides its config and key */
export interface NodeParts {
  /** scores authors of bad room messages (GossipSub's app-specific score) */
  guard: Guard
  /** whether GossipSub should leave `peerId` out of what it sends now (a relay on standby, gossip.ts) */
  standby: StandbyPolicy
  /** federation relays our relays vouched for, which the gater lets us dial */
  vouched: ReadonlySet<string>
  /** the configuration of each new RTCPeerConnection (ice.ts: our relays' STUN/TURN and the app's) */
  rtcConfiguration: () => Promise<RTCConfiguration>
}

// a browser without WebRTC (WebKitGTK, some embedded views) must not offer a /webrtc address it cannot answer
export const hasWebRTC = typeof window === 'undefined' || typeof globalThis.RTCPeerConnection === 'function'

/** Builds (but does not start) the libp2p node behind a Peer */
export async function createNode (config: PeerConfig, privateKey: PrivateKey, { guard, standby, vouched, rtcConfiguration }: NodeParts): Promise<PeerNode> {
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
    connectionGater: relayGater(config.relays, vouched),
    transportManager: {
      // relay reservations come and go; never fail start() because one is not there yet
      faultTolerance: FaultTolerance.NO_FATAL
    },
    connectionManager: {
      // a browser tab talks to its relays and room members, not to the whole network
      maxConnections: 100
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
