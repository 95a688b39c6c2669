// Hostile libp2p nodes for the end-to-end attack tests: real circuits through the real relay, from 127.0.0.2 (the
// relay's per-IP limits then count them apart from the honest browsers on 127.0.0.1). Node-only.
import '../src/polyfills.ts'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { circuitRelayTransport } from '@libp2p/circuit-relay-v2'
import { identify } from '@libp2p/identify'
import { peerIdFromString } from '@libp2p/peer-id'
import { webSockets } from '@libp2p/websockets'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'
import { NodeWebSocket } from '../src/polyfills.ts'
import type { ConnectionEncrypter, Libp2p, PeerId } from '@libp2p/interface'

export const ATTACKER_ADDRESS = '127.0.0.2'

class AttackerWebSocket extends NodeWebSocket {
  constructor (url: string, protocols?: string | string[]) {
    super(url, protocols, { localAddress: ATTACKER_ADDRESS })
  }
}

/** Noise towards the relay; towards `victim` a handshake that never answers, so the victim's upgrade waits it out */
function stallingNoise (victim: PeerId): (components: any) => ConnectionEncrypter {
  const make = noise()
  return (components) => {
    const real = make(components)
    return {
      protocol: real.protocol,
      secureInbound: real.secureInbound.bind(real),
      secureOutbound: async (connection: any, options?: any) => {
        if (options?.remotePeer?.equals(victim) !== true) return await real.secureOutbound(connection, options)
        return await new Promise((_resolve, reject) => {
          options?.signal?.addEventListener('abort', () => { reject(options.signal.reason) }, { once: true })
        })
      }
    } as unknown as ConnectionEncrypter
  }
}

/** What a flood did, counted as it goes */
export interface FloodStats {
  /** circuits opened to the victim (each counted once: libp2p hands one dial's connection to every dial it joined) */
  opened: number
  /** circuit attempts the victim (or the relay) refused or that failed */
  refused: number
  /** stalled handshakes started */
  stalled: number
}

/**
 * `peers` attacker nodes, each keeping `circuits` dial loops at the victim through the relay: a circuit that
 * opens is kept open and the loop dials the next one; with `stall`, the handshakes are left hanging instead
 * (each holds one of the victim's pending upgrades until it times out). Resolves once every node is up.
 */
export async function flood (relayAddress: string, victim: string, options: { peers: number, circuits: number, stall?: boolean }): Promise<{ stats: FloodStats, nodes: Libp2p[], stop: () => Promise<void> }> {
  const stats: FloodStats = { opened: 0, refused: 0, stalled: 0 }
  const victimId = peerIdFromString(victim)
  const original = globalThis.WebSocket
  globalThis.WebSocket = AttackerWebSocket as unknown as typeof globalThis.WebSocket
  const nodes: Libp2p[] = []
  try {
    for (let i = 0; i < options.peers; i++) {
      const node = await createLibp2p({
        transports: [webSockets(), circuitRelayTransport()],
        connectionEncrypters: [options.stall === true ? stallingNoise(victimId) : noise()],
        streamMuxers: [yamux()],
        connectionManager: { maxConnections: 10_000, maxParallelDials: 1_000, dialTimeout: 10_000 },
        services: { identify: identify() }
      })
      await node.dial(multiaddr(relayAddress))
      nodes.push(node)
    }
  } finally {
    globalThis.WebSocket = original
  }
  const state = { running: true }
  const seen = new Set<string>()
  const circuit = multiaddr(`${relayAddress}/p2p-circuit/p2p/${victim}`)
  const loops = nodes.flatMap(node => Array.from({ length: options.circuits }, async () => {
    while (state.running) {
      if (options.stall === true) stats.stalled++
      try {
        const conn = await node.dial(circuit, { force: true, signal: AbortSignal.timeout(10_000) })
        if (!seen.has(conn.id)) { seen.add(conn.id); stats.opened++ }
        // closed by the victim (over its limits) as soon as it opened: that is a refusal too
        if (conn.status !== 'open') throw new Error('closed')
      } catch {
        stats.refused++
        await new Promise(resolve => setTimeout(resolve, 100))
      }
    }
  }))
  return {
    stats,
    nodes,
    stop: async () => {
      state.running = false
      await Promise.all(nodes.map(async n => { await n.stop() }))
      await Promise.allSettled(loops)
    }
  }
}
