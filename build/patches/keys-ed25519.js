// The browser build's '@libp2p/crypto/keys' (build/patches/crypto-ed25519-only.ts loads this in place of its dist/src/keys/index.js,
// so the imports below are relative to that file): Ed25519 only. Peerlane peers and relays use Ed25519 keys, and
// the stock module pulls in RSA (with its DER/ASN.1 code), secp256k1 and ECDSA (the Weierstrass curve code)
// for every caller. Other key types are refused with libp2p's own UnsupportedKeyTypeError, as a node without
// support for them would. The function names and signatures are those of @libp2p/crypto 5.x.
import { InvalidParametersError, UnsupportedKeyTypeError } from '@libp2p/interface'
import { privateKeyLength, publicKeyLength } from './ed25519/index.js'
import { generateEd25519KeyPair, generateEd25519KeyPairFromSeed, unmarshalEd25519PrivateKey, unmarshalEd25519PublicKey } from './ed25519/utils.js'
import * as pb from './keys.js'
import { fromString as uint8ArrayFromString } from 'uint8arrays/from-string'

const unsupported = (type) => new UnsupportedKeyTypeError(`${type ?? 'this'} key type is not in Peerlane's browser build (Ed25519 only)`)

export async function generateKeyPair (type) {
  if (type === 'Ed25519') return await generateEd25519WebCrypto().catch(async () => await generateEd25519KeyPair())
  throw unsupported(type)
}

/**
 * A new Ed25519 key from WebCrypto, where the browser has Ed25519 (Chromium 137+, Firefox 129+, Safari 17+).
 * The stock generator derives the public key with @noble/curves, whose first use builds its precomputed
 * tables: ~40-70 ms of a Chromium page's start here, against ~1 ms for WebCrypto. Same key format: the
 * 32-byte seed, then the 32-byte public key.
 */
async function generateEd25519WebCrypto () {
  const subtle = globalThis.crypto?.subtle
  if (subtle == null) throw new Error('no WebCrypto')
  const pair = await subtle.generateKey({ name: 'Ed25519' }, true, ['sign', 'verify'])
  const jwk = await subtle.exportKey('jwk', pair.privateKey)
  const seed = uint8ArrayFromString(jwk.d ?? '', 'base64url')
  const publicKey = uint8ArrayFromString(jwk.x ?? '', 'base64url')
  if (seed.byteLength !== 32 || publicKey.byteLength !== 32) throw new Error('unexpected Ed25519 JWK')
  const raw = new Uint8Array(64)
  raw.set(seed)
  raw.set(publicKey, 32)
  return unmarshalEd25519PrivateKey(raw)
}

export async function generateKeyPairFromSeed (type, seed) {
  if (type !== 'Ed25519') throw new UnsupportedKeyTypeError('Seed key derivation only supported for Ed25519 keys')
  return await generateEd25519KeyPairFromSeed(seed)
}

export function publicKeyFromProtobuf (buf) {
  const { Type, Data } = pb.PublicKey.decode(buf)
  if (Type === pb.KeyType.Ed25519) return unmarshalEd25519PublicKey(Data ?? new Uint8Array())
  throw unsupported(Type)
}

export function publicKeyFromRaw (buf) {
  if (buf.byteLength === publicKeyLength) return unmarshalEd25519PublicKey(buf)
  throw new InvalidParametersError('Could not extract public key from raw bytes (only Ed25519 keys are supported)')
}

export function publicKeyFromMultihash (digest) {
  return publicKeyFromProtobuf(digest.digest)
}

export function publicKeyToProtobuf (key) {
  return pb.PublicKey.encode({ Type: pb.KeyType[key.type], Data: key.raw })
}

export function privateKeyFromProtobuf (buf) {
  const { Type, Data } = pb.PrivateKey.decode(buf)
  if (Type === pb.KeyType.Ed25519) return unmarshalEd25519PrivateKey(Data ?? new Uint8Array())
  throw unsupported(Type)
}

export function privateKeyFromRaw (buf) {
  if (buf.byteLength === privateKeyLength) return unmarshalEd25519PrivateKey(buf)
  throw new InvalidParametersError('Could not extract private key from raw bytes (only Ed25519 keys are supported)')
}

export function privateKeyToProtobuf (key) {
  return pb.PrivateKey.encode({ Type: pb.KeyType[key.type], Data: key.raw })
}

export async function privateKeyToCryptoKeyPair () {
  throw new InvalidParametersError('Only RSA and ECDSA keys are supported')
}

export async function privateKeyFromCryptoKeyPair () {
  throw new InvalidParametersError('Only RSA and ECDSA keys are supported')
}

export function generateEphemeralKeyPair () {
  throw unsupported('ECDH')
}

export function keyStretcher () {
  throw unsupported('key stretcher')
}
