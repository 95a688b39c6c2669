import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { createStore, get, set } from 'idb-keyval'
import { fromString, toString } from 'uint8arrays'
import { IdentityCorruptError, InvalidConfigError, IdentityExistsError, IdentityInUseError, IdentityLockedError, IdentityUnavailableError } from './errors.ts'
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

/** The IndexedDB database and object store that hold identities */
export const IDENTITY_DB = 'peerlane'
export const IDENTITY_STORE = 'identity'
/** the device key of identity `name` is stored beside it under this key */
const deviceKeyName = (name: string): string => `${name}#device-key`

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
function keyFromBytes (bytes: Uint8Array): PrivateKey {
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
    const stored = await idb(async () => get(options.name, store), 'read')
    if (stored === undefined) {
      const privateKey = await generateKeyPair('Ed25519')
      await write(store, options.name, privateKey, options.protect)
      return { privateKey, source: 'indexeddb', release }
    }
    const record = checkIdentity(stored)
    const deviceKey = await idb(async () => get<CryptoKey>(deviceKeyName(options.name), store), 'read')
    const privateKey = await decodeIdentity(record, { deviceKey, passphrase: passphraseOf(options.protect) })
    // asked for a different protection than the record has: re-seal the same key (never downgrade to clear text)
    const has = 'sealed' in record ? record.sealed.protection : 'none'
    const wants = options.protect == null ? has : options.protect === 'device' ? 'device' : 'passphrase'
    if (wants !== has) await write(store, options.name, privateKey, options.protect, record.createdAt)
    return { privateKey, source: 'indexeddb', release }
  } catch (err) {
    release()
    throw err
  }
}

/**
 * Exports a key as a JSON text sealed with `passphrase` (PBKDF2-SHA256, AES-GCM). Whoever has the text and
 * the passphrase can act as this peer: keep both safe.
 */
export async function exportIdentity (key: PrivateKey, passphrase: string): Promise<string> {
  const record = await encodeIdentity(key, { passphrase })
  const sealed = (record as { sealed: SealedKey }).sealed
  const kdf = sealed.kdf as NonNullable<SealedKey['kdf']>
  return JSON.stringify({
    format: 'peerlane-identity',
    version: 1,
    peerId: peerIdFromPrivateKey(key).toString(),
    type: 'Ed25519',
    kdf: { ...kdf, salt: toString(kdf.salt, 'base64') },
    iv: toString(sealed.iv, 'base64'),
    ciphertext: toString(sealed.ciphertext, 'base64')
  }, null, 2)
}

/** Reads an exported identity back into a key, or throws `IdentityCorruptError` / `IdentityLockedError` */
export async function decodeExport (text: string, passphrase: string): Promise<PrivateKey> {
  let file: any
  try {
    file = JSON.parse(text)
  } catch (err: any) {
    throw new IdentityCorruptError(`not a Peerlane identity export: ${err.message}`, { cause: err })
  }
  if (file?.format !== 'peerlane-identity' || file.version !== 1 || file.type !== 'Ed25519' || typeof file.kdf?.salt !== 'string') {
    throw new IdentityCorruptError('not a Peerlane identity export (format "peerlane-identity", version 1, Ed25519)')
  }
  let sealed: SealedKey
  try {
    sealed = {
      protection: 'passphrase',
      kdf: { ...file.kdf, salt: fromString(file.kdf.salt, 'base64') },
      iv: fromString(file.iv, 'base64'),
      ciphertext: fromString(file.ciphertext, 'base64')
    }
  } catch (err: any) {
    throw new IdentityCorruptError(`identity export is damaged: ${err.message}`, { cause: err })
  }
  const key = keyFromBytes(await unseal(sealed, { passphrase }))
  if (typeof file.peerId === 'string' && peerIdFromPrivateKey(key).toString() !== file.peerId) {
    throw new IdentityCorruptError(`identity export says ${file.peerId} but holds the key of ${peerIdFromPrivateKey(key).toString()}`)
  }
  return key
}

/** Options for `importIdentity` */
export interface ImportIdentityOptions {
  /** the passphrase the export was sealed with */
  passphrase: string
  /**
   * The IndexedDB entry to store it under.
   *
   * @default 'default'
   */
  name?: string
  /**
   * Replace an identity stored there already (it is lost unless exported first).
   *
   * @default false
   */
  replace?: boolean
  /** how to protect it at rest here; kept in clear (as `createPeer` makes them) when unset */
  protect?: Protection
}

/**
 * Stores an exported identity in this browser's IndexedDB, so that the next `createPeer` runs as that peer.
 * Resolves to its PeerId. Refuses (`IdentityExistsError`) to replace a stored identity unless `replace: true`,
 * and (`IdentityInUseError`) while a tab runs with the stored identity.
 */
export async function importIdentity (text: string, options: ImportIdentityOptions): Promise<string> {
  const key = await decodeExport(text, options.passphrase)
  const name = options.name ?? 'default'
  const release = await acquireLock(name, 'error')
  try {
    const store = identityStore()
    const existing = await idb(async () => get(name, store), 'read')
    if (existing !== undefined && options.replace !== true) {
      throw new IdentityExistsError(`an identity is stored as "${name}" already: pass replace: true to overwrite it (export it first to keep it)`)
    }
    await write(store, name, key, options.protect)
    return peerIdFromPrivateKey(key).toString()
  } finally {
    release?.()
  }
}

function identityStore (): UseStore {
  if (typeof indexedDB === 'undefined') {
    throw new IdentityUnavailableError("identity: 'indexeddb' needs IndexedDB, which this environment does not have; use identity: 'memory' or pass a PrivateKey")
  }
  return createStore(IDENTITY_DB, IDENTITY_STORE)
}

function passphraseOf (protect?: Protection): string | undefined {
  return typeof protect === 'object' ? protect.passphrase : undefined
}

/** Stores `key` under `name`, sealed as `protect` asks (a device key is made and stored beside it) */
async function write (store: UseStore, name: string, key: PrivateKey, protect?: Protection, createdAt?: number): Promise<void> {
  let by: { passphrase: string } | { deviceKey: CryptoKey } | undefined
  if (protect === 'device') {
    const deviceKey = await idb(async () => get<CryptoKey>(deviceKeyName(name), store), 'read') ?? await newDeviceKey()
    await idb(async () => set(deviceKeyName(name), deviceKey, store), 'write')
    by = { deviceKey }
  } else if (protect != null) {
    if (typeof protect.passphrase !== 'string' || protect.passphrase.length === 0) throw new IdentityLockedError('protect.passphrase must be a non-empty string')
    by = { passphrase: protect.passphrase }
  }
  const record = await encodeIdentity(key, by, createdAt)
  await idb(async () => set(name, record, store), 'write')
}

/** Runs an IndexedDB call, turning its failures (quota, private mode, blocked) into `IdentityUnavailableError` */
async function idb<T> (fn: () => Promise<T>, what: 'read' | 'write'): Promise<T> {
  try {
    return await fn()
  } catch (err: any) {
    throw new IdentityUnavailableError(`IndexedDB could not be ${what === 'read' ? 'read' : 'written'} (${err?.name ?? 'Error'}: ${err?.message})`, { cause: err })
  }
}

/**
 * Takes the tab-exclusive Web Lock of identity `name`. Resolves to its release function, or to undefined
 * when another tab holds it and the policy is 'ephemeral'.
 */
async function acquireLock (name: string, policy: IdentityInUsePolicy, signal?: AbortSignal): Promise<(() => void) | undefined> {
  identityStore() // no IndexedDB, no point in a lock: say so first
  if (typeof navigator === 'undefined' || navigator.locks == null) {
    // Web Locks exist in every browser with IndexedDB that Peerlane supports; without them two tabs could share a key
    throw new IdentityUnavailableError("identity: 'indexeddb' needs the Web Locks API (navigator.locks) to keep two tabs from using one identity")
  }
  return await new Promise<(() => void) | undefined>((resolve, reject) => {
    const lockOptions: LockOptions = policy === 'wait' ? { mode: 'exclusive', signal } : { mode: 'exclusive', ifAvailable: true }
    navigator.locks.request(`peerlane:identity:${name}`, lockOptions, async lock => {
      if (lock == null) {
        if (policy === 'error') {
          reject(new IdentityInUseError(`another tab of this origin is running with the stored identity "${name}"`))
        } else {
          resolve(undefined)
        }
        return
      }
      // the lock is held until this promise settles
      await new Promise<void>(_resolve => { resolve(_resolve) })
    }).catch(reject)
  })
}
