// Room history end to end: real browsers, a real relay process. A member who joins later gets what was said
// (verified, in order, marked as history), keeps it across a reload in IndexedDB, and a member who serves
// forged history is struck and its forgeries never delivered.
import '../src/polyfills.ts'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { createPeer } from '../src/index.ts'
import { forgeThree, recordRoom, serveForged } from '../src/test/attack.ts'
import { test, expect, openPage } from './fixtures.ts'
import { inbox, joinRoom, send, startPeer, waitForMessage, waitForRoomPeers } from './peer-page.ts'
import type { Page } from '@playwright/test'

/** Counts, in the page, the history requests its peer makes (streams opened for /peerlane/history/1.0.0) */
async function countHistoryRequests (page: Page): Promise<void> {
  await page.evaluate(() => {
    const w = window as any
    w.historyRequests = 0
    // libp2p's newStream is a property of each connection: count on every connection, open now or later
    const count = (conn: any): void => {
      const newStream = conn.newStream
      conn.newStream = async (protocols: string | string[], options: unknown) => {
        if ([protocols].flat().includes('/peerlane/history/1.0.0')) w.historyRequests++
        return newStream(protocols, options)
      }
    }
    for (const conn of w.peer.libp2p.getConnections()) count(conn)
    w.peer.libp2p.addEventListener('connection:open', (e: CustomEvent) => { count(e.detail) })
  })
}

const historyRequests = async (page: Page): Promise<number> => await page.evaluate(() => (window as any).historyRequests)

test('A and B exchange 50 messages; C joins later and gets all 50 in order as history, and still has them after a reload without asking anyone', async ({ relay, launch, launchPersistent, pageUrl }) => {
  const [chromeA, chromeB] = await Promise.all([launch('chromium'), launch('chromium')])
  const [pa, pb] = await Promise.all([openPage(chromeA, pageUrl), openPage(chromeB, pageUrl)])
  const [A, B] = await Promise.all([startPeer(pa, [relay.address]), startPeer(pb, [relay.address])])
  await Promise.all([joinRoom(pa, 'history'), joinRoom(pb, 'history')])
  await waitForRoomPeers(pa, 'history', [B.id])
  await waitForRoomPeers(pb, 'history', [A.id])
  // a conversation: each speaks once the other's last message arrived
  const texts = Array.from({ length: 50 }, (_, i) => `message ${i} from ${i % 2 === 0 ? 'A' : 'B'}`)
  for (const [i, text] of texts.entries()) {
    await send(i % 2 === 0 ? pa : pb, 'history', text)
    await waitForMessage(i % 2 === 0 ? pb : pa, 'history', text)
  }

  const dir = await mkdtemp(join(tmpdir(), 'peerlane-history-'))
  try {
    const firefox = await launchPersistent('firefox', dir)
    const pc = await openPage(firefox, pageUrl)
    const C = await startPeer(pc, [relay.address])
    await countHistoryRequests(pc)
    await joinRoom(pc, 'history')
    await expect.poll(async () => (await inbox(pc, 'history')).length, { timeout: 30_000 }).toBe(50)
    const got = await inbox(pc, 'history')
    expect(got.map(m => m.text)).toEqual(texts)
    expect(got.every(m => m.history === true)).toBe(true)
    expect(got.map(m => m.from)).toEqual(texts.map((_, i) => i % 2 === 0 ? A.id : B.id))
    expect(await historyRequests(pc)).toBeGreaterThanOrEqual(1)
    // a live message after the history is not history
    await send(pa, 'history', 'live, after C joined')
    expect((await waitForMessage(pc, 'history', 'live, after C joined')).history).toBeUndefined()

    // A and B are gone; C reloads: its IndexedDB has the room's history, and there is nobody to ask
    await Promise.all([pa.close(), pb.close()])
    await waitForRoomPeers(pc, 'history', [])
    await pc.reload()
    expect((await startPeer(pc, [relay.address])).id).toBe(C.id)
    await countHistoryRequests(pc)
    await joinRoom(pc, 'history')
    await expect.poll(async () => (await inbox(pc, 'history')).length, { timeout: 20_000 }).toBe(51)
    const kept = await inbox(pc, 'history')
    expect(kept.map(m => m.text)).toEqual([...texts, 'live, after C joined'])
    expect(kept.every(m => m.history === true)).toBe(true)
    expect(await historyRequests(pc)).toBe(0)
    await firefox.close()
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})

test('a member serving forged history is struck for each forgery, muted after three, and none of them is delivered', async ({ relay, launch, pageUrl }) => {
  const [chromeA, chromeC] = await Promise.all([launch('chromium'), launch('chromium')])
  const pa = await openPage(chromeA, pageUrl)
  const A = await startPeer(pa, [relay.address])
  // A keeps no history, so the forger is the only member with any to serve
  await joinRoom(pa, 'forged', { history: false })
  // the forger: a Peerlane peer in Node that records the room, then serves it with three entries forged
  const forger = await createPeer({ relays: [relay.address], identity: 'memory', maxDirectPeers: 0 })
  try {
    const room = await forger.join('forged')
    const recorded = recordRoom(forger.libp2p.services.pubsub, room.topic)
    await waitForRoomPeers(pa, 'forged', [forger.id])
    for (let i = 0; i < 6; i++) await send(pa, 'forged', `genuine ${i}`)
    await expect.poll(() => recorded.length).toBe(6)
    const other = await generateKeyPair('Ed25519')
    const served = await serveForged(forger.libp2p, () => forgeThree(recorded, other))

    // GossipSub gossips the ids of the last 3 heartbeats' messages (3 s) to a new subscriber, which then gets them
    // live: let them age past that, so that C gets them from history only
    await new Promise(resolve => setTimeout(resolve, 6_000))
    const pc = await openPage(chromeC, pageUrl)
    await startPeer(pc, [relay.address])
    await joinRoom(pc, 'forged')
    await expect.poll(async () => (await inbox(pc, 'forged')).filter(m => m.history === true).length, { timeout: 30_000 }).toBe(3)
    expect(served.asked).toBe(1)
    const got = await inbox(pc, 'forged')
    expect(got.filter(m => m.history === true).map(m => m.text)).toEqual(['genuine 0', 'genuine 2', 'genuine 4'])
    // GossipSub may also hand a newcomer the last seconds' messages live (its gossip of recent message ids):
    // those are A's own, signed, not history, and never the forger's versions
    expect(got.every(m => m.from === A.id && /^genuine \d$/.test(m.text ?? ''))).toBe(true)
    // muted: C drops the forger's beacons, so it leaves C's room, while A (which it never lied to) keeps it
    await waitForRoomPeers(pc, 'forged', [A.id], 30_000)
    expect(await pa.evaluate(() => (window as any).rooms.forged.peers)).toContain(forger.id)
    await send(pa, 'forged', 'after the forger')
    await waitForMessage(pc, 'forged', 'after the forger')
    expect((await inbox(pc, 'forged')).some(m => m.text?.startsWith('forged') === true)).toBe(false)
  } finally {
    await forger.stop()
  }
})
