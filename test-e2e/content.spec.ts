// Content end to end: peer.share / peer.fetch between Chromium pages (blocks in IndexedDB, Bitswap over WebRTC)
// through a real relay process; the engine chunk (dist/peerlane-content.mjs) loads from beside the script tag.
import { test, expect, openPage } from './fixtures.ts'
import { joinRoom, startPeer, waitForRoomPeers } from './peer-page.ts'
import { rendererPids, rss } from './proc.ts'
import type { BrowserContext, Page } from '@playwright/test'

const MiB = 1024 * 1024

/** In the page: a deterministic stream of `size` bytes (the same in every page for one seed), and the SHA-256 of each MiB of it */
async function share (page: Page, size: number, seed: number): Promise<{ ref: any, digests: string }> {
  return await page.evaluate(async ({ size, seed }) => {
    const w = window as any
    const hex = (b: ArrayBuffer): string => [...new Uint8Array(b)].map(x => x.toString(16).padStart(2, '0')).join('')
    const digests: string[] = []
    let made = 0
    let x = seed
    const stream = new ReadableStream<Uint8Array>({
      async pull (controller) {
        if (made >= size) { controller.close(); return }
        const chunk = new Uint32Array(Math.min(1024 * 1024, size - made) / 4)
        for (let i = 0; i < chunk.length; i++) { x ^= x << 13; x ^= x >>> 17; x ^= x << 5; chunk[i] = x >>> 0 }
        made += chunk.byteLength
        digests.push(hex(await crypto.subtle.digest('SHA-256', chunk)))
        controller.enqueue(new Uint8Array(chunk.buffer))
      }
    }, { highWaterMark: 0 })
    const ref = await w.peer.share(stream, { name: 'big.bin', type: 'text/html' })
    return { ref, digests: digests.join('') }
  }, { size, seed })
}

/**
 * In the page: fetches `ref` as a stream and hashes each MiB; `abortAt` aborts once that many bytes are
 * stored. Resolves to the digests (or the abort), the blocks each holder sent, and the last progress.
 */
async function fetchIn (page: Page, ref: any, from: string[], abortAt?: number): Promise<{ digests?: string, error?: string, blob?: { type: string }, byHolder: Record<string, number>, dropped: string[], last: any }> {
  return await page.evaluate(async ({ ref, from, abortAt }) => {
    const w = window as any
    const hex = (b: ArrayBuffer): string => [...new Uint8Array(b)].map(x => x.toString(16).padStart(2, '0')).join('')
    const byHolder: Record<string, number> = {}
    const dropped: string[] = []
    let last: any
    const controller = new AbortController()
    try {
      const stream: ReadableStream<Uint8Array> = await w.peer.fetch(ref, {
        from,
        as: 'stream',
        signal: controller.signal,
        onProgress: (p: any) => {
          if (p.type === 'bytes') {
            last = p
            if (p.from != null) byHolder[p.from] = (byHolder[p.from] ?? 0) + 1
            if (abortAt != null && p.bytes >= abortAt) controller.abort(new Error('aborted halfway'))
          }
          if (p.type === 'dropped') dropped.push(`${p.peerId} ${p.reason}`)
        }
      })
      const digests: string[] = []
      let window = new Uint8Array(1024 * 1024)
      let filled = 0
      for await (const chunk of stream as any as AsyncIterable<Uint8Array>) {
        let at = 0
        while (at < chunk.byteLength) {
          const n = Math.min(window.byteLength - filled, chunk.byteLength - at)
          window.set(chunk.subarray(at, at + n), filled)
          filled += n
          at += n
          if (filled === window.byteLength) { digests.push(hex(await crypto.subtle.digest('SHA-256', window))); window = new Uint8Array(1024 * 1024); filled = 0 }
        }
      }
      if (filled > 0) digests.push(hex(await crypto.subtle.digest('SHA-256', window.subarray(0, filled))))
      return { digests: digests.join(''), byHolder, dropped, last }
    } catch (err: any) {
      return { error: `${err.name}: ${err.message}`, byHolder, dropped, last }
    }
  }, { ref, from, abortAt })
}

/**
 * Three Chromium pages in a room, each in a browser of its own with a profile on disk (a context without one is
 * "incognito": its IndexedDB lives in memory, under a small quota), as users run them
 */
async function threePages (launchPersistent: (kind: 'chromium', dir: string) => Promise<BrowserContext>, dir: (name: string) => string, pageUrl: string, relay: string): Promise<{ dirs: string[], pages: Page[], ids: string[] }> {
  const dirs = ['a', 'b', 'c'].map(dir)
  const contexts = await Promise.all(dirs.map(async d => await launchPersistent('chromium', d)))
  const pages = await Promise.all(contexts.map(async context => openPage(context, pageUrl)))
  const ids = (await Promise.all(pages.map(async page => startPeer(page, [relay])))).map(p => p.id)
  await Promise.all(pages.map(async page => joinRoom(page, 'files')))
  for (const [i, page] of pages.entries()) await waitForRoomPeers(page, 'files', ids.filter((_, j) => j !== i), 45_000)
  return { dirs, pages, ids }
}

test('a 200 MiB file shared by two pages is fetched by a third from both, aborted halfway and resumed with only the missing blocks, byte-identical, in bounded renderer memory', async ({ relay, launchPersistent, pageUrl }, testInfo) => {
  test.setTimeout(600_000)
  const size = 200 * MiB
  const { dirs, pages: [a, b, c], ids: [idA, idB] } = await threePages(launchPersistent, d => testInfo.outputPath(d), pageUrl, relay.address)
  const [sharedA, sharedB] = await Promise.all([share(a, size, 12345), share(b, size, 12345)])
  expect(sharedB.ref.cid).toBe(sharedA.ref.cid)
  expect(sharedA.ref).toMatchObject({ size, name: 'big.bin', type: 'text/html' })

  // the fetching renderer's memory, sampled while it fetches
  const pids = rendererPids(dirs[2])
  expect(pids.length).toBeGreaterThan(0)
  // per renderer (the page's is one of them): its RSS before the fetch, and the most it reached
  const before = new Map(pids.map(pid => [pid, rss(pid)]))
  const peaks = new Map(before)
  const sampler = setInterval(() => { for (const pid of pids) { try { peaks.set(pid, Math.max(peaks.get(pid) ?? 0, rss(pid))) } catch {} } }, 100)
  const growth = (): number => Math.max(...pids.map(pid => (peaks.get(pid) ?? 0) - (before.get(pid) ?? 0)))
  try {
    const first = await fetchIn(c, sharedA.ref, [], size / 2)
    expect(first.error).toBe('Error: aborted halfway')
    const second = await fetchIn(c, sharedA.ref, [])
    expect(second.error).toBeUndefined()
    expect(second.digests).toBe(sharedA.digests)

    // 800 leaves of 256 KiB, 5 nodes above them and the root: each block stored once, by one of the fetches
    const blocks = 806
    expect(first.last.blocks + second.last.blocks).toBe(blocks)
    expect(second.last.present).toBe(first.last.blocks)
    expect(second.last.blocks).toBeLessThan(blocks * 0.6)
    // both holders served blocks, in both fetches
    for (const run of [first, second]) {
      expect(run.byHolder[idA] ?? 0).toBeGreaterThan(50)
      expect(run.byHolder[idB] ?? 0).toBeGreaterThan(50)
    }
    console.log(`blocks: first fetch ${JSON.stringify(first.byHolder)}, second ${JSON.stringify(second.byHolder)}; renderer RSS grew by ${(growth() / MiB).toFixed(0)} MiB at most (from ${[...before.values()].map(b => (b / MiB).toFixed(0)).join(', ')} MiB)`)
  } finally {
    clearInterval(sampler)
  }
  // blocks go to IndexedDB and the exporter reads 4 MiB at a time, yet the renderer grows by ~370 MiB here
  // (measured 367 MiB: garbage Uint8Arrays from data-channel messages and IndexedDB writes that V8 has not given
  // back yet); this bound catches a fetch that holds the file several times over, not the 64 MiB goal (see bench/README)
  expect(growth()).toBeLessThan(512 * MiB)
})

test('a holder that serves corrupted blocks is detected, dropped and struck, and the blocks come from the other holder', async ({ relay, launchPersistent, pageUrl }, testInfo) => {
  test.setTimeout(300_000)
  const { pages: [a, b, c], ids: [idA, idB] } = await threePages(launchPersistent, d => testInfo.outputPath(d), pageUrl, relay.address)
  const { ref, digests } = await share(a, 8 * MiB, 777)
  await share(b, 8 * MiB, 777)
  // b's IndexedDB goes bad: every leaf block (256 KiB) gets other bytes
  const corrupted = await b.evaluate(async () => {
    const name = 'peerlane-blocks:default'
    const db: IDBDatabase = await new Promise((resolve, reject) => { const r = indexedDB.open(name); r.onsuccess = () => { resolve(r.result) }; r.onerror = () => { reject(r.error) } })
    const tx = db.transaction(name, 'readwrite')
    const store = tx.objectStore(name)
    let n = 0
    await new Promise<void>((resolve, reject) => {
      const cursor = store.openCursor()
      cursor.onsuccess = () => {
        const c = cursor.result
        if (c == null) { resolve(); return }
        if ((c.value as Uint8Array).byteLength === 256 * 1024) { c.update(new Uint8Array(256 * 1024).fill(7)); n++ }
        c.continue()
      }
      cursor.onerror = () => { reject(cursor.error) }
    })
    await new Promise(resolve => { tx.oncomplete = resolve })
    db.close()
    return n
  })
  expect(corrupted).toBe(32)
  // linked to b first, so that b gets asked
  await c.evaluate(async (id) => { await (window as any).peer.connect(id, { allowRelayed: false }) }, idB)
  const result = await fetchIn(c, ref, [idB, idA])
  expect(result.error).toBeUndefined()
  expect(result.digests).toBe(digests)
  expect(result.dropped).toContain(`${idB} bad block`)
  expect(result.byHolder[idA]).toBeGreaterThanOrEqual(32)
  // struck: the Guard's score of b (GossipSub's app-specific score) is down
  expect(await c.evaluate((id) => (window as any).peer.libp2p.services.pubsub.score.params.appSpecificScore(id), idB)).toBeLessThan(0)
})
