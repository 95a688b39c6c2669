import { generateKeyPair, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { describe, expect, it } from 'vitest'
import { decodeIdentity, encodeIdentity, loadIdentity } from './identity.ts'

describe('identity encoding', () => {
  it('round-trips an Ed25519 key to the same PeerId', async () => {
    const key = await generateKeyPair('Ed25519')
    const stored = encodeIdentity(key, 1234)
    expect(stored).toMatchObject({ version: 1, type: 'Ed25519', createdAt: 1234 })
    // what IndexedDB hands back is a structured clone
    const decoded = decodeIdentity(structuredClone(stored))
    expect(peerIdFromPrivateKey(decoded).toString()).toBe(peerIdFromPrivateKey(key).toString())
  })

  it('refuses to store a non-Ed25519 key', async () => {
    const key = await generateKeyPair('secp256k1')
    expect(() => encodeIdentity(key)).toThrow(/Ed25519/)
  })

  const corrupt: Array<[string, unknown, RegExp]> = [
    ['null', null, /is null/],
    ['a string', 'hello', /is string/],
    ['an unknown version', { version: 2, type: 'Ed25519', privateKey: new Uint8Array(4) }, /unknown version 2/],
    ['a missing version', { type: 'Ed25519', privateKey: new Uint8Array(4) }, /unknown version/],
    ['another key type', { version: 1, type: 'RSA', privateKey: new Uint8Array(4) }, /key type "RSA"/],
    ['no key bytes', { version: 1, type: 'Ed25519' }, /no privateKey bytes/],
    ['key bytes as an array', { version: 1, type: 'Ed25519', privateKey: [1, 2, 3] }, /no privateKey bytes/],
    ['truncated key bytes', { version: 1, type: 'Ed25519', privateKey: new Uint8Array([8, 1, 18, 3, 1, 2, 3]) }, /cannot be decoded/],
    ['random bytes', { version: 1, type: 'Ed25519', privateKey: new Uint8Array([255, 255, 255, 255]) }, /cannot be decoded/]
  ]
  for (const [what, value, message] of corrupt) {
    it(`reports ${what} as IdentityCorruptError`, () => {
      try {
        decodeIdentity(value)
        expect.unreachable('decodeIdentity accepted a corrupt value')
      } catch (err: any) {
        expect(err.name).toBe('IdentityCorruptError')
        expect(err.message).toMatch(message)
      }
    })
  }

  it('reports a well-formed key of the wrong type', async () => {
    const secp = privateKeyToProtobuf(await generateKeyPair('secp256k1'))
    expect(() => decodeIdentity({ version: 1, type: 'Ed25519', privateKey: secp })).toThrow(/secp256k1, not Ed25519/)
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
