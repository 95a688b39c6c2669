// H1 of issue 15, "any peer can make a browser unreachable": Node attackers (stock js-libp2p, test-e2e/attacker.ts)
// open circuits at a Chromium page through the real Peerlane relay as fast as they can, some completing their
// handshakes and keeping the connections, some leaving them hanging. Every relayed connection seems to come
// from the relay's address, so libp2p's per-address limits were shared by everyone behind the relay: an honest
// connect() failed. Now each remote PeerId has its own (src/inbound.ts): honest connect()s and requests get
// through during and after the flood, each attacker gets at most its share, and the victim's connections stay
// bounded.
//
// The relay runs with its per-target circuit limits raised (--max-circuits-per-target[-per-ip]): they stand in
// for attackers on many hosts (the defaults, 8 per IP and 64 per target, take 8 hosts to fill), and without
// them the relay would refuse the flood before the victim's own limits are reached.
import { flood } from './attacker.ts'
import { test, expect, openPage } from './fixtures.ts'
import { request, startPeer } from './peer-page.ts'
import type { Page } from '@playwright/test'

const ATTACKERS = 4
const STALLERS = 2
const LOOPS = 24
// src/inbound.ts INBOUND_LIMITS
const PER_PEER = 6
const PER_MINUTE = 20
const HONEST_DIALS = 4
const PROTOCOL = '/test/echo/1.0.0'

/** The victim's open connections: all of them, and the most from one remote peer */
async function connectionCount (page: Page): Promise<{ total: number, byPeer: number }> {
  return await page.evaluate(() => {
    const conns = (window as any).peer.libp2p.getConnections()
    const byPeer = new Map<string, number>()
    for (const c of conns) byPeer.set(c.remotePeer.toString(), (byPeer.get(c.remotePeer.toString()) ?? 0) + 1)
    return { total: conns.length, byPeer: Math.max(0, ...byPeer.values()) }
  })
}

/** A fresh connect() from `page` to `peerId` (earlier connections hung up first) and one request answered */
async function honestDial (page: Page, peerId: string, text: string): Promise<boolean> {
  const link = await page.evaluate(async (id) => {
    const peer = (window as any).peer
    for (const c of peer.libp2p.getConnections()) if (c.remotePeer.toString() === id) await c.close().catch(() => {})
    return await peer.connect(id, { signal: AbortSignal.timeout(30_000) }).then((l: any) => ({ peerId: l.peerId }), (e: any) => ({ error: `${e.name}: ${e.message}` }))
  }, peerId)
  if (link.peerId !== peerId) { console.log(`honest connect() failed: ${link.error}`); return false }
  const answer = await request(page, peerId, PROTOCOL, text)
  if (answer.text !== text) console.log(`honest request failed: ${answer.name}: ${answer.error}`)
  return answer.text === text
}

test('H1: a circuit flood at one browser: honest peers still connect and are answered, the attackers get their share, the victim stays bounded', async ({ newRelay, launch, pageUrl }) => {
  test.setTimeout(240_000)
  const relay = newRelay(['--max-circuits-per-target', '1000', '--max-circuits-per-target-per-ip', '1000'])
  await relay.prepare()
  await relay.start()
  const browser = await launch('chromium')
  const victimPage = await openPage(await browser.newContext(), pageUrl)
  const honestPage = await openPage(await browser.newContext(), pageUrl)
  const victim = await startPeer(victimPage, [relay.address])
  await victimPage.evaluate(async (protocol) => { await (window as any).peer.handle(protocol, (data: Uint8Array) => data) }, PROTOCOL)
  await startPeer(honestPage, [relay.address])

  const started = Date.now()
  const full = await flood(relay.address, victim.id, { peers: ATTACKERS, circuits: LOOPS })
  const stalled = await flood(relay.address, victim.id, { peers: STALLERS, circuits: LOOPS, stall: true })
  const counts: Array<{ total: number, byPeer: number }> = []
  let ok = 0
  let afterOk = 0
  try {
    // the flood is on: more attempts than the victim accepts from each attacker in a minute
    await expect.poll(() => full.stats.opened + full.stats.refused, { timeout: 60_000 }).toBeGreaterThan(ATTACKERS * PER_MINUTE * 2)
    await expect.poll(() => stalled.stats.stalled, { timeout: 60_000 }).toBeGreaterThan(STALLERS * LOOPS)
    counts.push(await connectionCount(victimPage))

    // honest dials during the flood: each a new connect() (the last one hung up) and a request answered
    for (let i = 0; i < HONEST_DIALS; i++) {
      if (await honestDial(honestPage, victim.id, `during ${i}`)) ok++
      counts.push(await connectionCount(victimPage))
    }
  } finally {
    await Promise.all([full.stop(), stalled.stop()])
  }
  // and after it
  if (await honestDial(honestPage, victim.id, 'after')) afterOk++
  counts.push(await connectionCount(victimPage))

  const minutes = Math.ceil((Date.now() - started) / 60_000)
  console.log(`H1: honest dials ok ${ok}/${HONEST_DIALS} during the flood, ${afterOk}/1 after; attacker circuits accepted ${full.stats.opened}, refused or failed ${full.stats.refused} (${ATTACKERS} attackers × ${LOOPS} loops, ${minutes} min); ${stalled.stats.stalled} handshakes left hanging; victim connections ${counts.map(c => `${c.total}/${c.byPeer}`).join(' ')} (all/most from one peer)`)

  expect(ok).toBe(HONEST_DIALS)
  expect(afterOk).toBe(1)
  // each attacker got no more than its share, however often it tried: it keeps what it opened, so after its first
  // PER_PEER every circuit is refused (PER_MINUTE a minute would let more through only as circuits close)
  expect(full.stats.opened).toBeLessThanOrEqual(ATTACKERS * Math.min(PER_PEER, PER_MINUTE * minutes))
  // bounded: the relay, at most PER_PEER relayed from each attacker, the honest peer's (relayed and WebRTC)
  for (const count of counts) {
    expect(count.byPeer).toBeLessThanOrEqual(PER_PEER)
    expect(count.total).toBeLessThanOrEqual(1 + (ATTACKERS + STALLERS) * PER_PEER + 2)
  }
})
