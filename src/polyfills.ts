// Node variant (the package.json `browser` map swaps in polyfills.browser.ts): it must run before libp2p is used
import { WebSocket as WsWebSocket } from 'ws'
import './polyfills.browser.ts'

// Node 20 has no global WebSocket, which @libp2p/websockets uses to dial
if (typeof globalThis.WebSocket !== 'function') {
  globalThis.WebSocket = WsWebSocket as unknown as typeof globalThis.WebSocket
}
