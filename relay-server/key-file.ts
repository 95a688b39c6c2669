import { readFile, stat, writeFile } from 'node:fs/promises'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import type { RelayLogger } from './log.ts'
import type { PrivateKey } from '@libp2p/interface'

/** The key file cannot be read or decoded; it was left exactly as it was */
export class RelayKeyError extends Error {
  static name = 'RelayKeyError'
  readonly path: string
  constructor (path: string, message: string, options?: ErrorOptions) {
    super(`key file ${path}: ${message}`, options)
    this.name = 'RelayKeyError'
    this.path = path
  }
}

/**
 * Loads the relay's key from `path` (libp2p protobuf bytes), or creates an Ed25519 key there
 * (mode 0600) when no file exists. Never overwrites an existing file. The key is the relay's identity:
 * whoever reads it can pose as the relay, so an existing file readable by every user is refused (as
 * `--turn-secret-file` is), and one readable by its group is loaded with a warning on `log`.
 */
export async function loadOrCreateKey (path: string, log?: RelayLogger): Promise<{ key: PrivateKey, created: boolean }> {
  let bytes: Uint8Array
  try {
    bytes = await readFile(path)
  } catch (err: any) {
    if (err.code !== 'ENOENT') {
      throw new RelayKeyError(path, `cannot be read (${err.code ?? err.message})`, { cause: err })
    }
    const key = await generateKeyPair('Ed25519')
    try {
      // 'wx': fail rather than overwrite if another process created it meanwhile
      await writeFile(path, privateKeyToProtobuf(key), { mode: 0o600, flag: 'wx' })
    } catch (err: any) {
      throw new RelayKeyError(path, `cannot be created (${err.code ?? err.message})`, { cause: err })
    }
    return { key, created: true }
  }
  // Windows has no such modes (Node reports 0o666 for every file)
  const mode = process.platform === 'win32' ? 0o600 : (await stat(path)).mode & 0o777
  if ((mode & 0o004) !== 0) throw new RelayKeyError(path, `is readable by every user (mode ${mode.toString(8)}): chmod 600 it`)
  if ((mode & 0o040) !== 0) log?.warn('key-file:group-readable', { path, mode: mode.toString(8), message: 'the relay\'s key is readable by the file\'s group: chmod 600 it unless that is meant' })
  try {
    return { key: privateKeyFromProtobuf(bytes), created: false }
  } catch (err: any) {
    throw new RelayKeyError(path, `is not a libp2p private key (${bytes.byteLength} bytes; ${err.message}). Move it away to let the relay create a new key, which changes its PeerId`, { cause: err })
  }
}
