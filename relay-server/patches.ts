// Runtime patches of libp2p internals, applied to the running node (build-time patches of dependency
// source are in build/patches/). Each says what upstream would have to change for it to be deleted; each
// checks the shape it patches and leaves the node as it was (with a warning where that matters) if it changed.
import { WebSocket } from 'ws'
import type { RelayLogger } from './log.ts'
import type { RelayNode } from './relay.ts'
import type { Connection, PeerId } from '@libp2p/interface'

/**
 * The `ws` WebSocketServer of each @libp2p/websockets listener (an internal field, hence `any`)
 */
export function wsServers (node: RelayNode): any[] {
  const listeners = (node as any).components?.transportManager?.getListeners?.() ?? []
  return listeners.map((listener: any) => listener?.wsServer).filter((server: any) => server != null)
}

/**
 * libp2p's `connectionManager.getConnections()` builds its answer with `conns = conns.concat(c)` per peer,
 * which is quadratic in the number of peers, and libp2p calls it on every inbound connection (the pending
 * check and the pruner, only to read `.length`). At thousands of browsers that became most of the relay's
 * CPU and made each new connection slower than the last. Same answer, built in linear time.
 *
 * Upstream: delete once libp2p's DefaultConnectionManager.getConnections() stops concatenating per peer.
 */
export function linearGetConnections (node: RelayNode): void {
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
 * 'error' listener: @libp2p/websockets adds none, so a protocol error (a message over maxPayload, a bad
 * frame) would be an uncaught exception that kills the process.
 *
 * Upstream: delete once @libp2p/websockets takes a `maxPayload` option and listens for 'error' on the sockets it accepts.
 */
export function setWsMaxPayload (node: RelayNode, maxPayload: number, log: RelayLogger): void {
  let set = 0
  for (const wsServer of wsServers(node)) {
    const options = wsServer.options
    if (options != null && typeof options.maxPayload === 'number' && typeof wsServer.on === 'function') {
      options.maxPayload = maxPayload
      // ws closes the socket itself (1009, 1002…); we only log it. `WebSocket` is ws's documented option
      // for the class of accepted sockets
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
 * js-libp2p keeps a reservation until its TTL even when the peer is gone: free the slot now.
 *
 * Upstream: delete once @libp2p/circuit-relay-v2's server removes a reservation when its peer disconnects.
 */
export function freeReservationsOnDisconnect (node: RelayNode): void {
  node.addEventListener('peer:disconnect', evt => { node.services.relay.reservations.delete(evt.detail) })
}
