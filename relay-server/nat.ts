// NAT traversal for the relay's peers: the relay's own STUN server (stun.ts), coturn's TURN urls with
// per-peer credentials (turn.ts), and /peerlane/ice/1.0.0 (ice.ts) by which a peer learns both over its
// authenticated connection to the relay.
import { multiaddr } from '@multiformats/multiaddr'
import { ICE_PROTOCOL, handleIce } from './ice.ts'
import { startStunServer } from './stun.ts'
import { coturnStunServers, iceServersFor, loadTurnSecret, stunUrl } from './turn.ts'
import type { ResolvedRelayConfig } from './config.ts'
import type { IceNode } from './ice.ts'
import type { RelayLogger } from './log.ts'
import type { StunServer } from './stun.ts'
import type { IceConfig } from './turn.ts'

/** What runs for NAT traversal, and what the relay's peers are told */
export interface NatTraversal {
  /** the relay's STUN server, when it runs one */
  stun?: StunServer
  /** the STUN and TURN urls peers get (without credentials) */
  urls: string[]
  close: () => Promise<void>
}

/** Starts the STUN server (unless `stunPort` is 0) and answers peers' ICE requests */
export async function startNatTraversal (node: IceNode, config: ResolvedRelayConfig, log: RelayLogger, onStun?: (outcome: string) => void): Promise<NatTraversal> {
  const turnSecret = config.turnSecretFile == null ? undefined : await loadTurnSecret(config.turnSecretFile)
  const stun = config.stunPort === 0 ? undefined : await startStunServer({ host: config.host, port: config.stunPort, log, onOutcome: onStun })
  const advertised = publicHost(config)
  if (stun != null && advertised == null) {
    log.warn('stun:unadvertised', { message: `listening on ${config.host}, which peers cannot be told: set --announce to the relay's public address` })
  }
  const ice: IceConfig = {
    // with coturn beside the relay, its STUN (same host and port as its turn: urls) serves instead
    stun: stun != null && advertised != null ? [{ host: advertised, port: stun.port }] : coturnStunServers(config.turnUrls),
    turnUrls: config.turnUrls,
    turnSecret,
    ttlSeconds: config.turnTtl
  }
  const urls = [...(ice.stun ?? []).map(s => stunUrl(s.host, s.port)), ...config.turnUrls]
  if (urls.length > 0) await handleIce(node, { iceServersFor: peer => iceServersFor(peer, ice) }, log)
  return {
    stun,
    urls,
    close: async () => {
      if (urls.length > 0) await node.unhandle(ICE_PROTOCOL).catch(() => {})
      await stun?.close()
    }
  }
}

/** The host peers reach the relay at: the first announced address's, else the listening one (if it is one address) */
function publicHost (config: ResolvedRelayConfig): string | undefined {
  for (const value of config.announce) {
    const first = multiaddr(value).getComponents()[0]
    if (['ip4', 'ip6', 'dns', 'dns4', 'dns6'].includes(first?.name) && first.value != null) return first.value
  }
  return config.host === '0.0.0.0' || config.host === '::' ? undefined : config.host
}
