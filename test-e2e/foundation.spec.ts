// The foundation, end to end: a real relay process, two Chromium processes and one Firefox ESR,
// each page loading dist/peerlane.min.js with a plain <script> tag.
import { test, expect, openPage } from './fixtures.ts'
import { connections, events, joinRoom, request, send, startPeer, waitForMessage, waitForRoomPeers } from './peer-page.ts'
import type { Page } from '@playwright/test'

/** Whether the page's libp2p node holds an unlimited WebRTC connection to `peerId` (the issue's own test of "direct") */
async function hasDirectWebRTC (page: Page, peerId: string): Promise<boolean> {
  return await page.evaluate((peerId) => (window as any).peer.libp2p.getConnections()
    .some((c: any) => c.remotePeer.toString() === peerId && c.limits == null && /\/webrtc(\/|$)/.test(c.remoteAddr.toString()) && !/\/webrtc-direct/.test(c.remoteAddr.toString())), peerId)
}

test('three browsers reserve on the relay, link directly by bare PeerId, and share a room and requests', async ({ relay, launch, pageUrl }) => {
  const [chromeA, chromeB, fox] = await Promise.all([launch('chromium'), launch('chromium'), launch('firefox')])
  const [pa, pb, pc] = await Promise.all([openPage(chromeA, pageUrl), openPage(chromeB, pageUrl), openPage(fox, pageUrl)])
  const relayId = relay.address.split('/').pop() as string

  const [A, B, C] = await Promise.all([pa, pb, pc].map(async page => startPeer(page, [relay.address])))

  // each peer holds a reservation: a WebRTC-capable circuit address through our relay
  for (const [page, peer] of [[pa, A], [pb, B], [pc, C]] as const) {
    expect(peer.id).toMatch(/^12D3KooW/)
    expect(peer.addresses).toContain(`${relay.address}/p2p-circuit/webrtc/p2p/${peer.id}`)
    expect(await page.evaluate(() => (window as any).peer.relays)).toEqual([{ peerId: relayId, address: relay.address, connected: true, reserved: true }])
  }
  const health = await (await fetch(`${relay.httpUrl}/health`)).json()
  expect(health.reservations).toBe(3)

  // B finds A by bare PeerId, through the relay they share: usable at once over the relay, then direct
  // WebRTC on both ends, made in the background
  const linkBA = await pb.evaluate(async (id) => (window as any).peer.connect(id, { signal: AbortSignal.timeout(20_000) }), A.id)
  expect(linkBA).toEqual({ peerId: A.id, direct: false, transport: 'relay' })
  await expect.poll(async () => hasDirectWebRTC(pb, A.id)).toBe(true)
  await expect.poll(async () => hasDirectWebRTC(pa, B.id)).toBe(true)
  expect(await connections(pa)).toContainEqual({ peerId: B.id, direct: true, transport: 'webrtc' })
  expect((await events(pb, 'connection:direct')).map(e => e.peerId)).toContain(A.id)

  // a Chromium ↔ Firefox direct link too, asked for as such
  const linkCA = await pc.evaluate(async (id) => (window as any).peer.connect(id, { allowRelayed: false, signal: AbortSignal.timeout(20_000) }), A.id)
  expect(linkCA).toEqual({ peerId: A.id, direct: true, transport: 'webrtc' })

  // a room of three: everyone sees everyone, and messages flow every way
  await Promise.all([pa, pb, pc].map(async page => joinRoom(page, 'lobby')))
  await waitForRoomPeers(pa, 'lobby', [B.id, C.id])
  await waitForRoomPeers(pb, 'lobby', [A.id, C.id])
  await waitForRoomPeers(pc, 'lobby', [A.id, B.id])

  await send(pa, 'lobby', 'hello from chromium A')
  await send(pc, 'lobby', 'hello from firefox C')
  await send(pb, 'lobby', { hello: 'from chromium B', n: 1 })
  for (const page of [pb, pc]) expect((await waitForMessage(page, 'lobby', 'hello from chromium A')).from).toBe(A.id)
  for (const page of [pa, pb]) expect((await waitForMessage(page, 'lobby', 'hello from firefox C')).from).toBe(C.id)
  for (const page of [pa, pc]) {
    const msg = await waitForMessage(page, 'lobby', JSON.stringify({ hello: 'from chromium B', n: 1 }))
    expect(msg.from).toBe(B.id)
    expect(msg.json).toEqual({ hello: 'from chromium B', n: 1 })
  }

  // request/response: over the direct link (B) and from Firefox (C); a throwing handler is a RemoteError
  await pa.evaluate(async () => {
    const peer = (window as any).peer
    await peer.handle('/test/echo/1.0.0', (data: Uint8Array, { from }: { from: string }) => `echo ${new TextDecoder().decode(data)} for ${from.slice(-6)}`)
    await peer.handle('/test/fail/1.0.0', () => { throw new Error('handler says no') })
  })
  expect(await request(pb, A.id, '/test/echo/1.0.0', 'hi')).toEqual({ text: `echo hi for ${B.id.slice(-6)}` })
  expect(await request(pc, A.id, '/test/echo/1.0.0', 'hey')).toEqual({ text: `echo hey for ${C.id.slice(-6)}` })
  expect(await request(pb, A.id, '/test/fail/1.0.0', 'x')).toEqual({ name: 'RemoteError', error: 'handler says no' })
})

test('after the relay process is killed, directly linked peers still share room messages', async ({ relay, launch, pageUrl }) => {
  const [chromeA, chromeB] = await Promise.all([launch('chromium'), launch('chromium')])
  const [pa, pb] = await Promise.all([openPage(chromeA, pageUrl), openPage(chromeB, pageUrl)])
  const [A, B] = await Promise.all([pa, pb].map(async page => startPeer(page, [relay.address])))

  expect(await pb.evaluate(async (id) => (window as any).peer.connect(id, { allowRelayed: false }), A.id)).toMatchObject({ direct: true, transport: 'webrtc' })
  await Promise.all([pa, pb].map(async page => joinRoom(page, 'after-relay')))
  await waitForRoomPeers(pa, 'after-relay', [B.id])
  await waitForRoomPeers(pb, 'after-relay', [A.id])
  await send(pa, 'after-relay', 'before the relay dies')
  await waitForMessage(pb, 'after-relay', 'before the relay dies')

  await relay.kill('SIGKILL')
  // both notice the relay is gone…
  await expect.poll(async () => (await events(pa, 'relay:lost')).length).toBeGreaterThan(0)
  await expect.poll(async () => (await events(pb, 'relay:lost')).length).toBeGreaterThan(0)
  expect((await connections(pa)).map(c => c.transport)).toEqual(['webrtc'])

  // …and still talk, both ways, over their direct link
  await send(pa, 'after-relay', 'A after the relay died')
  await send(pb, 'after-relay', 'B after the relay died')
  expect((await waitForMessage(pb, 'after-relay', 'A after the relay died')).from).toBe(A.id)
  expect((await waitForMessage(pa, 'after-relay', 'B after the relay died')).from).toBe(B.id)
})

test('the ES module build that bundlers get (dist/peerlane.browser.mjs) reserves and links directly to a script-tag peer', async ({ relay, launch, pageUrl }) => {
  const [chromeA, chromeB] = await Promise.all([launch('chromium'), launch('chromium')])
  const [pa, pb] = await Promise.all([openPage(chromeA, pageUrl), openPage(chromeB, pageUrl)])
  const A = await startPeer(pa, [relay.address])
  const result = await pb.evaluate(async ({ relay, target }) => {
    // what `import { createPeer } from 'peerlane'` resolves to in a browser bundle (package.json exports, `browser`)
    const m = await import(new URL('/dist/peerlane.browser.mjs', location.href).href)
    const peer = await m.createPeer({ relays: [relay], identity: 'memory' })
    try {
      const info = await peer.connect(target, { allowRelayed: false, signal: AbortSignal.timeout(20_000) })
      return { version: m.VERSION, sameAsScriptTag: m.VERSION === (window as any).Peerlane.VERSION, reserved: peer.relays[0].reserved, direct: info.direct, transport: info.transport }
    } finally {
      await peer.stop()
    }
  }, { relay: relay.address, target: A.id })
  expect(result).toMatchObject({ sameAsScriptTag: true, reserved: true, direct: true, transport: 'webrtc' })
})
