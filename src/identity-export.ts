// Moving an identity between browsers: a JSON text sealed with a passphrase (exportIdentity), read back and
// stored by importIdentity, which keeps whatever protection the identity it replaces had.
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { fromString, toString } from 'uint8arrays'
import { IdentityCorruptError, IdentityExistsError, InvalidConfigError } from './errors.ts'
import { checkIdentity, encodeIdentity, keyFromBytes, protectionOf, writeIdentity } from './identity.ts'
import { acquireLock, identityStore, readRecord } from './identity-store.ts'
import { checkIterations, unseal } from './protection.ts'
import type { Protection } from './identity.ts'
import type { SealedKey } from './protection.ts'
import type { PrivateKey } from '@libp2p/interface'

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
  // before any work: 2^32-1 iterations would hold the page for an hour, 0 makes WebCrypto throw a bare OperationError
  checkIterations(file.kdf.iterations)
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
  /**
   * How to protect it at rest here: `'device'`, `{ passphrase }`, or `false` for clear text. Unset, it gets the
   * protection of the identity it replaces: a device-sealed one's is kept, a passphrase-sealed one needs
   * `protect` (`InvalidConfigError`, field `protect`), and with nothing to replace it is stored in clear, as
   * `createPeer` stores new identities.
   *
   * @default the replaced identity's protection, or clear text
   */
  protect?: Protection | false
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
    const existing = await readRecord(store, name)
    if (existing !== undefined && options.replace !== true) {
      throw new IdentityExistsError(`an identity is stored as "${name}" already: pass replace: true to overwrite it (export it first to keep it)`)
    }
    await writeIdentity(store, name, key, importProtection(name, existing, options.protect))
    return peerIdFromPrivateKey(key).toString()
  } finally {
    release?.()
  }
}

/** What an import seals with: what was asked for, else what the replaced record had (never clear text by default) */
function importProtection (name: string, existing: unknown, protect: Protection | false | undefined): Protection | undefined {
  if (protect === false) return undefined
  if (protect != null) return protect
  let has: ReturnType<typeof protectionOf> = 'none'
  try {
    if (existing !== undefined) has = protectionOf(checkIdentity(existing))
  } catch {
    // a corrupt record being replaced has no protection to keep
  }
  if (has === 'passphrase') {
    throw new InvalidConfigError('protect', `the identity stored as "${name}" is sealed by a passphrase: pass protect: { passphrase } to seal the imported one too, or protect: false to store it in clear`)
  }
  return has === 'device' ? 'device' : undefined
}
