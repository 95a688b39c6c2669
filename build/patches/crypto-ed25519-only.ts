// RSA, secp256k1 and ECDSA keys: Peerlane peers and relays use Ed25519, and the stock '@libp2p/crypto/keys'
// pulls the others (DER/ASN.1, Weierstrass curves) into every bundle that parses a public key. The browser
// build gets keys-ed25519.js instead (Ed25519 only, keys made by WebCrypto where the browser has it: noble
// builds its tables on first use, 40-70 ms of a Chromium page's start). Browser only: in Node the stock
// module costs nothing that matters and stock peers may use other key types with a Node peer.
// Upstream: not applicable (a size choice). Delete if the browser build must accept other key types.
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import type { Patch } from '../patch.ts'

export const cryptoEd25519Only: Patch = {
  name: 'crypto-ed25519-only',
  targets: ['browser'],
  replacements: [{
    file: '/@libp2p/crypto/dist/src/keys/index.js',
    code: () => readFileSync(fileURLToPath(new URL('./keys-ed25519.js', import.meta.url)), 'utf8')
  }]
}
