// Messaging end to end: rooms that mesh on their own, presence, hostile room messages from a stock
// js-libp2p peer, versioned protocols, and a 5 MiB stream — real relay, real browsers.
import '../src/polyfills.ts'
import { createHash, randomBytes } from 'node:crypto'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { gossipsub } from '@libp2p/gossipsub'
import { identify } from '@libp2p/identify'
import { webSockets } from '@libp2p/websockets'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'
import { RoomEnvelope } from '../src/pb/room.ts'
import { test, expect, openPage } from './fixtures.ts'
import { connections, joinRoom, send, startPeer, waitForMessage, waitForRoomPeers } from './peer-page.ts'
import type { GossipSub, Message } from '@libp2p/gossipsub'
import type { Page } from '@playwright/test'

async function directPeers (page: Page): Promise<string[]> {
  return (await connections(page)).filter(c => c.transport === 'webrtc').map(c => c.peerId).sort()
}

test('a room of four (3 Chromium, 1 Firefox) links every member directly, and presence follows a closed tab', async ({ relay, launch, pageUrl }) => {
  const [chrome1, chrome2, fox] = await Promise.all([launch('chromium'), launch('chromium'), launch('firefox')])
  const pages = [
    await openPage(await chrome1.newContext(), pageUrl),
    await openPage(await chrome1.newContext(), pageUrl),
    await openPage(chrome2, pageUrl),
    await openPage(fox, pageUrl)
  ]
  const peers = await Promise.all(pages.map(async page => startPeer(page, [relay.address])))
  const ids = peers.map(p => p.id)
  await Promise.all(pages.map(async page => joinRoom(page, 'four')))

  // nobody dials anybody: joining the room is enough
  for (const [i, page] of pages.entries()) {
    const others = ids.filter((_, j) => j !== i)
    await waitForRoomPeers(page, 'four', others)
    await expect.poll(async () => directPeers(page), { timeout: 45_000 }).toEqual([...others].sort())
  }

  for (const [i, page] of pages.entries()) await send(page, 'four', `from member ${i}`)
  for (const [i, page] of pages.entries()) {
    for (const j of [0, 1, 2, 3].filter(j => j !== i)) {
      expect((await waitForMessage(page, 'four', `from member ${j}`)).from).toBe(ids[j])
    }
  }

  // a member closes its tab: the others see it leave (its goodbye, its links closing, or the presence timeout)
  for (const gone of [3, 2]) {
    const closedAt = Date.now()
    await pages[gone].close({ runBeforeUnload: true })
    const left = pages.filter((page, j) => j < gone)
    for (const page of left) await waitForRoomPeers(page, 'four', ids.filter((id, j) => j < gone && id !== ids[pages.indexOf(page)]), 15_000)
    const ms = Date.now() - closedAt
    console.log(`presence: ${gone === 3 ? 'Firefox' : 'Chromium'} tab closed, gone for every member within ${ms} ms`)
    // a closing Chromium tab's goodbye gets out: without it, members wait out the 3.5 s disconnect grace
    if (gone === 2) expect(ms).toBeLessThan(3_000)
  }
})

/** A plain js-libp2p node, set up from the README alone: topic name, StrictSign, the RoomEnvelope proto */
async function stockPeer (relayAddress: string, signed = true): Promise<{ node: any, pubsub: GossipSub, received: RoomEnvelope[] }> {
  const node = await createLibp2p({
    transports: [webSockets()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: {
      identify: identify(),
      pubsub: gossipsub({ globalSignaturePolicy: signed ? 'StrictSign' : 'StrictNoSign', allowPublishToZeroTopicPeers: true })
    }
  })
  const pubsub = node.services.pubsub as GossipSub
  const received: RoomEnvelope[] = []
  pubsub.addEventListener('message', (evt: CustomEvent<Message>) => { received.push(RoomEnvelope.decode(evt.detail.data)) })
  await node.dial(multiaddr(relayAddress))
  return { node, pubsub, received }
}

function envelope (text: string, extra: Partial<RoomEnvelope> = {}): Uint8Array {
  return RoomEnvelope.encode({
    id: randomBytes(12).toString('hex'),
    timestamp: BigInt(Date.now()),
    encoding: RoomEnvelope.Encoding.TEXT,
    data: new TextEncoder().encode(text),
    presence: RoomEnvelope.Presence.NONE,
    ...extra
  })
}

/** PeerIds this page's GossipSub would send a message of room `name` to now */
async function recipients (page: Page, name: string): Promise<string[]> {
  return await page.evaluate((name) => {
    const w = window as any
    return [...w.peer.libp2p.services.pubsub.selectPeersToPublish(w.rooms[name].topic).tosend]
  }, name)
}

/** Room messages (beacons included) the relay has received, from its /metrics */
async function relayRoomMessages (httpUrl: string): Promise<number> {
  const text = await (await fetch(`${httpUrl}/metrics`)).text()
  const line = text.split('\n').find(l => l.startsWith('peerlane_relay_room_messages_total '))
  if (line == null) throw new Error('no peerlane_relay_room_messages_total in the relay metrics')
  return Number(line.split(' ')[1])
}

test('the relay stands by while every member is linked directly, and carries the room again for a member who cannot link', async ({ relay, launch, pageUrl }) => {
  const relayId = relay.address.split('/p2p/').pop() as string
  const [chromeA, chromeB] = await Promise.all([launch('chromium'), launch('chromium')])
  const [pa, pb] = [await openPage(chromeA, pageUrl), await openPage(chromeB, pageUrl)]
  const [A, B] = await Promise.all([startPeer(pa, [relay.address]), startPeer(pb, [relay.address])])
  await Promise.all([joinRoom(pa, 'standby'), joinRoom(pb, 'standby')])
  await expect.poll(async () => directPeers(pa), { timeout: 45_000 }).toEqual([B.id])

  // linked directly: neither member sends the relay the room's messages (it would only carry them to nobody)
  for (const page of [pa, pb]) await expect.poll(async () => recipients(page, 'standby'), { timeout: 15_000 }).toEqual([page === pa ? B.id : A.id])
  const before = await relayRoomMessages(relay.httpUrl)
  for (let i = 0; i < 5; i++) await send(pa, 'standby', `direct, no relay copy ${i}`)
  for (let i = 0; i < 5; i++) await send(pb, 'standby', `back, no relay copy ${i}`)
  await waitForMessage(pb, 'standby', 'direct, no relay copy 4')
  await waitForMessage(pa, 'standby', 'back, no relay copy 4')
  // (a presence beacon may have been on its way as the relay stood by; ten messages may not)
  expect(await relayRoomMessages(relay.httpUrl) - before).toBeLessThanOrEqual(2)

  // a member whose browser has WebRTC turned off (by policy or an extension) reaches the room through the relay only
  const noWebRTC = await chromeA.newContext()
  await noWebRTC.addInitScript(() => { (window as any).RTCPeerConnection = class { constructor () { throw new DOMException('WebRTC is disabled', 'NotSupportedError') } } })
  const pc = await openPage(noWebRTC, pageUrl)
  const C = await startPeer(pc, [relay.address])
  await joinRoom(pc, 'standby')
  await waitForRoomPeers(pc, 'standby', [A.id, B.id], 30_000)
  for (const page of [pa, pb]) {
    await waitForRoomPeers(page, 'standby', [page === pa ? B.id : A.id, C.id], 30_000)
    // C is linked to nobody: the relay carries the room again
    await expect.poll(async () => recipients(page, 'standby'), { timeout: 20_000 }).toContain(relayId)
  }
  await send(pc, 'standby', 'from C, over the relay')
  for (const page of [pa, pb]) expect((await waitForMessage(page, 'standby', 'from C, over the relay')).from).toBe(C.id)
  await send(pa, 'standby', 'from A to everyone')
  await waitForMessage(pc, 'standby', 'from A to everyone')
  await waitForMessage(pb, 'standby', 'from A to everyone')
  expect(await directPeers(pc)).toEqual([])
})

test('a stock js-libp2p peer joins a room by its documented topic and envelope; bad messages are dropped and their author muted', async ({ relay, launch, pageUrl }) => {
  const [chromeA, chromeB] = await Promise.all([launch('chromium'), launch('chromium')])
  const [pa, pb] = await Promise.all([openPage(chromeA, pageUrl), openPage(chromeB, pageUrl)])
  const [, B] = await Promise.all([pa, pb].map(async page => startPeer(page, [relay.address])))
  const topic = 'peerlane/1/room/stock'
  const stock = await stockPeer(relay.address)
  const unsigned = await stockPeer(relay.address, false)
  try {
    stock.pubsub.subscribe(topic)
    unsigned.pubsub.subscribe(topic)
    await Promise.all([pa, pb].map(async page => joinRoom(page, 'stock')))
    await waitForRoomPeers(pa, 'stock', [B.id])
    await expect.poll(() => stock.pubsub.getSubscribers(topic).length).toBeGreaterThan(0)

    // presence, then a message, both ways
    await stock.pubsub.publish(topic, envelope('', { presence: RoomEnvelope.Presence.HERE, encoding: RoomEnvelope.Encoding.BYTES, data: new Uint8Array(0) }))
    await waitForRoomPeers(pa, 'stock', [B.id, stock.node.peerId.toString()])
    await stock.pubsub.publish(topic, envelope('hello from a stock libp2p node'))
    expect((await waitForMessage(pa, 'stock', 'hello from a stock libp2p node')).from).toBe(stock.node.peerId.toString())
    await send(pa, 'stock', 'hello, stock node')
    await expect.poll(() => stock.received.find(e => new TextDecoder().decode(e.data) === 'hello, stock node')?.encoding).toBe(RoomEnvelope.Encoding.TEXT)

    // an unsigned message (no verifiable author) never arrives
    await unsigned.pubsub.publish(topic, envelope('unsigned, claiming to be anyone'))
    // an oversize payload (over the 64 KiB default) and a malformed envelope: the relay drops them
    await stock.pubsub.publish(topic, envelope('x'.repeat(70 * 1024)))
    await stock.pubsub.publish(topic, new Uint8Array([0xff, 0xff, 0xff, 0x01, 0x02]))
    // what only members check, text that is not UTF-8 and a beacon with a payload: two strikes, dropped
    await stock.pubsub.publish(topic, envelope('', { data: new Uint8Array([0xff, 0xfe]) }))
    await stock.pubsub.publish(topic, envelope('a beacon says nothing', { presence: RoomEnvelope.Presence.HERE }))
    await stock.pubsub.publish(topic, envelope('after two strikes, still heard'))
    await waitForMessage(pa, 'stock', 'after two strikes, still heard')
    // JSON that is not JSON: the third strike mutes the author
    await stock.pubsub.publish(topic, envelope('{not json', { encoding: RoomEnvelope.Encoding.JSON }))
    await stock.pubsub.publish(topic, envelope('muted, never delivered'))
    await send(pb, 'stock', 'B after the spam')
    await waitForMessage(pa, 'stock', 'B after the spam')
    await pa.waitForTimeout(1_000)
    const seen = await pa.evaluate(() => (window as any).inbox.stock.map((m: any) => ({ text: m.text, size: m.size })))
    expect(seen.map((m: any) => m.text)).not.toContain('unsigned, claiming to be anyone')
    expect(seen.map((m: any) => m.text)).not.toContain('muted, never delivered')
    expect(seen.map((m: any) => m.text)).not.toContain('{not json')
    expect(Math.max(...seen.map((m: any) => m.size))).toBeLessThan(65_536)

    // the app's own validator
    await pa.evaluate(() => { (window as any).rooms.stock.validate((m: any) => m.text !== 'forbidden') })
    await send(pb, 'stock', 'forbidden')
    await send(pb, 'stock', 'allowed')
    await waitForMessage(pa, 'stock', 'allowed')
    expect(await pa.evaluate(() => (window as any).inbox.stock.some((m: any) => m.text === 'forbidden'))).toBe(false)

    // sending too much is a typed error at the sender
    expect(await pa.evaluate(async () => (window as any).rooms.stock.send('y'.repeat(70_000)).catch((e: any) => e.name))).toBe('MessageTooLargeError')
  } finally {
    await stock.node.stop()
    await unsigned.node.stop()
  }
})

test('versioned protocols, peer info, request limits, and a 5 MiB stream with its checksum', async ({ relay, launch, pageUrl }) => {
  const [chromeA, chromeB, fox] = await Promise.all([launch('chromium'), launch('chromium'), launch('firefox')])
  const [pa, pb, pc] = await Promise.all([openPage(chromeA, pageUrl), openPage(chromeB, pageUrl), openPage(fox, pageUrl)])
  const [A, B] = await Promise.all([pa, pb, pc].map(async page => startPeer(page, [relay.address])))

  // A is an old client (1.x only), B a new one (2.x, and 1.1 for old callers)
  await pa.evaluate(async () => {
    await (window as any).peer.handle('/test/chat', (_: Uint8Array, { version }: any) => `A speaks ${version}`, { versions: ['1.0.0', '1.1.0'] })
  })
  await pb.evaluate(async () => {
    await (window as any).peer.handle('/test/chat', (_: Uint8Array, { version }: any) => `B speaks ${version}`, { versions: ['2.0.0', '1.1.0'] })
  })
  const ask = async (page: Page, peerId: string, versions: string[]): Promise<string> => await page.evaluate(async ({ peerId, versions }) =>
    new TextDecoder().decode(await (window as any).peer.request(peerId, '/test/chat', 'hi', { versions })), { peerId, versions })
  expect(await ask(pc, A.id, ['2.0.0', '1.1.0'])).toBe('A speaks 1.1.0')
  expect(await ask(pc, B.id, ['1.1.0', '2.0.0'])).toBe('B speaks 2.0.0')
  expect(await ask(pa, B.id, ['1.0.0', '1.1.0'])).toBe('B speaks 1.1.0')

  // identify: agent version and protocols
  const infoA = await pc.evaluate(async (id) => (window as any).peer.info(id), A.id)
  expect(infoA.agentVersion).toMatch(/^peerlane\/\d+\.\d+\.\d+/)
  expect(infoA.protocols).toEqual(expect.arrayContaining(['/test/chat/1.0.0', '/test/chat/1.1.0']))

  // a slow handler: the caller's timeout wins; an oversize request is refused
  await pa.evaluate(async () => {
    const peer = (window as any).peer
    await peer.handle('/test/slow/1.0.0', async () => { await new Promise(resolve => setTimeout(resolve, 10_000)); return 'late' })
    await peer.handle('/test/small/1.0.0', (data: Uint8Array) => `${data.byteLength}`, { maxRequestSize: 1024 })
  })
  const slow = await pb.evaluate(async (id) => {
    const started = performance.now()
    const name = await (window as any).peer.request(id, '/test/slow/1.0.0', 'x', { timeout: 500 }).then(() => 'resolved', (e: any) => e.name)
    return { name, ms: performance.now() - started }
  }, A.id)
  expect(slow.name).toBe('TimeoutError')
  expect(slow.ms).toBeLessThan(5_000)
  expect(await pb.evaluate(async (id) => new TextDecoder().decode(await (window as any).peer.request(id, '/test/small/1.0.0', new Uint8Array(1000))), A.id)).toBe('1000')
  expect(await pb.evaluate(async (id) => (window as any).peer.request(id, '/test/small/1.0.0', new Uint8Array(2048)).then(() => 'resolved', () => 'rejected'), A.id)).toBe('rejected')

  // 5 MiB over a stream, with backpressure, checked end to end
  await pa.evaluate(async () => {
    await (window as any).peer.handleStream('/test/blob/1.0.0', async (stream: any) => {
      const chunks: Uint8Array[] = []
      for await (const chunk of stream.readable) chunks.push(chunk)
      const all = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0))
      let at = 0
      for (const c of chunks) { all.set(c, at); at += c.byteLength }
      const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', all))
      const writer = stream.writable.getWriter()
      await writer.write(new TextEncoder().encode(`${all.byteLength} ${[...digest].map(b => b.toString(16).padStart(2, '0')).join('')}`))
      await writer.close()
    })
  })
  const blob = randomBytes(5 * 1024 * 1024)
  const expected = `${blob.byteLength} ${createHash('sha256').update(blob).digest('hex')}`
  const answer = await pb.evaluate(async ({ id, seed }) => {
    // the same bytes as the test's blob, rebuilt in the page from the seed (sending 5 MiB through evaluate is slow)
    const data = Uint8Array.from(atob(seed), c => c.charCodeAt(0))
    const peer = (window as any).peer
    await peer.connect(id)
    const stream = await peer.openStream(id, '/test/blob/1.0.0')
    const writer = stream.writable.getWriter()
    const started = performance.now()
    for (let at = 0; at < data.byteLength; at += 64 * 1024) await writer.write(data.subarray(at, at + 64 * 1024))
    await writer.close()
    let text = ''
    for await (const chunk of stream.readable) text += new TextDecoder().decode(chunk)
    return { text, ms: performance.now() - started, transport: peer.connections().find((c: any) => c.peerId === id).transport }
  }, { id: A.id, seed: blob.toString('base64') })
  expect(answer.text).toBe(expected)
  expect(answer.transport).toBe('webrtc')
  console.log(`5 MiB stream over WebRTC: ${answer.ms.toFixed(0)} ms`)
})
