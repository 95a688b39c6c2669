// Where identities live: the IndexedDB object store, the device keys beside them, and the Web Lock that keeps
// two tabs off one identity. identity.ts and identity-export.ts decide what to store; this file only stores it.
import { createStore, get, promisifyRequest, set } from 'idb-keyval'
import { IdentityCorruptError, IdentityInUseError, IdentityUnavailableError } from './errors.ts'
import type { UseStore } from 'idb-keyval'

/** The IndexedDB database and object store that hold identities */
export const IDENTITY_DB = 'peerlane'
export const IDENTITY_STORE = 'identity'

/**
 * The key the device key of identity `name` is stored under: an array, which no identity name (a string) can
 * be, so that no name reaches another identity's device key.
 */
export const deviceKeySlot = (name: string): [string, string] => ['device-key', name]

/** Where Peerlane 0.1 kept the device key of `name` (a string key, which the identity named so overwrote) */
const LEGACY_SUFFIX = '#device-key'

/** What the policy of `acquireLock` says to do when another tab holds the identity */
export type LockPolicy = 'ephemeral' | 'wait' | 'error'

export function identityStore (): UseStore {
  if (typeof indexedDB === 'undefined') {
    throw new IdentityUnavailableError("identity: 'indexeddb' needs IndexedDB, which this environment does not have; use identity: 'memory' or pass a PrivateKey")
  }
  return createStore(IDENTITY_DB, IDENTITY_STORE)
}

/** Runs an IndexedDB call, turning its failures (quota, private mode, blocked) into `IdentityUnavailableError` */
export async function idb<T> (fn: () => Promise<T>, what: 'read' | 'write'): Promise<T> {
  try {
    return await fn()
  } catch (err: any) {
    throw new IdentityUnavailableError(`IndexedDB could not be ${what === 'read' ? 'read' : 'written'} (${err?.name ?? 'Error'}: ${err?.message})`, { cause: err })
  }
}

/**
 * The value stored under identity `name`, or undefined. A 0.1 device key found there (the name ends in
 * `#device-key`) is moved to its own slot first, so the name is free for an identity of that name.
 */
export async function readRecord (store: UseStore, name: string): Promise<unknown> {
  const value = await idb(async () => get(name, store), 'read')
  if (!isCryptoKey(value) || !name.endsWith(LEGACY_SUFFIX)) return value
  const owner = name.slice(0, -LEGACY_SUFFIX.length)
  await readDeviceKey(store, owner) // moves it, unless "owner" has a device key in its slot already
  const after = await idb(async () => get(name, store), 'read')
  if (isCryptoKey(after)) {
    throw new IdentityCorruptError(`"${name}" holds a device key of an older Peerlane while identity "${owner}" has another one; it was left untouched`)
  }
  return after
}

/** The device key of identity `name`, moving a 0.1 one (`<name>#device-key`) into its own slot on the way */
export async function readDeviceKey (store: UseStore, name: string): Promise<CryptoKey | undefined> {
  const current = await idb(async () => get(deviceKeySlot(name), store), 'read')
  if (current !== undefined) return current as CryptoKey
  const legacy = await idb(async () => get(name + LEGACY_SUFFIX, store), 'read')
  if (!isCryptoKey(legacy)) return undefined
  // one transaction: the key is in one place or the other, never lost
  await idb(async () => await store('readwrite', s => {
    s.put(legacy, deviceKeySlot(name))
    s.delete(name + LEGACY_SUFFIX)
    return promisifyRequest(s.transaction)
  }), 'write')
  return legacy
}

export async function writeDeviceKey (store: UseStore, name: string, key: CryptoKey): Promise<void> {
  await idb(async () => set(deviceKeySlot(name), key, store), 'write')
}

export async function writeRecord (store: UseStore, name: string, value: unknown): Promise<void> {
  await idb(async () => set(name, value, store), 'write')
}

function isCryptoKey (value: unknown): value is CryptoKey {
  return typeof CryptoKey === 'function' && value instanceof CryptoKey
}

/**
 * Takes the tab-exclusive Web Lock of identity `name`. Resolves to its release function, or to undefined
 * when another tab holds it and the policy is 'ephemeral'.
 */
export async function acquireLock (name: string, policy: LockPolicy, signal?: AbortSignal): Promise<(() => void) | undefined> {
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
