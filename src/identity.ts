import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import { createStore, get, set } from 'idb-keyval'
import { IdentityCorruptError, IdentityInUseError, IdentityUnavailableError } from './errors.ts'
import type { IdentityInUsePolicy, IdentityOption } from './config.ts'
import type { PrivateKey } from '@libp2p/interface'

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

/** A loaded identity and the lock that keeps other tabs off it */
export interface Identity {
  privateKey: PrivateKey
  source: IdentitySource
  /** lets another tab take the stored identity; called by `peer.stop()` */
  release(): void
}

/** The shape of the IndexedDB value; `version` lets later formats (e.g. encrypted keys) be told apart */
export interface StoredIdentity {
  version: 1
  type: 'Ed25519'
  /** the key in libp2p's protobuf encoding */
  privateKey: Uint8Array
  createdAt: number
}

/** The IndexedDB database and object store that hold identities */
export const IDENTITY_DB = 'peerlane'
export const IDENTITY_STORE = 'identity'

/** Encodes a key for storage */
export function encodeIdentity (key: PrivateKey, now = Date.now()): StoredIdentity {
  if (key.type !== 'Ed25519') {
    throw new TypeError(`Peerlane stores Ed25519 keys, got ${key.type}`)
  }
  return { version: 1, type: 'Ed25519', privateKey: privateKeyToProtobuf(key), createdAt: now }
}

/** Decodes a stored value, or throws `IdentityCorruptError` saying what is wrong with it */
export function decodeIdentity (value: unknown): PrivateKey {
  if (value == null || typeof value !== 'object') {
    throw new IdentityCorruptError(`stored identity is ${value === null ? 'null' : typeof value}, not an identity record`)
  }
  const record = value as Partial<StoredIdentity>
  if (record.version !== 1) {
    throw new IdentityCorruptError(`stored identity has unknown version ${JSON.stringify(record.version)} (expected 1)`)
  }
  if (record.type !== 'Ed25519') {
    throw new IdentityCorruptError(`stored identity has key type ${JSON.stringify(record.type)} (expected "Ed25519")`)
  }
  if (!(record.privateKey instanceof Uint8Array)) {
    throw new IdentityCorruptError('stored identity has no privateKey bytes')
  }
  let key: PrivateKey
  try {
    key = privateKeyFromProtobuf(record.privateKey)
  } catch (err: any) {
    throw new IdentityCorruptError(`stored identity's privateKey cannot be decoded: ${err.message}`, { cause: err })
  }
  if (key.type !== 'Ed25519') {
    throw new IdentityCorruptError(`stored identity's privateKey is ${key.type}, not Ed25519`)
  }
  return key
}

export interface LoadIdentityOptions {
  name: string
  whenInUse: IdentityInUsePolicy
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

  if (typeof indexedDB === 'undefined') {
    throw new IdentityUnavailableError("identity: 'indexeddb' needs IndexedDB, which this environment does not have; use identity: 'memory' or pass a PrivateKey")
  }

  const release = await acquireLock(`peerlane:identity:${options.name}`, options.whenInUse, options.signal)
  if (release == null) {
    // another tab runs with the stored key: this one gets its own, for this page's lifetime only
    return { privateKey: await generateKeyPair('Ed25519'), source: 'ephemeral', release () {} }
  }

  try {
    const store = createStore(IDENTITY_DB, IDENTITY_STORE)
    let stored: unknown
    try {
      stored = await get(options.name, store)
    } catch (err: any) {
      throw new IdentityUnavailableError(`IndexedDB could not be read (${err?.name ?? 'Error'}: ${err?.message})`, { cause: err })
    }
    if (stored !== undefined) {
      return { privateKey: decodeIdentity(stored), source: 'indexeddb', release }
    }
    const privateKey = await generateKeyPair('Ed25519')
    try {
      await set(options.name, encodeIdentity(privateKey), store)
    } catch (err: any) {
      throw new IdentityUnavailableError(`IndexedDB could not be written (${err?.name ?? 'Error'}: ${err?.message})`, { cause: err })
    }
    return { privateKey, source: 'indexeddb', release }
  } catch (err) {
    release()
    throw err
  }
}

/**
 * Takes the tab-exclusive Web Lock `name`. Resolves to its release function, or to undefined when
 * another tab holds it and the policy is 'ephemeral'.
 */
async function acquireLock (name: string, policy: IdentityInUsePolicy, signal?: AbortSignal): Promise<(() => void) | undefined> {
  if (typeof navigator === 'undefined' || navigator.locks == null) {
    // Web Locks exist in every browser with IndexedDB that Peerlane supports; without them two tabs could share a key
    throw new IdentityUnavailableError("identity: 'indexeddb' needs the Web Locks API (navigator.locks) to keep two tabs from using one identity")
  }
  return await new Promise<(() => void) | undefined>((resolve, reject) => {
    const lockOptions: LockOptions = policy === 'wait' ? { mode: 'exclusive', signal } : { mode: 'exclusive', ifAvailable: true }
    navigator.locks.request(name, lockOptions, async lock => {
      if (lock == null) {
        if (policy === 'error') {
          reject(new IdentityInUseError(`another tab of this origin is running with the stored identity "${name.slice('peerlane:identity:'.length)}"`))
        } else {
          resolve(undefined)
        }
        return
      }
      // the lock is held until this promise settles
      await new Promise<void>(release => { resolve(release) })
    }).catch(reject)
  })
}
