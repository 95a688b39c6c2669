// Behind a reverse proxy: the client's IP from X-Forwarded-For, for WebSockets from a trusted proxy only.
import { isIP } from 'node:net'
import { wsServers } from './patches.ts'
import type { RelayLogger } from './log.ts'
import type { RelayNode } from './relay.ts'

/**
 * Behind a reverse proxy every WebSocket comes from the proxy's IP. For connections from a trusted proxy,
 * take the client's IP from X-Forwarded-For (the rightmost address that is not a trusted proxy) before
 * @libp2p/websockets builds the connection's remote multiaddr from `req.socket.remoteAddress`.
 *
 * Upstream: delete once @libp2p/websockets can take a connection's remote address from a trusted proxy's header.
 */
export function trustProxies (node: RelayNode, trusted: Set<string>, log: RelayLogger): void {
  let set = 0
  for (const wsServer of wsServers(node)) {
    if (typeof wsServer.handleUpgrade !== 'function') continue
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

/**
 * The client IP a trusted proxy reports, or undefined to keep the socket's own. `peer`: the socket's
 * remote address; `header`: X-Forwarded-For; `trusted`: the proxies' IPs.
 */
export function forwardedClient (peer: string | undefined, header: string | string[] | undefined, trusted: Set<string>): string | undefined {
  const strip = (ip: string): string => ip.startsWith('::ffff:') ? ip.slice(7) : ip
  if (peer == null || header == null || !trusted.has(strip(peer))) return undefined
  const hops = (Array.isArray(header) ? header.join(',') : header).split(',').map(h => strip(h.trim())).filter(h => isIP(h) !== 0)
  for (let i = hops.length - 1; i >= 0; i--) {
    if (!trusted.has(hops[i])) return hops[i]
  }
  return undefined
}
