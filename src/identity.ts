import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import { IdentityCorruptError, InvalidConfigError, IdentityLockedError } from './errors.ts'
import { acquireLock, identityStore, readDeviceKey, readRecord, writeDeviceKey, writeRecord } from './identity-store.ts'
import { newDeviceKey, seal, unseal } from './protection.ts'
import type { SealedKey } from './protection.ts'
import type { PrivateKey } from '@libp2p/interface'
import type { UseStore } from 'idb-keyval'

/** Where the peer's key lives: IndexedDB (persistent), memory (new each time), or a key you bring */
export type IdentityOption = 'indexeddb' | 'memory' | PrivateKey

/** What a tab gets when another tab of the same origin already runs with the stored identity */
export type IdentityInUsePolicy = 'ephemeral' | 'wait' | 'error'

/** Where the running identity came from */
export type IdentitySource =
  /** loaded from (or created in) IndexedDB: the same PeerId after a reload */
  | 'indexeddb'
  /** in memory only, because `identity: 'memory'` was asked for */
  | 'memory'
  /** in memory only, because another tab holds the stored identity (`whenIdentityInUse: 'ephemeral'`) */
  | 'ephemeral'
  /** the PrivateKey passed as `identity` */
  | 'provided'

/**
 * How the stored key is protected at rest. `'device'`: encrypted (AES-GCM) by a non-extractable key kept in
 * this browser's IndexedDB, so a copy of the database alone does not reveal it. `{ passphrase }`: encrypted
 * by a key derived from the passphrase (PBKDF2-SHA256, 600,000 iterations), asked for at every start.
 */
export type Protection = 'device' | {
  /** the passphrase the key is sealed with; never stored */
  passphrase: string
}

/** A loaded identity and the lock that keeps other tabs off it */
export interface Identity {
  privateKey: PrivateKey
  source: IdentitySource
  /** lets another tab take the stored identity; called by `peer.stop()` */
  release(): void
}

/** The shape of the IndexedDB value: the key in libp2p's protobuf encoding, in clear or sealed */
export type StoredIdentity = { version: 1, type: 'Ed25519', createdAt: number } & ({ privateKey: Uint8Array } | { sealed: SealedKey })

/** Encodes a key for storage, sealed when `by` is given */
export async function encodeIdentity (key: PrivateKey, by?: { passphrase: string } | { deviceKey: CryptoKey }, now = Date.now()): Promise<StoredIdentity> {
  if (key.type !== 'Ed25519') {
    throw new InvalidConfigError('identity', `Peerlane stores Ed25519 keys, got ${key.type}`)
  }
  const bytes = privateKeyToProtobuf(key)
  return by == null
    ? { version: 1, type: 'Ed25519', createdAt: now, privateKey: bytes }
    : { version: 1, type: 'Ed25519', createdAt: now, sealed: await seal(bytes, by) }
}

/** Checks the shape of a stored value, or throws `IdentityCorruptError` saying what is wrong with it */
export function checkIdentity (value: unknown): StoredIdentity {
  if (value == null || typeof value !== 'object') {
    throw new IdentityCorruptError(`stored identity is ${value === null ? 'null' : typeof value}, not an identity record`)
  }
  const record = value as Partial<StoredIdentity> & { privateKey?: unknown, sealed?: Partial<SealedKey> }
  if (record.version !== 1) {
    throw new IdentityCorruptError(`stored identity has unknown version ${JSON.stringify(record.version)} (expected 1)`)
  }
  if (record.type !== 'Ed25519') {
    throw new IdentityCorruptError(`stored identity has key type ${JSON.stringify(record.type)} (expected "Ed25519")`)
  }
  if (record.sealed != null) {
    const { protection, iv, ciphertext } = record.sealed
    if ((protection !== 'device' && protection !== 'passphrase') || !(iv instanceof Uint8Array) || !(ciphertext instanceof Uint8Array)) {
      throw new IdentityCorruptError('stored identity is sealed but its protection, iv or ciphertext is missing')
    }
  } else if (!(record.privateKey instanceof Uint8Array)) {
    throw new IdentityCorruptError('stored identity has no privateKey bytes')
  }
  return record as StoredIdentity
}

/** Decodes libp2p's protobuf key bytes, or throws `IdentityCorruptError` */
export function keyFromBytes (bytes: Uint8Array): PrivateKey {
  let key: PrivateKey
  try {
    key = privateKeyFromProtobuf(bytes)
  } catch (err: any) {
    throw new IdentityCorruptError(`stored identity's privateKey cannot be decoded: ${err.message}`, { cause: err })
  }
  if (key.type !== 'Ed25519') {
    throw new IdentityCorruptError(`stored identity's privateKey is ${key.type}, not Ed25519`)
  }
  return key
}

/**
 * Decodes a stored value (unsealing it with the passphrase or device key when it is sealed), or throws
 * `IdentityCorruptError` / `IdentityLockedError` saying what is wrong
 */
export async function decodeIdentity (value: unknown, unlock: { passphrase?: string, deviceKey?: CryptoKey } = {}): Promise<PrivateKey> {
  const record = checkIdentity(value)
  return keyFromBytes('sealed' in record ? await unseal(record.sealed, unlock) : record.privateKey)
}

export interface LoadIdentityOptions {
  name: string
  whenInUse: IdentityInUsePolicy
  protect?: Protection
  signal?: AbortSignal
}

/** Loads the identity asked for; with `'indexeddb'` holds a Web Lock so no other tab runs with the same key */
export async function loadIdentity (option: IdentityOption, options: LoadIdentityOptions): Promise<Identity> {
  if (option === 'memory') {
    return { privateKey: await generateKeyPair('Ed25519'), source: 'memory', release () {} }
  }
  if (option !== 'indexeddb') {
    return { privateKey: option, source: 'provided', release () {} }
  }

  const release = await acquireLock(options.name, options.whenInUse, options.signal)
  if (release == null) {
    // another tab runs with the stored key: this one gets its own, for this page's lifetime only
    return { privateKey: await generateKeyPair('Ed25519'), source: 'ephemeral', release () {} }
  }

  try {
    const store = identityStore()
    const stored = await readRecord(store, options.name)
    if (stored === undefined) {
      const privateKey = await generateKeyPair('Ed25519')
      await writeIdentity(store, options.name, privateKey, options.protect)
      return { privateKey, source: 'indexeddb', release }
    }
    const record = checkIdentity(stored)
    const deviceKey = await readDeviceKey(store, options.name)
    const privateKey = await decodeIdentity(record, { deviceKey, passphrase: passphraseOf(options.protect) })
    // asked for a different protection than the record has: re-seal the same key (never downgrade to clear text)
    const has = protectionOf(record)
    const wants = options.protect == null ? has : options.protect === 'device' ? 'device' : 'passphrase'
    if (wants !== has) await writeIdentity(store, options.name, privateKey, options.protect, record.createdAt)
    return { privateKey, source: 'indexeddb', release }
  } catch (err) {
    release()
    throw err
  }
}

/** How a stored record is protected: `'device'`, `'passphrase'` or `'none'` (in clear) */
export function protectionOf (record: StoredIdentity): 'device' | 'passphrase' | 'none' {
  return 'sealed' in record ? record.sealed.protection : 'none'
}

function passphraseOf (protect?: Protection): string | undefined {
  return typeof protect === 'object' ? protect.passphrase : undefined
}

/** Stores `key` under `name`, sealed as `protect` asks (a device key is made, or reused, in its own slot) */
export async function writeIdentity (store: UseStore, name: string, key: PrivateKey, protect?: Protection, createdAt?: number): Promise<void> {
  let by: { passphrase: string } | { deviceKey: CryptoKey } | undefined
  if (protect === 'device') {
    const deviceKey = await readDeviceKey(store, name) ?? await newDeviceKey()
    await writeDeviceKey(store, name, deviceKey)
    by = { deviceKey }
  } else if (protect != null) {
    if (typeof protect.passphrase !== 'string' || protect.passphrase.length === 0) throw new IdentityLockedError('protect.passphrase must be a non-empty string')
    by = { passphrase: protect.passphrase }
  }
  await writeRecord(store, name, await encodeIdentity(key, by, createdAt))
}
