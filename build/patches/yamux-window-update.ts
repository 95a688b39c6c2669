// Yamux sends a window update after every data frame it receives, so each room message a peer sends its
// relay comes back as a second frame (28 bytes) that the peer must decrypt and parse. go-yamux and
// rust-yamux send one once half the window is used; so does this.
// Measured with websockets-send.ts (room latency through the relay, two Chromium pages without WebRTC, 3 runs
// of 150 messages each way): 2.75-3.15 ms median one-way against 3.42-4.65 ms without the two.
// Upstream: not filed. Delete when @chainsafe/libp2p-yamux batches window updates.
import { replaceText } from '../patch.ts'
import type { Patch } from '../patch.ts'

export const yamuxWindowUpdate: Patch = {
  name: 'yamux-window-update',
  targets: ['browser', 'node', 'relay'],
  replacements: [
    replaceText('yamux-window-update', '/@chainsafe/libp2p-yamux/dist/src/stream.js', 'the window update check', `        if (this.recvWindowCapacity >= this.recvWindow && flags === 0) {
            // a window update isn't needed
            return;
        }`, `        if (this.recvWindowCapacity * 2 > this.recvWindow && flags === 0) {
            // a window update isn't needed until half the window is used (as go-yamux and rust-yamux do)
            return;
        }`)
  ]
}
