// The comparison bundle: stock js-libp2p with the features Peerlane has (WebSockets, WebRTC, circuit relay,
// Noise, Yamux, identify, ping, GossipSub), built by bench/vite.stock.config.ts with the settings of
// Peerlane's own build (vite.config.ts) minus Peerlane's size work. It defines window.StockLibp2p; the
// benchmark's baselines run on it.
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { circuitRelayTransport } from '@libp2p/circuit-relay-v2'
import { gossipsub } from '@libp2p/gossipsub'
import { identify, identifyPush } from '@libp2p/identify'
import { ping } from '@libp2p/ping'
import { webRTC } from '@libp2p/webrtc'
import { webSockets } from '@libp2p/websockets'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'

export { createLibp2p, multiaddr, noise, yamux, circuitRelayTransport, gossipsub, identify, identifyPush, ping, webRTC, webSockets }

/**
 * A stock node configured as a Peerlane peer is: the same transports and services, a reservation on `relay`.
 * libp2p's browser gater refuses ws:// and private addresses, so this one allows everything (the benchmark
 * talks to one local relay only). Not started.
 */
export async function createStockNode (relay: string): Promise<Awaited<ReturnType<typeof createLibp2p>>> {
  return await createLibp2p({
    start: false,
    addresses: { listen: ['/p2p-circuit', '/webrtc'] },
    // the STUN server Peerlane peers get from the relay (bench/shared.ts openPage), so both link alike
    transports: [webSockets(), webRTC({ rtcConfiguration: { iceServers: (globalThis as any).BENCH_ICE_SERVERS ?? [] } }), circuitRelayTransport()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionGater: { denyDialMultiaddr: () => false },
    services: {
      identify: identify(),
      identifyPush: identifyPush(),
      ping: ping(),
      pubsub: gossipsub({ allowPublishToZeroTopicPeers: true })
    }
  })
}

/**
 * createStockNode, start, dial the relay and wait for the reservation: the stock equivalent of `createPeer`.
 * `on` is the event after which the node looks for its circuit address: 'self:peer:update', as libp2p's own
 * examples do (libp2p emits it a debounced second after the address changed), or 'transport:listening',
 * which the circuit listener fires as soon as the relay granted the reservation (what Peerlane listens to).
 */
export async function startStockNode (relay: string, on: 'self:peer:update' | 'transport:listening' = 'self:peer:update'): Promise<Awaited<ReturnType<typeof createLibp2p>>> {
  const node = await createStockNode(relay)
  const reserved = new Promise<void>(resolve => {
    const check = (): void => {
      if (node.getMultiaddrs().some(ma => ma.toString().includes('/p2p-circuit'))) {
        node.removeEventListener(on, check)
        resolve()
      }
    }
    node.addEventListener(on, check)
  })
  await node.start()
  await node.dial(multiaddr(relay))
  await reserved
  return node
}
