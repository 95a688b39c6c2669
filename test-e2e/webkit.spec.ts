// WebKit, the engine of every iPhone browser, end to end: a real WebKit page (WebKitGTK's MiniBrowser, driven
// by WebKitWebDriver under xvfb-run, see webkit.ts) loads the script-tag bundle next to Chromium and Firefox
// pages and a real relay. This WebKitGTK build has no RTCPeerConnection: the WebKit peer offers no /webrtc
// address, and every link to it is a relayed circuit.
import { test as base, expect, openPage } from './fixtures.ts'
import { asPlaywrightPage, webkitSupport, WebKitDriver } from './webkit.ts'
import { joinRoom, request, send, startPeer, waitForMessage, waitForRoomPeers } from './peer-page.ts'
import type { WebKitPage } from './webkit.ts'
import type { Page } from '@playwright/test'

const test = base.extend<{ webkit: (url: string) => Promise<WebKitPage> }>({
  // a WebKitWebDriver and its MiniBrowser per page; the whole process group is stopped after the test
  webkit: async ({}, use, testInfo) => {
    const drivers: WebKitDriver[] = []
    const pages: WebKitPage[] = []
    await use(async url => {
      const driver = await WebKitDriver.start()
      drivers.push(driver)
      const page = await driver.open(url)
      pages.push(page)
      return page
    })
    await Promise.allSettled(drivers.map(async d => await d.stop()))
    // as openPage prints Playwright's page errors
    for (const page of pages) for (const error of await page.errors()) console.error(`[webkit page error] ${error}`)
    if (testInfo.status !== testInfo.expectedStatus) {
      for (const [i, d] of drivers.entries()) await testInfo.attach(`webkit-${i + 1}.log`, { body: d.output, contentType: 'text/plain' })
    }
  }
})

test.beforeAll(async ({}, testInfo) => {
  // may install webkit2gtk-driver and xvfb (one apt-get run) the first time
  testInfo.setTimeout(660_000)
  const reason = await webkitSupport()
  // where WebKit must run (a CI that installed it), a driver that will not start fails instead of skipping
  if (reason != null && process.env.PEERLANE_REQUIRE_WEBKIT != null) throw new Error(reason)
  if (reason != null) console.log(`WebKit tests skipped: ${reason}`)
  test.skip(reason != null, reason)
})

/** The routes of the page's links to `peerId` (peer.stats) */
async function routes (page: Page, peerId: string): Promise<string[]> {
  return await page.evaluate(async (peerId) => ((await (window as any).peer.stats(peerId)) as any[]).map(s => s.route), peerId)
}

async function relayReservations (httpUrl: string): Promise<number> {
  return (await (await fetch(`${httpUrl}/health`)).json()).reservations
}

test('a WebKit page loads the script-tag bundle, reserves on the relay with an IndexedDB identity that survives a reload, and offers no /webrtc address', async ({ relay, pageUrl, webkit }) => {
  const wk = await webkit(pageUrl)
  const page = asPlaywrightPage(wk)
  const relayId = relay.address.split('/').pop() as string

  // what this WebKit has (and lacks)
  const engine = await wk.evaluate(() => ({
    agent: navigator.userAgent,
    secure: isSecureContext,
    sdk: typeof (window as any).Peerlane?.createPeer,
    rtc: typeof (globalThis as any).RTCPeerConnection,
    indexedDB: typeof indexedDB,
    locks: typeof navigator.locks?.request
  }))
  console.log(`WebKit: ${engine.agent}; RTCPeerConnection: ${engine.rtc}`)
  expect(engine).toMatchObject({ secure: true, sdk: 'function', indexedDB: 'object', locks: 'function' })
  expect(engine.agent).toContain('AppleWebKit')

  const first = await startPeer(page, [relay.address])
  expect(first.id).toMatch(/^12D3KooW/)
  expect(first.identity).toBe('indexeddb')
  expect(first.addresses).toContain(`${relay.address}/p2p-circuit/p2p/${first.id}`)
  // only what it can answer: relayed circuits, no /webrtc (not even /p2p-circuit/webrtc) while RTCPeerConnection is missing
  if (engine.rtc !== 'function') expect(first.addresses.filter(a => a.includes('/webrtc'))).toEqual([])
  expect(await page.evaluate(() => (window as any).peer.relays)).toEqual([{ peerId: relayId, address: relay.address, connected: true, reserved: true }])
  expect(await relayReservations(relay.httpUrl)).toBe(1)

  // a reload (the tab's identity lock goes with the old document): the same PeerId from IndexedDB, reserved again
  await wk.reload()
  const again = await startPeer(page, [relay.address])
  expect(again.id).toBe(first.id)
  expect(again.identity).toBe('indexeddb')
  expect(await page.evaluate(() => (window as any).peer.relays)).toEqual([{ peerId: relayId, address: relay.address, connected: true, reserved: true }])
  if (engine.rtc !== 'function') expect(again.addresses.filter(a => a.includes('/webrtc'))).toEqual([])
  // the old document's connection is gone: one reservation, the new page's
  await expect.poll(async () => await relayReservations(relay.httpUrl), { timeout: 15_000 }).toBe(1)

  // a device-sealed identity (a non-extractable CryptoKey kept in IndexedDB) opens again too
  const sealed = async (): Promise<string> => await wk.evaluate(async (relay) => {
    const peer = await (window as any).Peerlane.createPeer({ relays: [relay], identityName: 'sealed', protect: 'device' })
    await peer.stop()
    return `${peer.identity as string} ${peer.id as string}`
  }, relay.address)
  const sealedFirst = await sealed()
  expect(sealedFirst).toMatch(/^indexeddb 12D3KooW/)
  expect(await sealed()).toBe(sealedFirst)
})

test('WebKit shares a room and requests with Chromium and Firefox, over the relay', async ({ relay, launch, pageUrl, webkit }) => {
  const [chrome, fox] = await Promise.all([launch('chromium'), launch('firefox')])
  const [wk, pc, pf] = await Promise.all([webkit(pageUrl), openPage(chrome, pageUrl), openPage(fox, pageUrl)])
  const pw = asPlaywrightPage(wk)
  const [W, C, F] = await Promise.all([pw, pc, pf].map(async page => await startPeer(page, [relay.address])))
  const webrtc = await wk.evaluate(() => typeof (globalThis as any).RTCPeerConnection === 'function')

  // a room of three: nobody dials anybody, and everyone lists everyone (the others list WebKit too)
  await Promise.all([pw, pc, pf].map(async page => await joinRoom(page, 'mixed')))
  await waitForRoomPeers(pw, 'mixed', [C.id, F.id], 30_000)
  await waitForRoomPeers(pc, 'mixed', [W.id, F.id], 30_000)
  await waitForRoomPeers(pf, 'mixed', [W.id, C.id], 30_000)

  // messages both ways between WebKit and each of the others, each with the right sender
  await send(pw, 'mixed', 'hello from webkit')
  await send(pc, 'mixed', 'hello from chromium')
  await send(pf, 'mixed', 'hello from firefox')
  for (const page of [pc, pf]) expect((await waitForMessage(page, 'mixed', 'hello from webkit', 30_000)).from).toBe(W.id)
  expect((await waitForMessage(pw, 'mixed', 'hello from chromium', 30_000)).from).toBe(C.id)
  expect((await waitForMessage(pw, 'mixed', 'hello from firefox', 30_000)).from).toBe(F.id)

  // requests: Chromium → a handler on the WebKit page, WebKit → a handler on Firefox
  await pw.evaluate(async () => {
    await (window as any).peer.handle('/test/echo/1.0.0', (data: Uint8Array, { from }: { from: string }) => `webkit echoes ${new TextDecoder().decode(data)} for ${from.slice(-6)}`)
  })
  await pf.evaluate(async () => {
    await (window as any).peer.handle('/test/echo/1.0.0', (data: Uint8Array, { from }: { from: string }) => `firefox echoes ${new TextDecoder().decode(data)} for ${from.slice(-6)}`)
  })
  expect(await request(pc, W.id, '/test/echo/1.0.0', 'hi')).toEqual({ text: `webkit echoes hi for ${C.id.slice(-6)}` })
  expect(await request(pw, F.id, '/test/echo/1.0.0', 'hey')).toEqual({ text: `firefox echoes hey for ${W.id.slice(-6)}` })

  // without WebRTC in WebKit, the others fall back to the relay for it, and it for them
  if (!webrtc) {
    expect(await routes(pc, W.id)).toEqual(['relayed'])
    expect(await routes(pf, W.id)).toEqual(['relayed'])
    expect(await routes(pw, F.id)).toEqual(['relayed'])
    expect(await routes(pw, C.id)).toEqual(['relayed'])
  }
})
