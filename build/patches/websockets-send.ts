// The WebSocket connection sends each buffer of a write as its own WebSocket message, and a Noise frame is
// two buffers (its length, then the ciphertext): two messages, two 'message' tasks on the receiver, for
// every frame. One message carries the write here; receivers decode the byte stream either way, so peers
// with and without this patch interoperate. Measured together with yamux-window-update.ts.
// Upstream: not filed. Delete when @libp2p/websockets sends a write's buffers as one message.
import { replaceText } from '../patch.ts'
import type { Patch } from '../patch.ts'

export const websocketsSend: Patch = {
  name: 'websockets-send',
  targets: ['browser', 'node', 'relay'],
  replacements: [
    replaceText('websockets-send', '/@libp2p/websockets/dist/src/websocket-to-conn.js', 'the per-buffer websocket.send loop', `        for (const buf of data) {
            this.websocket.send(withArrayBuffer(buf));
        }`, '        this.websocket.send(withArrayBuffer(data.subarray()));')
  ]
}
