// The identity in real IndexedDB: it survives reloads and browser restarts, two tabs never share it,
// and a stored value that cannot be decoded is reported, never replaced.
import { test, expect, openPage } from './fixtures.ts'
import { startPeer, startPeerError } from './peer-page.ts'
import type { Page } from '@playwright/test'

/** Reads (or with `value`, first writes) the raw IndexedDB entry Peerlane keeps its identity under */
async function rawIdentity (page: Page, value?: unknown, name = 'default'): Promise<unknown> {
  return await page.evaluate(async ({ value, name }) => {
    const db = await new Promise<IDBDatabase>((resolve, reject) => {
      const open = indexedDB.open('peerlane')
      open.onupgradeneeded = () => open.result.createObjectStore('identity')
      open.onsuccess = () => { resolve(open.result) }
      open.onerror = () => { reject(open.error) }
    })
    const tx = db.transaction('identity', value === undefined ? 'readonly' : 'readwrite')
    const store = tx.objectStore('identity')
    if (value !== undefined) store.put(value, name)
    const read = store.get(name)
    const result = await new Promise(resolve => { read.onsuccess = () => { resolve(read.result) } })
    db.close()
    return result
  }, { value, name })
}

test('the identity survives a reload and a browser restart, and a second tab gets its own', async ({ relay, launchPersistent, pageUrl }, testInfo) => {
  const profile = testInfo.outputPath('profile')
  let context = await launchPersistent('chromium', profile)
  const first = await openPage(context, pageUrl)
  const original = await startPeer(first, [relay.address])
  expect(original.identity).toBe('indexeddb')

  // a second tab of the same origin, while the first runs: never the same PeerId
  const second = await openPage(context, pageUrl)
  const other = await startPeer(second, [relay.address])
  expect(other.identity).toBe('ephemeral')
  expect(other.id).not.toBe(original.id)
  expect(await startPeerError(second, { relays: [relay.address], whenIdentityInUse: 'error' }))
    .toMatchObject({ name: 'IdentityInUseError' })
  await second.close()

  // reload: the page's lock is released with the old document, and the same key comes back
  await first.reload()
  expect(await startPeer(first, [relay.address])).toMatchObject({ id: original.id, identity: 'indexeddb' })

  // browser restart on the same profile
  await context.close()
  context = await launchPersistent('chromium', profile)
  const again = await openPage(context, pageUrl)
  expect(await startPeer(again, [relay.address])).toMatchObject({ id: original.id, identity: 'indexeddb' })
})

for (const kind of ['chromium', 'firefox'] as const) {
  test(`${kind}: a corrupt stored identity is a typed error and is kept as it was`, async ({ relay, launch, pageUrl }) => {
    const page = await openPage(await launch(kind), pageUrl)
    const corrupt = { version: 1, type: 'Ed25519', privateKey: new Uint8Array([8, 1, 18, 3, 1, 2, 3]) }
    await rawIdentity(page, corrupt)

    const error = await startPeerError(page, { relays: [relay.address] })
    expect(error.name).toBe('IdentityCorruptError')
    expect(error.message).toContain('cannot be decoded')
    const kept = await rawIdentity(page) as typeof corrupt
    expect({ ...kept, privateKey: [...kept.privateKey] }).toEqual({ ...corrupt, privateKey: [...corrupt.privateKey] })

    // a value of the wrong shape altogether is reported the same way
    await rawIdentity(page, 'not an identity')
    expect(await startPeerError(page, { relays: [relay.address] })).toMatchObject({ name: 'IdentityCorruptError' })
    expect(await rawIdentity(page)).toBe('not an identity')
  })
}

test('createPeer rejects bad relay addresses with a typed error that names the value', async ({ launch, pageUrl }) => {
  const page = await openPage(await launch('chromium'), pageUrl)
  const notAMultiaddr = await startPeerError(page, { relays: ['relay.example.com:443'] })
  expect(notAMultiaddr.name).toBe('InvalidAddressError')
  expect(notAMultiaddr.message).toContain('relay.example.com:443')

  const noPeerId = await startPeerError(page, { relays: ['/ip4/127.0.0.1/tcp/9090/ws'] })
  expect(noPeerId.name).toBe('InvalidAddressError')
  expect(noPeerId.message).toContain('/ip4/127.0.0.1/tcp/9090/ws')

  expect(await startPeerError(page, { relays: [] })).toMatchObject({ name: 'InvalidConfigError' })
})

test('a protected identity: sealed at rest by a passphrase or a device key, exported and imported in another browser', async ({ relay, launch, launchPersistent, pageUrl }, testInfo) => {
  const context = await launchPersistent('chromium', testInfo.outputPath('profile'))
  let page = await openPage(context, pageUrl)
  const sealed = await startPeer(page, [relay.address], { protect: { passphrase: 'correct horse battery' } })
  const record = await rawIdentity(page) as any
  expect(record.privateKey).toBeUndefined()
  expect(record.sealed).toMatchObject({ protection: 'passphrase', kdf: { name: 'PBKDF2', hash: 'SHA-256', iterations: 600_000 } })
  const exported = await page.evaluate(async () => (window as any).peer.exportIdentity({ passphrase: 'moving day' }))

  await page.reload()
  expect(await startPeerError(page, { relays: [relay.address] })).toMatchObject({ name: 'IdentityLockedError' })
  expect(await startPeerError(page, { relays: [relay.address], protect: { passphrase: 'wrong' } })).toMatchObject({ name: 'IdentityLockedError', message: expect.stringContaining('wrong passphrase') })
  expect(JSON.stringify(await rawIdentity(page))).toBe(JSON.stringify(record))
  expect(await startPeer(page, [relay.address], { protect: { passphrase: 'correct horse battery' } })).toMatchObject({ id: sealed.id, identity: 'indexeddb' })

  // device protection: nothing to type, yet no clear key in the database
  await page.reload()
  const device = await startPeer(page, [relay.address], { identityName: 'device', protect: 'device' })
  const deviceRecord = await rawIdentity(page, undefined, 'device') as any
  expect(deviceRecord.privateKey).toBeUndefined()
  expect(deviceRecord.sealed.protection).toBe('device')
  await page.reload()
  expect(await startPeer(page, [relay.address], { identityName: 'device' })).toMatchObject({ id: device.id })

  // the export, imported into a Firefox profile, is the same peer there
  page = await openPage(await launch('firefox'), pageUrl)
  expect(await page.evaluate(async (text) => (window as any).Peerlane.importIdentity(text, { passphrase: 'moving day' }), exported)).toBe(sealed.id)
  expect(await page.evaluate(async (text) => (window as any).Peerlane.importIdentity(text, { passphrase: 'moving day' }).catch((e: any) => e.name), exported)).toBe('IdentityExistsError')
  expect(await page.evaluate(async (text) => (window as any).Peerlane.importIdentity(text, { passphrase: 'nope' }).catch((e: any) => e.name), exported)).toBe('IdentityLockedError')
  expect(await startPeer(page, [relay.address])).toMatchObject({ id: sealed.id, identity: 'indexeddb' })
})
