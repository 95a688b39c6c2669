// Private rooms: a secret the members share gives the room its topic and its key (HKDF-SHA-256, WebCrypto),
// and every envelope's contents are sealed with AES-256-GCM. GossipSub still signs each message, so the
// signature proves the author; the key proves membership. A different secret is a different, empty room.
import { toString as toBase64 } from 'uint8arrays/to-string'
import { InvalidConfigError } from './errors.ts'

/** Topics of private rooms start with this; relays carry them like any `peerlane/` topic */
export const PRIVATE_TOPIC_PREFIX = 'peerlane/1/private/'

/** The shortest secret accepted, in bytes (a guessable secret lets anyone who sees the topic test guesses offline) */
export const MIN_SECRET_BYTES = 16

const SALT = new TextEncoder().encode('peerlane private room 1')
const IV_BYTES = 12

/** The key of a private room: its topic, and sealing of envelope contents bound to the topic and author */
export interface RoomKey {
  /** `peerlane/1/private/<43 base64url characters>`, derived from the secret and the room name */
  readonly topic: string
  /** AES-GCM: 12 bytes of IV, then the ciphertext and its tag */
  seal: (plain: Uint8Array, author: string) => Promise<Uint8Array<ArrayBuffer>>
  /** The plain bytes, or undefined when `sealed` was not made with this key for this topic and author */
  open: (sealed: Uint8Array, author: string) => Promise<Uint8Array | undefined>
  /** The AES-256-GCM key of one file shared into the room: HKDF of the secret with the file's random `salt` (in its ref) */
  contentKey: (salt: Uint8Array) => Promise<CryptoKey>
}

/** Derives the topic and key of private room `name` from `secret`; throws `InvalidConfigError` for a short secret */
export async function deriveRoomKey (name: string, secret: string | Uint8Array): Promise<RoomKey> {
  const bytes = typeof secret === 'string' ? new TextEncoder().encode(secret) : secret instanceof Uint8Array ? new Uint8Array(secret) : undefined
  if (bytes == null || bytes.byteLength < MIN_SECRET_BYTES) {
    throw new InvalidConfigError('secret', `must be a string or Uint8Array of at least ${MIN_SECRET_BYTES} bytes (use a random one, e.g. 16 bytes from crypto.getRandomValues in the invite link)`)
  }
  const ikm = await crypto.subtle.importKey('raw', bytes, 'HKDF', false, ['deriveBits', 'deriveKey'])
  const info = (use: string): Uint8Array<ArrayBuffer> => new TextEncoder().encode(`${use}\n${name}`)
  const id = new Uint8Array(await crypto.subtle.deriveBits({ name: 'HKDF', hash: 'SHA-256', salt: SALT, info: info('topic') }, ikm, 256))
  const key = await crypto.subtle.deriveKey({ name: 'HKDF', hash: 'SHA-256', salt: SALT, info: info('key') }, ikm, { name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt'])
  const topic = PRIVATE_TOPIC_PREFIX + toBase64(id, 'base64url')
  const aad = (author: string): Uint8Array<ArrayBuffer> => new TextEncoder().encode(`${topic}\n${author}`)
  return {
    topic,
    async seal (plain, author) {
      const iv = crypto.getRandomValues(new Uint8Array(IV_BYTES))
      const cipher = new Uint8Array(await crypto.subtle.encrypt({ name: 'AES-GCM', iv, additionalData: aad(author) }, key, new Uint8Array(plain)))
      const out = new Uint8Array(IV_BYTES + cipher.byteLength)
      out.set(iv)
      out.set(cipher, IV_BYTES)
      return out
    },
    async open (sealed, author) {
      if (sealed.byteLength < IV_BYTES + 16) return undefined
      try {
        const iv = sealed.slice(0, IV_BYTES)
        return new Uint8Array(await crypto.subtle.decrypt({ name: 'AES-GCM', iv, additionalData: aad(author) }, key, sealed.slice(IV_BYTES)))
      } catch {
        return undefined
      }
    },
    contentKey: async salt => await crypto.subtle.deriveKey({ name: 'HKDF', hash: 'SHA-256', salt: new Uint8Array(salt), info: info('content') }, ikm, { name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt'])
  }
}
