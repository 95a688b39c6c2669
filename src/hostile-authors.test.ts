// 100,000 fake room authors (issue 15, line 4, the SDK part): what a peer keeps about authors (Guard) takes the
// same memory however many there are, and the direct links it tries to make to room members stay bounded in
// number and in concurrency. Here with fake keys (100,000 real signed messages would take minutes to make);
// src/hostile-messages.test.ts sends a few thousand real signed messages through a real relay.
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { peerIdFromString } from '@libp2p/peer-id'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { GUARD_DEFAULTS, Guard } from './guard.ts'
import { DirectLinks, MESH_DEFAULTS } from './links.ts'
import type { Connector } from './connect.ts'
import type { PeerNode } from './node.ts'

setFlagsFromString('--expose_gc')
const gc = runInNewContext('gc') as () => void
// the JS heap and the ArrayBuffers outside it (received bytes live there)
const heap = (): number => { gc(); gc(); const m = process.memoryUsage(); return m.heapUsed + m.arrayBuffers }

const MB = 1024 * 1024
const fakeAuthor = (i: number): string => `12D3KooWFake${i.toString().padStart(40, '0')}`

describe('a Guard under a flood of fresh authors', () => {
  it('keeps the same memory for 100,000 authors as for 200,000, and still mutes and rate-limits', () => {
    const guard = new Guard()
    const flood = (from: number, to: number): void => {
      for (let i = from; i < to; i++) {
        const author = fakeAuthor(i)
        guard.allow(author, 'peerlane/1/room/lobby')
        guard.strike(author) // each sends a bad message
      }
    }
    const before = heap()
    flood(0, 100_000)
    const after100k = heap()
    flood(100_000, 200_000)
    const after200k = heap()
    console.log(`Guard heap: +${((after100k - before) / MB).toFixed(1)} MB after 100,000 authors, +${((after200k - before) / MB).toFixed(1)} MB after 200,000`)
    // 2 × maxAuthors records and rate windows of ~200 bytes each: about 4 MB, whatever the flood
    expect(after100k - before).toBeLessThan(8 * MB)
    expect(after200k - after100k).toBeLessThan(2 * MB)

    // an author seen now is still muted and rate-limited as the documentation says
    const spammer = fakeAuthor(1e9)
    for (let i = 0; i < GUARD_DEFAULTS.muteAfter; i++) guard.strike(spammer)
    expect(guard.isMuted(spammer)).toBe(true)
    expect(guard.score(spammer)).toBe(GUARD_DEFAULTS.muteAfter * GUARD_DEFAULTS.scorePerStrike)
    let allowed = 0
    for (let i = 0; i < GUARD_DEFAULTS.messagesPerSecond * 2; i++) if (guard.allow(spammer, 'r')) allowed++
    expect(allowed).toBe(GUARD_DEFAULTS.messagesPerSecond)
  })
})

/** The parts of a node and a connector DirectLinks uses, with every link attempt counted and failing after `ms` */
function fakes (attemptMs: number): { node: PeerNode, connector: Connector, attempts: () => number, maxRunning: () => number } {
  let running = 0
  let maxRunning = 0
  let attempts = 0
  const events = new EventTarget()
  const node = {
    peerId: peerIdFromString('12D3KooWEyoH1kYv9S8YhHxYJiGMD3zsCdh6dPiGpqQtGsBTY31P'),
    getConnections: () => [],
    addEventListener: events.addEventListener.bind(events),
    removeEventListener: events.removeEventListener.bind(events)
  } as unknown as PeerNode
  const connector = {
    hasDirect: () => false,
    directCount: () => 0,
    addEventListener: () => {},
    removeEventListener: () => {},
    connect: async () => {
      attempts++
      maxRunning = Math.max(maxRunning, ++running)
      await new Promise(resolve => setTimeout(resolve, attemptMs))
      running--
      throw new Error('no reservation for this fake author')
    }
  } as unknown as Connector
  return { node, connector, attempts: () => attempts, maxRunning: () => maxRunning }
}

describe('direct links to a flood of fresh room members', () => {
  afterEach(() => { vi.useRealTimers() })

  it('100,000 members: at most MESH_DEFAULTS.concurrentAttempts attempts at once, maxWaiting waiting, attempts bounded', async () => {
    vi.useFakeTimers()
    const { node, connector, attempts, maxRunning } = fakes(2_000)
    const links = new DirectLinks(node, connector, 8)
    const before = heap()
    // the lower PeerId dials at once: half the members are above ours (we dial at once), half below (we wait 3-4 s)
    for (let i = 0; i < 100_000; i++) links.keep(i % 2 === 0 ? fakeAuthor(i) : `12D3KooWA${i}`)
    let maxWaiting = 0
    for (let s = 0; s < 120; s++) {
      await vi.advanceTimersByTimeAsync(1_000)
      maxWaiting = Math.max(maxWaiting, links.load.waiting)
      expect(links.load.running).toBeLessThanOrEqual(MESH_DEFAULTS.concurrentAttempts)
    }
    const grown = heap() - before
    links.stop()
    console.log(`links: ${attempts()} attempts in 120 s (at most ${maxRunning()} at once, ${maxWaiting} waiting), heap +${(grown / MB).toFixed(1)} MB for 100,000 members`)
    expect(maxRunning()).toBe(MESH_DEFAULTS.concurrentAttempts)
    expect(maxWaiting).toBeLessThanOrEqual(MESH_DEFAULTS.maxWaiting)
    // each attempt takes 2 s here: two at a time for 120 s is at most 120 attempts (old: up to 4 per member, all at once)
    expect(attempts()).toBeLessThanOrEqual(120 * MESH_DEFAULTS.concurrentAttempts / 2 + MESH_DEFAULTS.concurrentAttempts)
    expect(attempts()).toBeGreaterThan(10)
    // the member list itself (100,000 strings) is what remains; room presence bounds it
    expect(grown).toBeLessThan(40 * MB)
  })

  it("the app's own connect() goes ahead of the members waiting", async () => {
    vi.useFakeTimers()
    const { node, connector } = fakes(2_000)
    const order: string[] = []
    const connect = connector.connect.bind(connector)
    connector.connect = async (peerId: string, options: any) => { order.push(peerId); return await connect(peerId, options) }
    const links = new DirectLinks(node, connector, 8)
    for (let i = 0; i < 50; i++) links.keep(`12D3KooWZ${i}`) // above our PeerId: dialled at once
    await vi.advanceTimersByTimeAsync(100)
    links.want('12D3KooWAppAsked', true)
    await vi.advanceTimersByTimeAsync(2_100)
    links.stop()
    // two were running when the app asked; the app's is the next to start
    expect(order.indexOf('12D3KooWAppAsked')).toBe(MESH_DEFAULTS.concurrentAttempts)
  })
})
