// Vite (rolldown) plugins that replace code in dependencies at build time. Each replacement is keyed by the
// file it replaces, so a dependency update that moves the file shows up as a failing build (see `applied`
// below), not as a silently larger bundle or a silently slower start.
//   slimBrowserBuild(): the browser builds; drops code Peerlane never runs in a browser, plus CODE_UNIT_SORTS and WIRE
//   relayBuild():       the bundled relay (dist/relay/peerlane-relay.mjs); CODE_UNIT_SORTS and WIRE
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import type { Plugin } from 'vite'

const here = (path: string): string => fileURLToPath(new URL(path, import.meta.url))

interface Replacement {
  /** the end of the replaced file's path (inside node_modules) */
  file: string
  /** the code that replaces it, given the original */
  code: (original: string) => string
}

/** `x.localeCompare(y)` → code-unit order, for sorts whose only purpose is a deterministic order */
function codeUnitSorts (file: string, count: number): Replacement {
  return {
    file,
    code: (original) => {
      let n = 0
      const code = original.replace(/([\w.]+(?:\(\))?)\.localeCompare\(/g, (_, left: string) => { n++; return `peerlaneCodeUnitCompare(${left}, ` })
      if (n !== count || code.includes('localeCompare')) throw new Error(`slim: expected ${count} localeCompare sorts in ${file}, found ${n}; update bench/slim.ts`)
      return `${code}\nfunction peerlaneCodeUnitCompare (a, b) { return a < b ? -1 : a > b ? 1 : 0 }\n`
    }
  }
}

/** `from` → `to` in `file`, which must contain `from` (`what` names it): a dependency update that changes it fails the build */
function replaceText (file: string, what: string, from: string, to: string): Replacement {
  return {
    file,
    code: (original) => {
      if (!original.includes(from)) throw new Error(`slim: ${what} is not in ${file}; update bench/slim.ts`)
      return original.replace(from, to)
    }
  }
}

/**
 * js-libp2p's peer store sorts protocols, metadata keys, tags and addresses with `localeCompare` so that a
 * stored record is deterministic, and every peer record is stored, the node's own at start included. The
 * first `localeCompare` in a process loads ICU's collation data: measured here, 8 MB of a Node relay's idle
 * RSS (57 MB instead of 65 MB) and 8-13 ms of a Chromium page's start. Code-unit order is as deterministic,
 * and these orders are never shown to anyone.
 */
const CODE_UNIT_SORTS: Replacement[] = [
  codeUnitSorts('/@libp2p/peer-store/dist/src/utils/to-peer-pb.js', 2),
  codeUnitSorts('/@libp2p/peer-store/dist/src/utils/dedupe-addresses.js', 1),
  codeUnitSorts('/@libp2p/peer-record/dist/src/peer-record/utils.js', 1)
]

/**
 * Small-message costs on the WebSocket path (browser ↔ relay), in both builds:
 * - Yamux sends a window update after every data frame it receives, so each room message a peer sends its
 *   relay comes back as a second frame (28 bytes) that the peer must decrypt and parse. go-yamux and
 *   rust-yamux send one once half the window is used; so does this.
 * - The WebSocket connection sends each buffer of a write as its own WebSocket message, and a Noise frame
 *   is two buffers (its length, then the ciphertext): two messages, two 'message' tasks on the receiver,
 *   for every frame. One message carries the write here; receivers decode the byte stream either way.
 * Measured (room latency through the relay, two Chromium pages without WebRTC, 3 runs of 150 messages each
 * way): 2.75-3.15 ms median one-way against 3.42-4.65 ms without these two, p95 5.3-6.6 against 7.0-12.9 ms.
 */
const WIRE: Replacement[] = [
  replaceText('/@chainsafe/libp2p-yamux/dist/src/stream.js', 'the window update check', `        if (this.recvWindowCapacity >= this.recvWindow && flags === 0) {
            // a window update isn't needed
            return;
        }`, `        if (this.recvWindowCapacity * 2 > this.recvWindow && flags === 0) {
            // a window update isn't needed until half the window is used (as go-yamux and rust-yamux do)
            return;
        }`),
  replaceText('/@libp2p/websockets/dist/src/websocket-to-conn.js', 'the per-buffer websocket.send loop', `        for (const buf of data) {
            this.websocket.send(withArrayBuffer(buf));
        }`, '        this.websocket.send(withArrayBuffer(data.subarray()));')
]

const BROWSER_ONLY: Replacement[] = [
  {
    // RSA, secp256k1 and ECDSA keys: Peerlane peers and relays use Ed25519, and the stock module pulls the
    // others (DER/ASN.1, Weierstrass curves) into every bundle that parses a public key
    file: '/@libp2p/crypto/dist/src/keys/index.js',
    code: () => readFileSync(here('./keys-ed25519.js'), 'utf8')
  },
  {
    // Noise's X25519 public keys (its static key, made when libp2p is created, and one ephemeral key per
    // handshake) through noble's fixed-base path, whose first use builds Edwards base-point tables: 40-50 ms
    // of a Chromium page's start here, for the few keys a browser makes. The Montgomery ladder (the one DH
    // already uses; X25519(k, 9) by definition) costs ~1-2 ms a key and builds nothing.
    file: '/@chainsafe/libp2p-noise/dist/src/crypto/js.js',
    code: (original) => {
      let n = 0
      const code = original.replace(/x25519\.getPublicKey\((secretKey|seed)\)/g, (_, k: string) => { n++; return `x25519.scalarMult(${k}, x25519.GuBytes)` })
      if (n !== 2) throw new Error(`slim: expected 2 x25519.getPublicKey calls in @chainsafe/libp2p-noise crypto/js.js, found ${n}; update bench/slim.ts`)
      return code
    }
  },
  // The WebRTC dialer's 'init' data channel: the answering side's muxer closes it as soon as it sees it
  // (@libp2p/webrtc muxer.js, "closed by the initiator"), and when that happens before the dialer gets to
  // `readyState !== 'open'` the dialer waits for an 'open' (or a 'close') that already happened, until the
  // dial times out: about one first WebRTC link in five took ~6 s here, a stock libp2p dial included.
  // Replaced: wait for 'open' only while the channel is connecting, and for 'close' only if it is not closed.
  replaceText('/@libp2p/webrtc/dist/src/private-to-private/initiate-connection.js', 'the init channel wait', `        if (channel.readyState !== 'open') {
            log.trace('wait for init channel to open');
            await pEvent(channel, 'open', {
                signal
            });
        }
        log.trace('closing init channel');
        channel.close();
        // wait for init channel to close before proceeding, otherwise the channel
        // id can be reused before both sides have seen the channel close
        log.trace('waiting for init channel to close');
        await pEvent(channel, 'close', {
            signal
        });`, `        if (channel.readyState === 'connecting') {
            log.trace('wait for init channel to open');
            // the remote may close it first (its muxer closes an 'init' channel it sees)
            await Promise.race([pEvent(channel, 'open', { signal }), pEvent(channel, 'close', { signal })]);
        }
        if (channel.readyState !== 'closed') {
            // wait for init channel to close before proceeding, otherwise the channel
            // id can be reused before both sides have seen the channel close
            log.trace('closing init channel');
            const closed = pEvent(channel, 'close', { signal });
            channel.close();
            await closed;
        }`),
  // A WebRTC stream message is a length prefix and a protobuf; @libp2p/webrtc sends the two as two data-channel
  // messages, so every write is two SCTP messages and two 'message' tasks on the receiving page. One message
  // carries both here (as go-libp2p and rust-libp2p send them); receivers decode the stream of bytes either way.
  replaceText('/@libp2p/webrtc/dist/src/stream.js', 'the per-buffer channel.send loop', `for (const buf of data) {
                this.channel.send(withArrayBuffer(buf));
            }`, 'this.channel.send(withArrayBuffer(data.subarray()));'),
  {
    // Ed25519 sign/verify through WebCrypto import the key again for every signature (importKey, then
    // sign: two trips to the browser's crypto thread): every room message is signed once and verified by
    // each receiver. The imported CryptoKeys are kept (a private key's per key object, public keys in a
    // small map), so that a message costs one trip on each side.
    file: '/@libp2p/crypto/dist/src/keys/ed25519/index.browser.js',
    code: (original) => {
      const importSign = "const key = await crypto.get().subtle.importKey('jwk', jwk, { name: 'Ed25519' }, true, ['sign']);"
      const importVerify = "const key = await crypto.get().subtle.importKey('raw', publicKey.buffer, { name: 'Ed25519' }, false, ['verify']);"
      if (!original.includes(importSign) || !original.includes(importVerify)) throw new Error('slim: Ed25519 WebCrypto importKey calls not found in @libp2p/crypto; update bench/slim.ts')
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
  },
  {
    // GossipSub's Prometheus metrics (~20 KB minified) exist only when `metricsRegister` is passed, which a
    // browser peer never does; the enums at the top of the file are used elsewhere and are kept
    file: '/@libp2p/gossipsub/dist/src/metrics.js',
    code: (original) => {
      const at = original.indexOf('export function getMetrics')
      if (at < 0) throw new Error('slim: getMetrics not found in @libp2p/gossipsub metrics.js; update bench/slim.ts')
      return original.slice(0, at) + "export function getMetrics () { throw new Error('GossipSub metrics are not in the Peerlane browser build') }\n"
    }
  }
]

function replaceModules (name: string, replacements: Replacement[]): Plugin {
  const applied = new Set<string>()
  return {
    name,
    apply: 'build',
    enforce: 'pre',
    load (id) {
      const path = id.split('?')[0]
      const replacement = replacements.find(r => path.endsWith(r.file))
      if (replacement == null) return null
      applied.add(replacement.file)
      return { code: replacement.code(readFileSync(path, 'utf8')), map: null }
    },
    buildEnd (error) {
      if (error != null) return
      const missing = replacements.filter(r => !applied.has(r.file)).map(r => r.file)
      if (missing.length > 0) this.error(`slim: these files were not in the build any more, update bench/slim.ts: ${missing.join(', ')}`)
    }
  }
}

export function slimBrowserBuild (): Plugin {
  return replaceModules('peerlane-slim', [...BROWSER_ONLY, ...CODE_UNIT_SORTS, ...WIRE])
}

export function relayBuild (): Plugin {
  return replaceModules('peerlane-relay-sorts', [...CODE_UNIT_SORTS, ...WIRE])
}
