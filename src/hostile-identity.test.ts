// Hostile identity input (issue 15, line 9, the parts Node can run; the IndexedDB parts run in real browsers in
// test-e2e/hostile-identity.spec.ts): exports naming absurd PBKDF2 iteration counts are refused before any work.
import { generateKeyPair } from '@libp2p/crypto/keys'
import { describe, expect, it } from 'vitest'
import { encodeIdentity, decodeIdentity } from './identity.ts'
import { decodeExport, exportIdentity } from './identity-export.ts'
import { PBKDF2_ITERATIONS, PBKDF2_ITERATION_LIMITS } from './protection.ts'

describe('PBKDF2 iteration counts', () => {
  for (const iterations of [0, 1, -1, 99_999, 10_000_001, 2 ** 32 - 1, 1.5, '600000', null]) {
    it(`refuses an export naming ${JSON.stringify(iterations)} iterations before deriving anything`, async () => {
      const file = JSON.parse(await exportIdentity(await generateKeyPair('Ed25519'), 'pass'))
      const text = JSON.stringify({ ...file, kdf: { ...file.kdf, iterations } })
      await expect(decodeExport(text, 'pass')).rejects.toMatchObject({ name: 'IdentityCorruptError', field: 'kdf.iterations', message: expect.stringContaining('kdf.iterations') })
    })
  }

  it('accepts the bounds themselves', async () => {
    const key = await generateKeyPair('Ed25519')
    const file = JSON.parse(await exportIdentity(key, 'pass'))
    expect(PBKDF2_ITERATION_LIMITS.min).toBeLessThanOrEqual(PBKDF2_ITERATIONS)
    expect(PBKDF2_ITERATION_LIMITS.max).toBeGreaterThanOrEqual(PBKDF2_ITERATIONS)
    // the real count: other counts would fail to unseal (the key was derived with 600,000), but pass the bounds check
    for (const iterations of [PBKDF2_ITERATION_LIMITS.min, PBKDF2_ITERATION_LIMITS.max]) {
      const text = JSON.stringify({ ...file, kdf: { ...file.kdf, iterations } })
      await expect(decodeExport(text, 'pass')).rejects.toMatchObject({ name: 'IdentityLockedError' })
    }
  }, 60_000)

  it('refuses a stored record naming an out-of-bounds count the same way', async () => {
    const stored = await encodeIdentity(await generateKeyPair('Ed25519'), { passphrase: 'pass' }) as any
    stored.sealed.kdf.iterations = 0
    await expect(decodeIdentity(stored, { passphrase: 'pass' })).rejects.toMatchObject({ name: 'IdentityCorruptError', field: 'kdf.iterations' })
  })
})
