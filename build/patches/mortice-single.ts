// mortice (the peer store's read/write locks) in a browser opens a BroadcastChannel named 'mortice' and serves
// lock requests that Web Workers post to it, even for locks created with `singleProcess: true`, the only kind
// in a Peerlane page (@libp2p/peer-store's). Such a page needs the in-page locks only: the browser build's
// mortice gets no channel (its worker-side and channel code, ~2 KB minified, leave the bundle; and other
// contexts of the origin can no longer take or hold our peer store's locks through it).
// Upstream: not filed (mortice could skip the channel when singleProcess is set). Delete if something in the
// browser build ever needs mortice across workers.
import { StalePatchError } from '../patch.ts'
import type { Patch } from '../patch.ts'

export const morticeSingle: Patch = {
  name: 'mortice-single',
  targets: ['browser'],
  replacements: [{
    file: '/mortice/dist/src/browser.js',
    code: (original) => {
      if (!original.includes('singleProcess') || !original.includes('BroadcastChannel')) throw new StalePatchError('mortice-single', 'mortice browser.js no longer opens its BroadcastChannel')
      return "import { TypedEventEmitter } from 'main-event';\n// Peerlane build patch mortice-single: locks in this page only\nexport default () => new TypedEventEmitter();\n"
    }
  }]
}
