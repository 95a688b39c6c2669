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
 *
 * Read from the right, as each proxy appends the address it saw: the first entry that is not a trusted
 * proxy is the client. Entries left of it are the client's own and never read, and neither is anything left
 * of an entry that cannot be parsed (undefined then: the proxy's address counts for the client), so no
 * entry a client writes, with a port or without, can stand in for its address.
 */
export function forwardedClient (peer: string | undefined, header: string | string[] | undefined, trusted: Set<string>): string | undefined {
  if (peer == null || header == null || !trusted.has(unmapped(peer))) return undefined
  const hops = (Array.isArray(header) ? header.join(',') : header).split(',')
  for (let i = hops.length - 1; i >= 0; i--) {
    const ip = forwardedIp(hops[i])
    if (ip == null) return undefined
    if (!trusted.has(ip)) return ip
  }
  return undefined
}

/**
 * The IP of one X-Forwarded-For entry: `1.2.3.4`, `1.2.3.4:5678`, `2001:db8::1`, `[2001:db8::1]` or
 * `[2001:db8::1]:5678` (IPv4-mapped IPv6 as IPv4); undefined for anything else (`unknown`, an obfuscated
 * name, garbage, an empty entry)
 */
export function forwardedIp (entry: string): string | undefined {
  const text = entry.trim()
  const ip = /^\[([^\]]+)\](?::\d{1,5})?$/.exec(text)?.[1] ?? /^(\d{1,3}(?:\.\d{1,3}){3}):\d{1,5}$/.exec(text)?.[1] ?? text
  return isIP(ip) === 0 ? undefined : unmapped(ip)
}

function unmapped (ip: string): string {
  return ip.toLowerCase().startsWith('::ffff:') && isIP(ip.slice(7)) === 4 ? ip.slice(7) : ip
}
