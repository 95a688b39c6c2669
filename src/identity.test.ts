import { generateKeyPair, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { describe, expect, it } from 'vitest'
import { decodeExport, decodeIdentity, encodeIdentity, exportIdentity, loadIdentity } from './identity.ts'
import { PBKDF2_ITERATIONS, newDeviceKey } from './protection.ts'

describe('identity encoding', () => {
  it('round-trips an Ed25519 key to the same PeerId', async () => {
    const key = await generateKeyPair('Ed25519')
    const stored = await encodeIdentity(key, undefined, 1234)
    expect(stored).toMatchObject({ version: 1, type: 'Ed25519', createdAt: 1234 })
    // what IndexedDB hands back is a structured clone
    const decoded = await decodeIdentity(structuredClone(stored))
    expect(peerIdFromPrivateKey(decoded).toString()).toBe(peerIdFromPrivateKey(key).toString())
  })

  it('refuses to store a non-Ed25519 key', async () => {
    const key = await generateKeyPair('secp256k1')
    await expect(encodeIdentity(key)).rejects.toThrow(/Ed25519/)
  })

  it('seals a key with a device key: no clear key bytes stored, and only that key opens it', async () => {
    const key = await generateKeyPair('Ed25519')
    const deviceKey = await newDeviceKey()
    const stored = await encodeIdentity(key, { deviceKey })
    expect(stored).not.toHaveProperty('privateKey')
    expect(stored).toMatchObject({ sealed: { protection: 'device' } })
    expect((await decodeIdentity(stored, { deviceKey })).equals(key)).toBe(true)
    await expect(decodeIdentity(stored)).rejects.toMatchObject({ name: 'IdentityLockedError' })
    await expect(decodeIdentity(stored, { deviceKey: await newDeviceKey() })).rejects.toMatchObject({ name: 'IdentityLockedError' })
  })

  it('seals a key with a passphrase (PBKDF2-SHA256, 600,000 iterations)', async () => {
    const key = await generateKeyPair('Ed25519')
    const stored = await encodeIdentity(key, { passphrase: 'correct horse' })
    expect(stored).toMatchObject({ sealed: { protection: 'passphrase', kdf: { name: 'PBKDF2', hash: 'SHA-256', iterations: PBKDF2_ITERATIONS } } })
    expect(PBKDF2_ITERATIONS).toBeGreaterThanOrEqual(600_000)
    expect((await decodeIdentity(stored, { passphrase: 'correct horse' })).equals(key)).toBe(true)
    await expect(decodeIdentity(stored, { passphrase: 'wrong' })).rejects.toMatchObject({ name: 'IdentityLockedError', message: expect.stringContaining('wrong passphrase') })
    await expect(decodeIdentity(stored)).rejects.toMatchObject({ name: 'IdentityLockedError', message: expect.stringContaining('passphrase') })
  })

  it('exports and imports a key sealed with a passphrase', async () => {
    const key = await generateKeyPair('Ed25519')
    const text = await exportIdentity(key, 'export passphrase')
    const file = JSON.parse(text)
    expect(file).toMatchObject({ format: 'peerlane-identity', version: 1, peerId: peerIdFromPrivateKey(key).toString() })
    expect(text).not.toContain(Buffer.from(key.raw).toString('base64'))
    expect((await decodeExport(text, 'export passphrase')).equals(key)).toBe(true)
    await expect(decodeExport(text, 'nope')).rejects.toMatchObject({ name: 'IdentityLockedError' })
    await expect(decodeExport('{"format":"something else"}', 'x')).rejects.toMatchObject({ name: 'IdentityCorruptError' })
    await expect(decodeExport('not json', 'x')).rejects.toMatchObject({ name: 'IdentityCorruptError' })
    const other = JSON.stringify({ ...file, peerId: '12D3KooWEyoH1kYv9S8YhHxYJiGMD3zsCdh6dPiGpqQtGsBTY31P' })
    await expect(decodeExport(other, 'export passphrase')).rejects.toMatchObject({ name: 'IdentityCorruptError', message: expect.stringContaining('holds the key of') })
  })

  const corrupt: Array<[string, unknown, RegExp]> = [
    ['null', null, /is null/],
    ['a string', 'hello', /is string/],
    ['an unknown version', { version: 2, type: 'Ed25519', privateKey: new Uint8Array(4) }, /unknown version 2/],
    ['a sealed record without ciphertext', { version: 1, type: 'Ed25519', sealed: { protection: 'device', iv: new Uint8Array(12) } }, /protection, iv or ciphertext/],
    ['a missing version', { type: 'Ed25519', privateKey: new Uint8Array(4) }, /unknown version/],
    ['another key type', { version: 1, type: 'RSA', privateKey: new Uint8Array(4) }, /key type "RSA"/],
    ['no key bytes', { version: 1, type: 'Ed25519' }, /no privateKey bytes/],
    ['key bytes as an array', { version: 1, type: 'Ed25519', privateKey: [1, 2, 3] }, /no privateKey bytes/],
    ['truncated key bytes', { version: 1, type: 'Ed25519', privateKey: new Uint8Array([8, 1, 18, 3, 1, 2, 3]) }, /cannot be decoded/],
    ['random bytes', { version: 1, type: 'Ed25519', privateKey: new Uint8Array([255, 255, 255, 255]) }, /cannot be decoded/]
  ]
  for (const [what, value, message] of corrupt) {
    it(`reports ${what} as IdentityCorruptError`, async () => {
      await expect(decodeIdentity(value)).rejects.toMatchObject({ name: 'IdentityCorruptError', message: expect.stringMatching(message) })
    })
  }

  it('reports a well-formed key of the wrong type', async () => {
    const secp = privateKeyToProtobuf(await generateKeyPair('secp256k1'))
    await expect(decodeIdentity({ version: 1, type: 'Ed25519', privateKey: secp })).rejects.toThrow(/secp256k1, not Ed25519/)
  })
})

describe('loadIdentity', () => {
  it("gives a fresh key for 'memory'", async () => {
    const a = await loadIdentity('memory', { name: 'default', whenInUse: 'ephemeral' })
    const b = await loadIdentity('memory', { name: 'default', whenInUse: 'ephemeral' })
    expect(a.source).toBe('memory')
    expect(a.privateKey.equals(b.privateKey)).toBe(false)
  })

  it('uses a key passed in', async () => {
    const key = await generateKeyPair('Ed25519')
    const identity = await loadIdentity(key, { name: 'default', whenInUse: 'ephemeral' })
    expect(identity).toMatchObject({ source: 'provided', privateKey: key })
  })

  it("says what is missing when 'indexeddb' is asked for outside a browser", async () => {
    await expect(loadIdentity('indexeddb', { name: 'default', whenInUse: 'ephemeral' }))
      .rejects.toMatchObject({ name: 'IdentityUnavailableError', message: expect.stringContaining("identity: 'memory'") })
  })
})
