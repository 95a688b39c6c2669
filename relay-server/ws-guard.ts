// @libp2p/websockets (10.x) attaches no 'error' listener to the server-side sockets it accepts, so any
// WebSocket protocol error from a client (a frame over maxPayload, a reserved opcode, bad masking…) is an
// unhandled 'error' event that takes the whole relay process down; and it leaves ws's 100 MiB maxPayload
// in place. It offers no hook for either, so we wrap the one place every accepted socket passes through:
// WebSocketServer#handleUpgrade (the same `ws` copy libp2p uses: there is one in the tree).
import { WebSocketServer } from 'ws'
import type { IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import type { WebSocket } from 'ws'

/** The largest WebSocket message the relay accepts, in bytes. libp2p frames are at most 64 KiB each; 4 MiB leaves room for batched writes. */
export const MAX_WS_PAYLOAD = 4 * 1024 * 1024

let installed = false

/** Makes every WebSocket the relay accepts close (instead of crashing the process) on a protocol error, and caps its message size */
export function guardWebSockets (onError: (err: Error) => void = () => {}): void {
  if (installed) return
  installed = true
  const handleUpgrade = WebSocketServer.prototype.handleUpgrade
  WebSocketServer.prototype.handleUpgrade = function (this: WebSocketServer, req: IncomingMessage, socket: Duplex, head: Buffer, callback: (ws: WebSocket, req: IncomingMessage) => void) {
    this.options.maxPayload = Math.min(this.options.maxPayload ?? MAX_WS_PAYLOAD, MAX_WS_PAYLOAD)
    // a socket that fails before the upgrade completes must not crash us either
    socket.on('error', () => { socket.destroy() })
    handleUpgrade.call(this, req, socket, head, (ws: WebSocket, request: IncomingMessage) => {
      ws.on('error', err => {
        onError(err)
        ws.terminate()
      })
      callback(ws, request)
    })
  } as typeof handleUpgrade
}
