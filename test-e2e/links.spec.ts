// Direct links as users get them: browsers in their default settings (host candidates hidden behind mDNS
// names), the relay's own STUN server, coturn for TURN, and links that heal.
import { expect, openPage, test } from './fixtures.ts'
import { events, joinRoom, startPeer, waitForRoomPeers } from './peer-page.ts'
import type { Page } from '@playwright/test'

const stats = async (page: Page, id: string): Promise<any> => await page.evaluate(async (id) => (await (window as any).peer.stats(id))[0], id)
const directTo = async (page: Page, id: string): Promise<boolean> => await page.evaluate((id) => (window as any).peer.connections().some((c: any) => c.peerId === id && c.transport === 'webrtc'), id)

test('two default-settings Chromium: connect() is usable at once, a request right after it succeeds, and the direct link follows on a STUN or host pair', async ({ relay, launch, pageUrl }) => {
  const [chromeA, chromeB] = await Promise.all([launch('chromium'), launch('chromium')])
  const [pa, pb] = await Promise.all([openPage(chromeA, pageUrl), openPage(chromeB, pageUrl)])
  for (let round = 1; round <= 2; round++) {
    const [A] = await Promise.all([startPeer(pa, [relay.address]), startPeer(pb, [relay.address])])
    await pa.evaluate(async () => { await (window as any).peer.handle('/test/echo/1.0.0', (d: Uint8Array) => d) })
    // connect, then a request at once: it goes over whatever link exists, while WebRTC comes up
    const result = await pb.evaluate(async (id) => {
      const peer = (window as any).peer
      const link = await peer.connect(id)
      const answer = new TextDecoder().decode(await peer.request(id, '/test/echo/1.0.0', 'right after connect'))
      // a ping goes over the same link (it once dialled a second circuit, which swallowed the WebRTC upgrade)
      const rtt = await peer.ping(id)
      return { link, answer, rtt: typeof rtt === 'number' && rtt >= 0 }
    }, A.id)
    expect(result).toEqual({ link: { peerId: A.id, direct: false, transport: 'relay' }, answer: 'right after connect', rtt: true })
    await expect.poll(async () => await directTo(pb, A.id)).toBe(true)
    expect((await events(pb, 'connection:direct')).map(e => e.peerId)).toContain(A.id)
    // on one host with default settings the pair is the relay's STUN (srflx) or a peer-reflexive one, never TURN
    const link = await stats(pb, A.id)
    expect(link).toMatchObject({ transport: 'webrtc', protocol: 'udp' })
    expect(['stun', 'direct']).toContain(link.route)
    expect(link.rtt).toBeGreaterThanOrEqual(0)
    expect(link.bytesSent).toBeGreaterThan(0)
    await Promise.all([pa, pb].map(async page => page.evaluate(async () => { await (window as any).peer.stop() })))
  }
})

test('a relay with coturn: TURN-only browsers link through coturn, and peer.stats() says so; without TURN the relay offers STUN only', async ({ newRelay, coturn, launch, pageUrl }) => {
  const turn = await coturn()
  // coturn answers STUN on its port too: an operator runs no second STUN server beside it (--stun-port 0)
  const relay = newRelay(['--stun-port', '0', '--turn-url', `turn:127.0.0.1:${turn.port}?transport=udp`, '--turn-secret-file', turn.secretFile])
  await relay.start()
  // Chromium both: Firefox (by default) gathers nothing on the loopback interface, so it cannot reach a TURN
  // server on 127.0.0.1 at all; it uses TURN across the NAT lab (nat.spec.ts), where coturn is not on loopback
  const [chromeA, chromeB] = await Promise.all([launch('chromium'), launch('chromium')])
  const [pa, pb] = await Promise.all([openPage(chromeA, pageUrl), openPage(chromeB, pageUrl)])
  const turnOnly = { rtcConfiguration: { iceTransportPolicy: 'relay' } }
  const [A, B] = await Promise.all([startPeer(pa, [relay.address], turnOnly), startPeer(pb, [relay.address], turnOnly)])
  const link = await pb.evaluate(async (id) => (window as any).peer.connect(id, { allowRelayed: false, signal: AbortSignal.timeout(30_000) }), A.id)
  expect(link).toEqual({ peerId: A.id, direct: true, transport: 'webrtc' })
  await expect.poll(async () => await stats(pb, A.id)).toMatchObject({ route: 'turn', local: 'relay', protocol: 'udp' })
  await expect.poll(async () => (await stats(pa, B.id))?.route).toBe('turn')
  // with coturn beside it the relay runs no STUN of its own: it offers coturn's, and coturn's TURN url
  const iceOf = (output: string): string[] => JSON.parse(output.split('\n').find(line => line.includes('"event":"listening"')) ?? '{}').ice
  expect(iceOf(relay.output)).toEqual([`stun:127.0.0.1:${turn.port}`, `turn:127.0.0.1:${turn.port}?transport=udp`])

  // the relay's own STUN only, when no TURN is configured: a TURN-only browser has nothing to link with
  const plain = newRelay()
  await plain.start()
  const [chromeC, chromeD] = await Promise.all([launch('chromium'), launch('chromium')])
  const [pc, pd] = await Promise.all([openPage(chromeC, pageUrl), openPage(chromeD, pageUrl)])
  expect(iceOf(plain.output)).toEqual([`stun:127.0.0.1:${plain.stunPort}`])
  const [C] = await Promise.all([startPeer(pc, [plain.address], turnOnly), startPeer(pd, [plain.address], turnOnly)])
  expect(await pd.evaluate(async (id) => (window as any).peer.connect(id, { allowRelayed: false, signal: AbortSignal.timeout(15_000) }).then(() => 'linked', (e: any) => e.name), C.id)).toBe('PeerUnreachableError')
})

test('a direct link killed under a room comes back, and the member never leaves the room', async ({ relay, launch, pageUrl }) => {
  const [chromeA, firefoxB] = await Promise.all([launch('chromium'), launch('firefox')])
  const [pa, pb] = await Promise.all([openPage(chromeA, pageUrl), openPage(firefoxB, pageUrl)])
  const [A, B] = await Promise.all([startPeer(pa, [relay.address]), startPeer(pb, [relay.address])])
  await Promise.all([pa, pb].map(async page => joinRoom(page, 'heal')))
  await waitForRoomPeers(pa, 'heal', [B.id])
  await waitForRoomPeers(pb, 'heal', [A.id])
  await expect.poll(async () => await directTo(pa, B.id) && await directTo(pb, A.id)).toBe(true)
  await Promise.all([pa, pb].map(async page => page.evaluate(() => {
    const w = window as any
    w.left = []
    w.rooms.heal.addEventListener('peer:leave', (e: CustomEvent) => { w.left.push(e.detail.peerId) })
  })))

  // close the RTCPeerConnection under libp2p, as a network change or an ICE failure would
  const killed = await pa.evaluate((id) => {
    const conn = (window as any).peer.libp2p.getConnections().find((c: any) => c.remotePeer.toString() === id && c.remoteAddr.toString().includes('/webrtc'))
    const pc = conn?.maConn?.peerConnection ?? conn?.muxer?.peerConnection
    pc?.close()
    return pc == null ? undefined : conn.id
  }, B.id)
  expect(killed).toBeDefined()
  // that connection goes (the link may already be back by the time we look: follow the killed one itself)
  await expect.poll(async () => await pa.evaluate((cid) => (window as any).peer.libp2p.getConnections().some((c: any) => c.id === cid && c.status === 'open'), killed)).toBe(false)
  await expect.poll(async () => await directTo(pa, B.id) && await directTo(pb, A.id)).toBe(true)
  // still members on both sides, and nobody saw a leave
  expect(await pa.evaluate(() => (window as any).left)).toEqual([])
  expect(await pb.evaluate(() => (window as any).left)).toEqual([])
  expect(await pa.evaluate(() => (window as any).rooms.heal.peers)).toEqual([B.id])
})
