import { IdentityLockedError } from './errors.ts'

/** PBKDF2-SHA256 work factor for passphrase-protected keys (OWASP's 2023 figure for PBKDF2-HMAC-SHA256) */
export const PBKDF2_ITERATIONS = 600_000

/** How a key is encrypted at rest (in IndexedDB or in an export file) */
export interface SealedKey {
  /** 'device': by a non-extractable AES-GCM key kept in this browser's IndexedDB; 'passphrase': by a key derived from one */
  protection: 'device' | 'passphrase'
  iv: Uint8Array
  ciphertext: Uint8Array
  kdf?: { name: 'PBKDF2', hash: 'SHA-256', iterations: number, salt: Uint8Array }
}

/** Derives the AES-GCM key for a passphrase */
async function passphraseKey (passphrase: string, salt: Uint8Array, iterations: number): Promise<CryptoKey> {
  if (typeof passphrase !== 'string' || passphrase.length === 0) {
    throw new IdentityLockedError('a passphrase must be a non-empty string')
  }
  const material = await crypto.subtle.importKey('raw', new TextEncoder().encode(passphrase), 'PBKDF2', false, ['deriveKey'])
  return await crypto.subtle.deriveKey(
    { name: 'PBKDF2', hash: 'SHA-256', salt: salt as Uint8Array<ArrayBuffer>, iterations },
    material,
    { name: 'AES-GCM', length: 256 },
    false,
    ['encrypt', 'decrypt']
  )
}

/** A fresh AES-GCM key that scripts can use but never read out (it can be stored in IndexedDB as it is) */
export async function newDeviceKey (): Promise<CryptoKey> {
  return await crypto.subtle.generateKey({ name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt'])
}

/** Encrypts `plaintext` with a passphrase (PBKDF2) or a device key */
export async function seal (plaintext: Uint8Array, by: { passphrase: string } | { deviceKey: CryptoKey }): Promise<SealedKey> {
  const iv = crypto.getRandomValues(new Uint8Array(12))
  let key: CryptoKey
  let kdf: SealedKey['kdf']
  if ('passphrase' in by) {
    const salt = crypto.getRandomValues(new Uint8Array(16))
    kdf = { name: 'PBKDF2', hash: 'SHA-256', iterations: PBKDF2_ITERATIONS, salt }
    key = await passphraseKey(by.passphrase, salt, PBKDF2_ITERATIONS)
  } else {
    key = by.deviceKey
  }
  const ciphertext = new Uint8Array(await crypto.subtle.encrypt({ name: 'AES-GCM', iv }, key, plaintext as Uint8Array<ArrayBuffer>))
  return { protection: kdf == null ? 'device' : 'passphrase', iv, ciphertext, ...(kdf == null ? {} : { kdf }) }
}

/** Decrypts a sealed key; a wrong passphrase (or device key) is an `IdentityLockedError` */
export async function unseal (sealed: SealedKey, by: { passphrase?: string, deviceKey?: CryptoKey }): Promise<Uint8Array> {
  let key: CryptoKey
  if (sealed.protection === 'passphrase') {
    if (by.passphrase == null) {
      throw new IdentityLockedError('the identity is protected by a passphrase: pass protect: { passphrase }')
    }
    const kdf = sealed.kdf
    if (kdf?.name !== 'PBKDF2' || kdf.hash !== 'SHA-256' || !(kdf.salt instanceof Uint8Array) || !Number.isInteger(kdf.iterations)) {
      throw new IdentityLockedError('the identity names a key derivation Peerlane does not know')
    }
    key = await passphraseKey(by.passphrase, kdf.salt, kdf.iterations)
  } else {
    if (by.deviceKey == null) throw new IdentityLockedError("the identity is protected by this browser's device key, which is missing")
    key = by.deviceKey
  }
  try {
    return new Uint8Array(await crypto.subtle.decrypt({ name: 'AES-GCM', iv: sealed.iv as Uint8Array<ArrayBuffer> }, key, sealed.ciphertext as Uint8Array<ArrayBuffer>))
  } catch (err) {
    throw new IdentityLockedError(sealed.protection === 'passphrase' ? 'wrong passphrase for the identity' : 'the device key does not open the identity', { cause: err })
  }
}
