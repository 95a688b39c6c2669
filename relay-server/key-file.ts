import { readFile, writeFile } from 'node:fs/promises'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
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
 * (mode 0600) when no file exists. Never overwrites an existing file.
 */
export async function loadOrCreateKey (path: string): Promise<{ key: PrivateKey, created: boolean }> {
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
  try {
    return { key: privateKeyFromProtobuf(bytes), created: false }
  } catch (err: any) {
    throw new RelayKeyError(path, `is not a libp2p private key (${bytes.byteLength} bytes; ${err.message}). Move it away to let the relay create a new key, which changes its PeerId`, { cause: err })
  }
}
