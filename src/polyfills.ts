// Node variant (the package.json `browser` map swaps in polyfills.browser.ts): it must run before libp2p is used
import { WebSocket as WsWebSocket } from 'ws'
import './polyfills.browser.ts'

/**
 * Node 20 has no global WebSocket, which @libp2p/websockets uses to dial: use `ws`. Unlike a browser's (or
 * Node 22's) WebSocket, a `ws` socket is an EventEmitter, whose 'error' without a listener throws: a refused
 * redial after libp2p has let go of the socket would take the process down. A no-op listener gives it the
 * browser's behaviour; `addEventListener('error', …)` still sees every error.
 */
export class NodeWebSocket extends WsWebSocket {
  constructor (...args: ConstructorParameters<typeof WsWebSocket>) {
    super(...args)
    this.on('error', () => {})
  }
}

if (typeof globalThis.WebSocket !== 'function') {
  globalThis.WebSocket = NodeWebSocket as unknown as typeof globalThis.WebSocket
}
