// Noise's X25519 public keys (its static key, made when libp2p is created, and one ephemeral key per
// handshake) through noble's fixed-base path, whose first use builds Edwards base-point tables: 40-50 ms of
// a Chromium page's start here, for the few keys a browser makes. The Montgomery ladder (the one DH already
// uses; X25519(k, 9) by definition) costs ~1-2 ms a key and builds nothing. Browser only: Node's Noise uses
// node:crypto, not this file.
// Upstream: not filed. Delete when @chainsafe/libp2p-noise derives X25519 public keys without the tables.
import { StalePatchError } from '../patch.ts'
import type { Patch } from '../patch.ts'

const FILE = '/@chainsafe/libp2p-noise/dist/src/crypto/js.js'

export const noiseX25519Ladder: Patch = {
  name: 'noise-x25519-ladder',
  targets: ['browser'],
  replacements: [{
    file: FILE,
    code: (original) => {
      let n = 0
      const code = original.replace(/x25519\.getPublicKey\((secretKey|seed)\)/g, (_, k: string) => { n++; return `x25519.scalarMult(${k}, x25519.GuBytes)` })
      if (n !== 2) throw new StalePatchError('noise-x25519-ladder', `expected 2 x25519.getPublicKey calls in ${FILE}, found ${n}`)
      return code
    }
  }]
}
