// Hostile identity input in a real browser with real IndexedDB (issue 15, line 9): exports naming absurd PBKDF2
// iteration counts, an identity named after another one's device key, and an import that replaces a sealed
// identity. Each must leave what is stored as it was, or as sealed as it was.
import { test, expect, openPage } from './fixtures.ts'
import { startPeer } from './peer-page.ts'
import type { Page } from '@playwright/test'

/** Runs `body(store)` on Peerlane's raw IndexedDB object store; resolves to what its last request read */
type RawOp = { get?: IDBValidKey, put?: [IDBValidKey, 'from', IDBValidKey], delete?: IDBValidKey }

async function raw (page: Page, op: RawOp): Promise<unknown> {
  // IDBValidKey is recursive: Playwright's serializable-argument type check would not end on it
  return await page.evaluate(async (op: RawOp) => {
    const db = await new Promise<IDBDatabase>((resolve, reject) => {
      const open = indexedDB.open('peerlane')
      open.onupgradeneeded = () => open.result.createObjectStore('identity')
      open.onsuccess = () => { resolve(open.result) }
      open.onerror = () => { reject(open.error) }
    })
    const store = db.transaction('identity', 'readwrite').objectStore('identity')
    const read = async (key: IDBValidKey): Promise<unknown> => await new Promise(resolve => { const r = store.get(key); r.onsuccess = () => { resolve(r.result) } })
    let result: unknown
    if (op.put != null) store.put(await read(op.put[2]), op.put[0])
    if (op.delete != null) store.delete(op.delete)
    if (op.get != null) result = await read(op.get)
    await new Promise(resolve => { store.transaction.oncomplete = resolve })
    db.close()
    // a CryptoKey does not cross into the test: say what it is
    return result instanceof CryptoKey ? 'CryptoKey' : result
  }, op as any)
}

async function importIdentity (page: Page, text: string, options: Record<string, unknown>): Promise<{ id?: string, name?: string, field?: string, message?: string }> {
  return await page.evaluate(async ({ text, options }) => {
    try {
      return { id: await (window as any).Peerlane.importIdentity(text, options) }
    } catch (err: any) {
      return { name: err.name, field: err.field, message: err.message }
    }
  }, { text, options })
}

async function stopPeer (page: Page): Promise<void> {
  await page.evaluate(async () => { await (window as any).peer.stop() })
}

/** An export of a fresh key, made in the page */
async function exported (page: Page, passphrase: string): Promise<{ id: string, text: string }> {
  return await page.evaluate(async (passphrase) => {
    const peer = await (window as any).Peerlane.createPeer({ relays: (window as any).relays, identity: 'memory' })
    const text = await peer.exportIdentity({ passphrase })
    const id = peer.id
    await peer.stop()
    return { id, text }
  }, passphrase)
}

test('imports naming 0, 1 or 2^32-1 PBKDF2 iterations are refused at once, naming the field; nothing is stored', async ({ relay, launch, pageUrl }) => {
  const page = await openPage(await launch('chromium'), pageUrl)
  await page.evaluate((relays) => { (window as any).relays = relays }, [relay.address])
  const file = JSON.parse((await exported(page, 'moving day')).text)
  for (const iterations of [0, 1, -1, 2 ** 32 - 1]) {
    const text = JSON.stringify({ ...file, kdf: { ...file.kdf, iterations } })
    // 2^32-1 iterations would take over an hour if they were run: a refusal here is a refusal before any work
    expect(await importIdentity(page, text, { passphrase: 'moving day', name: `n${iterations}` }))
      .toMatchObject({ name: 'IdentityCorruptError', field: 'kdf.iterations', message: expect.stringContaining(String(iterations)) })
    expect(await raw(page, { get: `n${iterations}` })).toBeUndefined()
  }
  // the real count still imports
  expect(await importIdentity(page, JSON.stringify(file), { passphrase: 'moving day', name: 'fine' })).toMatchObject({ id: file.peerId })
})

test('an identity named "<name>#device-key" cannot reach the device key of <name>; 0.1 device keys move to their own slot', async ({ relay, launch, pageUrl }) => {
  const page = await openPage(await launch('chromium'), pageUrl)
  const sealed = await startPeer(page, [relay.address], { identityName: 'x', protect: 'device' })
  await stopPeer(page)
  expect(await raw(page, { get: ['device-key', 'x'] })).toBe('CryptoKey')

  // an identity of that name, created and imported over: x's device key is untouched
  const squatter = await startPeer(page, [relay.address], { identityName: 'x#device-key' })
  expect(squatter.id).not.toBe(sealed.id)
  await stopPeer(page)
  await page.evaluate((relays) => { (window as any).relays = relays }, [relay.address])
  const other = await exported(page, 'p')
  expect(await importIdentity(page, other.text, { passphrase: 'p', name: 'x#device-key', replace: true })).toMatchObject({ id: other.id })
  await page.reload()
  expect(await startPeer(page, [relay.address], { identityName: 'x' })).toMatchObject({ id: sealed.id, identity: 'indexeddb' })
  await stopPeer(page)
  expect(await startPeer(page, [relay.address], { identityName: 'x#device-key' })).toMatchObject({ id: other.id })
  await stopPeer(page)

  // the 0.1 layout (the device key of "old" under the string "old#device-key") loads, and is moved
  const old = await startPeer(page, [relay.address], { identityName: 'old', protect: 'device' })
  await stopPeer(page)
  await raw(page, { put: ['old#device-key', 'from', ['device-key', 'old']], delete: ['device-key', 'old'] })
  expect(await raw(page, { get: 'old#device-key' })).toBe('CryptoKey')
  await page.reload()
  expect(await startPeer(page, [relay.address], { identityName: 'old' })).toMatchObject({ id: old.id })
  expect(await raw(page, { get: ['device-key', 'old'] })).toBe('CryptoKey')
  expect(await raw(page, { get: 'old#device-key' })).toBeUndefined()
})

test('an import that replaces a sealed identity keeps it sealed unless clear text is asked for', async ({ relay, launch, pageUrl }) => {
  const page = await openPage(await launch('chromium'), pageUrl)
  await page.evaluate((relays) => { (window as any).relays = relays }, [relay.address])
  const incoming = await exported(page, 'moving day')

  // device-sealed: the imported key is sealed by the same device key
  await startPeer(page, [relay.address], { identityName: 'device', protect: 'device' })
  await stopPeer(page)
  expect(await importIdentity(page, incoming.text, { passphrase: 'moving day', name: 'device', replace: true })).toMatchObject({ id: incoming.id })
  const record = await raw(page, { get: 'device' }) as any
  expect(record.privateKey).toBeUndefined()
  expect(record.sealed.protection).toBe('device')
  expect(await startPeer(page, [relay.address], { identityName: 'device' })).toMatchObject({ id: incoming.id })
  await stopPeer(page)

  // passphrase-sealed: Peerlane cannot know the passphrase, so it asks, and leaves the record as it was
  await startPeer(page, [relay.address], { identityName: 'secret', protect: { passphrase: 'correct horse' } })
  await stopPeer(page)
  const before = JSON.stringify(await raw(page, { get: 'secret' }))
  expect(await importIdentity(page, incoming.text, { passphrase: 'moving day', name: 'secret', replace: true }))
    .toMatchObject({ name: 'InvalidConfigError', field: 'protect' })
  expect(JSON.stringify(await raw(page, { get: 'secret' }))).toBe(before)
  expect(await importIdentity(page, incoming.text, { passphrase: 'moving day', name: 'secret', replace: true, protect: { passphrase: 'new horse' } })).toMatchObject({ id: incoming.id })
  expect((await raw(page, { get: 'secret' }) as any).sealed.protection).toBe('passphrase')

  // clear text only when asked for
  expect(await importIdentity(page, incoming.text, { passphrase: 'moving day', name: 'secret', replace: true, protect: false })).toMatchObject({ id: incoming.id })
  expect((await raw(page, { get: 'secret' }) as any).privateKey).toBeDefined()
})
