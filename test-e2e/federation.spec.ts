// Federation, end to end: two relay processes given each other with --peer, a browser reserved on each
// one only, and a third reserved on both. Room messages cross from one relay to the other (GossipSub
// between the relays), and a browser on relay X reaches a browser reserved only on relay Y by bare PeerId
// (relay X finds it through the relays' peer routing) and links to it directly over WebRTC.
import { test, expect, openPage } from './fixtures.ts'
import { joinRoom, send, startPeer, waitForMessage, waitForRoomPeers } from './peer-page.ts'
import type { RelayProcess } from './fixtures.ts'
import type { Page } from '@playwright/test'

async function health (relay: RelayProcess): Promise<any> {
  return await (await fetch(`${relay.httpUrl}/health`)).json()
}

async function metric (relay: RelayProcess, name: string): Promise<number | undefined> {
  const text = await (await fetch(`${relay.httpUrl}/metrics`)).text()
  const line = text.split('\n').find(l => l.startsWith(name + ' '))
  return line == null ? undefined : Number(line.split(' ')[1])
}

async function hasDirectWebRTC (page: Page, peerId: string): Promise<boolean> {
  return await page.evaluate((peerId) => (window as any).peer.libp2p.getConnections()
    .some((c: any) => c.remotePeer.toString() === peerId && c.limits == null && /\/webrtc(\/|$)/.test(c.remoteAddr.toString())), peerId)
}

test('browsers on two federated relays share a room and link directly by bare PeerId', async ({ newRelay, launch, pageUrl }) => {
  const x = newRelay()
  const y = newRelay()
  const [addrX, addrY] = await Promise.all([x.prepare(), y.prepare()])
  x.args.push('--peer', addrY)
  y.args.push('--peer', addrX)
  await Promise.all([x.start(), y.start()])
  expect([x.address, y.address]).toEqual([addrX, addrY])
  const idX = addrX.split('/').pop() as string
  const idY = addrY.split('/').pop() as string
  await expect.poll(async () => metric(x, 'peerlane_relay_federation_peers{state="connected"}')).toBe(1)
  await expect.poll(async () => metric(y, 'peerlane_relay_federation_peers{state="connected"}')).toBe(1)

  const [chrome, fox] = await Promise.all([launch('chromium'), launch('firefox')])
  const [pa, pb] = await Promise.all([openPage(chrome, pageUrl), openPage(fox, pageUrl)])
  // no automatic direct links: this test makes the link itself, after checking what the relays carry
  const [A, B] = await Promise.all([startPeer(pa, [x.address], { maxDirectPeers: 0 }), startPeer(pb, [y.address], { maxDirectPeers: 0 })])
  // each holds a reservation on its own relay only
  expect(A.addresses.some(a => a.includes(`/p2p/${idX}/p2p-circuit`))).toBe(true)
  expect(A.addresses.some(a => a.includes(`/p2p/${idY}/p2p-circuit`))).toBe(false)
  expect(B.addresses.some(a => a.includes(`/p2p/${idY}/p2p-circuit`))).toBe(true)
  expect((await health(x)).reservations).toBe(1)
  expect((await health(y)).reservations).toBe(1)

  // one room across the two relays: A's messages go A → X → Y → B and back
  // no history either: asking a member for it dials that member (B then connects to X), which is not what this
  // test counts
  await Promise.all([joinRoom(pa, 'federated', { history: false }), joinRoom(pb, 'federated', { history: false })])
  await waitForRoomPeers(pa, 'federated', [B.id])
  await waitForRoomPeers(pb, 'federated', [A.id])
  expect(await pa.evaluate(() => (window as any).peer.connections().map((c: any) => c.peerId))).not.toContain(B.id)
  await send(pa, 'federated', 'from A on relay X')
  await send(pb, 'federated', { from: 'B on relay Y' })
  expect((await waitForMessage(pb, 'federated', 'from A on relay X')).from).toBe(A.id)
  expect((await waitForMessage(pa, 'federated', JSON.stringify({ from: 'B on relay Y' }))).from).toBe(B.id)
  // each relay carries the room for its own member only: the other relay is not counted as one
  for (const relay of [x, y]) {
    expect(await metric(relay, 'peerlane_relay_rooms')).toBe(1)
    expect(await metric(relay, 'peerlane_relay_room_peers{stat="sum"}')).toBe(1)
  }

  // A finds B by bare PeerId although B is reserved only on Y, and the link is direct WebRTC
  const link = await pa.evaluate(async (id) => (window as any).peer.connect(id, { allowRelayed: false, signal: AbortSignal.timeout(30_000) }), B.id)
  expect(link).toEqual({ peerId: B.id, direct: true, transport: 'webrtc' })
  expect(await hasDirectWebRTC(pa, B.id)).toBe(true)
  await expect.poll(async () => hasDirectWebRTC(pb, A.id)).toBe(true)
  // the signalling circuit went through relay Y, which counted it and the bytes it carried
  expect(await metric(y, 'peerlane_relay_circuits_total')).toBeGreaterThanOrEqual(1)
  expect(await metric(y, 'peerlane_relay_relayed_bytes_total')).toBeGreaterThan(0)

  // redundancy: a browser may reserve on both relays, and the other two reach it
  const pc = await openPage(await chrome.newContext(), pageUrl)
  const C = await startPeer(pc, [x.address, y.address])
  await expect.poll(async () => pc.evaluate(() => (window as any).peer.relays.map((r: any) => r.reserved))).toEqual([true, true])
  await expect.poll(async () => (await health(x)).reservations).toBe(2)
  await expect.poll(async () => (await health(y)).reservations).toBe(2)
  await joinRoom(pc, 'federated')
  await waitForRoomPeers(pc, 'federated', [A.id, B.id])
  await send(pc, 'federated', 'from C on both relays')
  for (const page of [pa, pb]) expect((await waitForMessage(page, 'federated', 'from C on both relays')).from).toBe(C.id)
})
