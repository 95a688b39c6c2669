// Ed25519 sign/verify through WebCrypto import the key again for every signature (importKey, then sign: two
// trips to the browser's crypto thread): every room message is signed once and verified by each receiver.
// The imported CryptoKeys are kept (a private key's per key object, public keys in a small map), so that a
// message costs one trip on each side. Browser only (Node's @libp2p/crypto uses node:crypto).
// Upstream: not filed. Delete when @libp2p/crypto's ed25519/index.browser.js keeps its imported keys.
import { StalePatchError } from '../patch.ts'
import type { Patch } from '../patch.ts'

const importSign = "const key = await crypto.get().subtle.importKey('jwk', jwk, { name: 'Ed25519' }, true, ['sign']);"
const importVerify = "const key = await crypto.get().subtle.importKey('raw', publicKey.buffer, { name: 'Ed25519' }, false, ['verify']);"

export const webcryptoEd25519Keys: Patch = {
  name: 'webcrypto-ed25519-keys',
  targets: ['browser'],
  replacements: [{
    file: '/@libp2p/crypto/dist/src/keys/ed25519/index.browser.js',
    code: (original) => {
      if (!original.includes(importSign) || !original.includes(importVerify)) throw new StalePatchError('webcrypto-ed25519-keys', 'the Ed25519 WebCrypto importKey calls are not in @libp2p/crypto')
      return original
        .replace(importSign, "let key = signingKeys.get(privateKey); if (key == null) { key = crypto.get().subtle.importKey('jwk', jwk, { name: 'Ed25519' }, false, ['sign']); signingKeys.set(privateKey, key); key.catch(() => signingKeys.delete(privateKey)); } key = await key;")
        .replace(importVerify, "const key = await peerlaneCachedKey(verifyingKeys, publicKey, () => crypto.get().subtle.importKey('raw', publicKey.buffer, { name: 'Ed25519' }, false, ['verify']));") + `
// a private key's bytes are the same array on every sign() of its key object; public keys arrive anew
const signingKeys = new WeakMap();
const verifyingKeys = new Map();
/** the imported public key for these bytes, imported once; a failed import is not kept; at most 256 kept */
function peerlaneCachedKey(cache, bytes, importKey) {
    const id = uint8arrayToString(bytes, 'base64');
    let key = cache.get(id);
    if (key == null) {
        key = importKey();
        key.catch(() => { cache.delete(id); });
        if (cache.size >= 256) cache.delete(cache.keys().next().value);
        cache.set(id, key);
    }
    return key;
}
`
    }
  }]
}
