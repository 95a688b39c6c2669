// Resilience end to end: a relay that dies and comes back, two relays of which one dies, and WebRTC that
// cannot connect — real relay processes, real browsers.
import { RelayProcess, test, expect, openPage } from './fixtures.ts'
import { connections, events, joinRoom, send, startPeer, waitForMessage, waitForRoomPeers } from './peer-page.ts'

test('after the relay is SIGKILLed and restarted on the same port and key, every peer re-reserves and is reachable again', async ({ relay, launch, pageUrl }) => {
  const [chromeA, chromeB, fox] = await Promise.all([launch('chromium'), launch('chromium'), launch('firefox')])
  const pages = [await openPage(chromeA, pageUrl), await openPage(chromeB, pageUrl), await openPage(fox, pageUrl)]
  const peers = await Promise.all(pages.map(async page => startPeer(page, [relay.address])))

  await relay.kill('SIGKILL')
  for (const page of pages) await expect.poll(async () => (await events(page, 'relay:lost')).length, { timeout: 30_000 }).toBeGreaterThan(0)

  await relay.start()
  const back = Date.now()
  for (const page of pages) {
    await expect.poll(async () => page.evaluate(() => (window as any).peer.relays[0].reserved), { timeout: 30_000 }).toBe(true)
  }
  const times = await Promise.all(pages.map(async page => page.evaluate(() => (window as any).events.filter((e: any) => e.type === 'relay:reserved').pop()?.wallClock)))
  console.log(`re-reserved after the relay came back: ${times.map(t => `${t - back} ms`).join(', ')}`)
  for (const t of times) expect(t - back).toBeLessThan(10_000)

  // a newcomer reaches them through the restarted relay
  const newcomer = await openPage(await launch('chromium'), pageUrl)
  await startPeer(newcomer, [relay.address])
  for (const peer of peers) {
    expect(await newcomer.evaluate(async (id) => (window as any).peer.connect(id, { signal: AbortSignal.timeout(20_000) }), peer.id)).toMatchObject({ peerId: peer.id })
  }
})

test('with two relays, killing one keeps the room working and loses no message', async ({ relay, launch, pageUrl }, testInfo) => {
  const second = new RelayProcess(testInfo.outputPath('relay2'))
  await second.start()
  try {
    const [chromeA, fox] = await Promise.all([launch('chromium'), launch('firefox')])
    const [pa, pb] = [await openPage(chromeA, pageUrl), await openPage(fox, pageUrl)]
    // no direct link, so the relays carry every room message
    const options = { maxDirectPeers: 0 }
    const [A, B] = await Promise.all([pa, pb].map(async page => startPeer(page, [relay.address, second.address], options)))
    for (const page of [pa, pb]) {
      await expect.poll(async () => page.evaluate(() => (window as any).peer.relays.map((r: any) => r.reserved))).toEqual([true, true])
    }
    await Promise.all([pa, pb].map(async page => joinRoom(page, 'two-relays')))
    await waitForRoomPeers(pa, 'two-relays', [B.id])
    await waitForRoomPeers(pb, 'two-relays', [A.id])

    const sent: string[] = []
    for (let i = 0; i < 5; i++) sent.push(await send(pa, 'two-relays', `before ${i}`).then(() => `before ${i}`))
    await relay.kill('SIGKILL')
    for (let i = 0; i < 10; i++) {
      await send(pa, 'two-relays', `after ${i}`)
      sent.push(`after ${i}`)
      await pa.waitForTimeout(200)
    }
    for (const text of sent) await waitForMessage(pb, 'two-relays', text)
    expect(await pb.evaluate(() => (window as any).inbox['two-relays'].length)).toBe(sent.length)
    expect((await connections(pa)).find(c => c.peerId === B.id)).toBeUndefined()
    // still reachable through the relay that is left
    expect(await pa.evaluate(() => (window as any).peer.relays.map((r: any) => r.reserved))).toEqual([false, true])
  } finally {
    await second.kill('SIGKILL')
  }
})

test('a configured relay that is down when the page starts is reserved on once it comes up', async ({ relay, launch, pageUrl }, testInfo) => {
  // the relays are known to speak hop before they are dialled (README › Benchmarks and size): a failed first
  // dial of one of them must not keep libp2p from reserving on it later
  const second = new RelayProcess(testInfo.outputPath('relay2'))
  // its key and port, not running yet
  const secondAddress = await second.prepare()
  try {
    const page = await openPage(await launch('chromium'), pageUrl)
    await startPeer(page, [relay.address, secondAddress])
    expect(await page.evaluate(() => (window as any).peer.relays.map((r: any) => r.reserved))).toEqual([true, false])
    await second.start()
    expect(second.address).toBe(secondAddress)
    await expect.poll(async () => page.evaluate(() => (window as any).peer.relays.map((r: any) => r.reserved)), { timeout: 30_000 }).toEqual([true, true])
  } finally {
    await second.kill('SIGKILL')
  }
})

test('when WebRTC cannot connect, connect() falls back to the relay and says so', async ({ relay, launch, pageUrl }) => {
  const [chromeA, chromeB] = await Promise.all([launch('chromium'), launch('chromium')])
  const [pa, pb] = [await openPage(chromeA, pageUrl), await openPage(chromeB, pageUrl)]
  // a TURN-only policy with no TURN server: ICE has no candidate at all
  const blocked = { rtcConfiguration: { iceTransportPolicy: 'relay' }, maxDirectPeers: 0 }
  const [A] = await Promise.all([startPeer(pa, [relay.address], blocked), startPeer(pb, [relay.address], blocked)])
  const link = await pb.evaluate(async (id) => (window as any).peer.connect(id, { signal: AbortSignal.timeout(60_000) }), A.id)
  expect(link).toEqual({ peerId: A.id, direct: false, transport: 'relay' })
  await pa.evaluate(async () => { await (window as any).peer.handle('/test/echo/1.0.0', (d: Uint8Array) => d) })
  expect(await pb.evaluate(async (id) => new TextDecoder().decode(await (window as any).peer.request(id, '/test/echo/1.0.0', 'over the relay')), A.id)).toBe('over the relay')
  expect(await pb.evaluate(async (id) => (window as any).peer.connect(id, { allowRelayed: false }).then(() => 'direct', (e: any) => e.name), A.id)).toBe('PeerUnreachableError')
})

test('a relayed link outlives the relay circuit duration limit: it is renewed, not silently cut', async ({ newRelay, launch, pageUrl }) => {
  // a relay whose circuits live 8 s: the peer opens a fresh one (before the cut where the relay announces the
  // limit right, at the cut where it does not, as js-libp2p relays do) and does not lose the link
  const relay = newRelay(['--circuit-duration', '8000'])
  await relay.start()
  const [chromeA, chromeB] = await Promise.all([launch('chromium'), launch('chromium')])
  const [pa, pb] = [await openPage(chromeA, pageUrl), await openPage(chromeB, pageUrl)]
  const blocked = { rtcConfiguration: { iceTransportPolicy: 'relay' }, maxDirectPeers: 0 }
  const [A] = await Promise.all([startPeer(pa, [relay.address], blocked), startPeer(pb, [relay.address], blocked)])
  await pa.evaluate(async () => { await (window as any).peer.handle('/test/echo/1.0.0', (d: Uint8Array) => d) })
  expect(await pb.evaluate(async (id) => (window as any).peer.connect(id, { signal: AbortSignal.timeout(60_000) }), A.id)).toMatchObject({ transport: 'relay' })
  const relayed = async (): Promise<Array<{ id: string, seconds?: number }>> => await pb.evaluate((id) => (window as any).peer.libp2p.getConnections()
    .filter((c: any) => c.remotePeer.toString() === id && c.limits != null && c.status === 'open')
    .map((c: any) => ({ id: c.id, seconds: c.limits.seconds })), A.id)
  const [first] = await relayed()
  expect(first).toBeDefined()

  // past the first circuit's limit: a newer relayed connection carries the link, and requests still work
  await pb.waitForTimeout(10_000)
  const now = await relayed()
  expect(now.map(c => c.id)).not.toContain(first.id)
  expect(now.length).toBeGreaterThan(0)
  expect(await pb.evaluate(async (id) => new TextDecoder().decode(await (window as any).peer.request(id, '/test/echo/1.0.0', 'still here')), A.id)).toBe('still here')
})
