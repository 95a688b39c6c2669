// content: peer.fetch throughput of a --content-bytes file from one holder, beside one raw RTCDataChannel, and
// from two holders at once, beside two raw data channels from two senders to one receiver (all Chromium, direct
// WebRTC on one host); and the fetching renderer's peak RSS growth (from /proc), the page in a browser of its own
// with a profile on disk (blocks go to a real IndexedDB, as users have it).
import { chromium } from '@playwright/test'
import { mkdtempSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { chromiumLaunchOptions } from '../../test-e2e/browsers.ts'
import { rendererPids, rss } from '../../test-e2e/proc.ts'
import { call, closePages, log, openPage, row, sample } from '../shared.ts'
import type { Context, Env } from '../shared.ts'
import type { Figure, Row } from '../stats.ts'
import type { Page } from '@playwright/test'

const MiB = 1024 * 1024

/** `holders` pages (chromiumA) share one file; a fetcher (its own persistent Chromium) links to each and fetches it */
async function peerlaneRound (env: Env, ctx: Context, holders: number, seed: number, speed: Row, memory: Row): Promise<void> {
  const size = env.options.contentBytes
  const dir = mkdtempSync(join(ctx.dir, 'fetcher-'))
  const fetcherBrowser = await chromium.launchPersistentContext(dir, await chromiumLaunchOptions())
  const pages: Page[] = []
  try {
    for (let i = 0; i < holders; i++) pages.push(await openPage(env, env.browsers.chromiumA, 'peerlane'))
    const fetcher = await openPage(env, fetcherBrowser, 'peerlane')
    pages.push(fetcher)
    const ids = (await Promise.all(pages.map(async p => call(p, 'peerlaneReady', { relay: env.relay.address })))).map(r => r.id as string)
    const holderIds = ids.slice(0, holders)
    const shared = await Promise.all(pages.slice(0, holders).map(async p => call(p, 'peerlaneShare', { size, seed }, 120_000)))
    if (new Set(shared.map(s => s.ref.cid)).size !== 1) throw new Error('the holders\' CIDs differ')
    for (const id of holderIds) await call(fetcher, 'peerlaneConnect', { peerId: id })
    const pids = rendererPids(dir)
    if (pids.length === 0) throw new Error('no renderer process found for the fetcher')
    const before = pids.reduce((sum, pid) => sum + rss(pid), 0)
    let peak = before
    const sampler = setInterval(() => { peak = Math.max(peak, pids.reduce((sum, pid) => sum + rss(pid), 0)) }, 50)
    try {
      const result = await call(fetcher, 'peerlaneFetch', { ref: shared[0].ref, from: holderIds }, 300_000)
      if (result.bytes !== size) throw new Error(`fetched ${result.bytes} bytes of ${size}`)
      const counts = holderIds.map(id => result.byHolder[id] ?? 0)
      log(`content: ${holders} holder(s), ${(size / MiB).toFixed(0)} MiB in ${result.ms.toFixed(0)} ms, blocks per holder ${counts.join(' / ')}, renderer RSS +${((peak - before) / MiB).toFixed(0)} MiB`)
      // from several holders means from several: each served a share
      if (holders > 1 && counts.some(n => n === 0)) throw new Error(`a holder served no block: ${counts.join(' / ')}`)
      await sample(speed, async () => (size / MiB) / (result.ms / 1000))
      await sample(memory, async () => (peak - before) / MiB)
    } finally {
      clearInterval(sampler)
    }
    await Promise.all(pages.map(async p => call(p, 'peerlaneStop', {}, 10_000).catch(() => {})))
  } finally {
    await closePages(...pages)
    await fetcherBrowser.close().catch(() => {})
    rmSync(dir, { recursive: true, force: true })
  }
}

/** `senders` pages each send --content-bytes / senders over a raw data channel of their own to one receiver */
async function rawRound (env: Env, senders: number, speed: Row): Promise<void> {
  const size = env.options.contentBytes
  const chunk = 16 * 1024
  const receiver = await openPage(env, env.browsers.chromiumB, 'none')
  const pages: Page[] = []
  const id = `r-${Math.random().toString(16).slice(2)}`
  try {
    await call(receiver, 'rawListen', { signalling: env.signallingUrl, id })
    for (let i = 0; i < senders; i++) pages.push(await openPage(env, env.browsers.chromiumA, 'none'))
    for (const [i, p] of pages.entries()) await call(p, 'rawConnect', { signalling: env.signallingUrl, id: `s${i}-${id}`, target: id })
    const share = Math.floor(size / senders / chunk) * chunk
    const t0 = Date.now()
    await Promise.all(pages.map(async p => call(p, 'rawThroughput', { total: share, chunk }, 300_000)))
    const ms = Date.now() - t0
    await sample(speed, async () => ((share * senders) / MiB) / (ms / 1000))
    await Promise.all([receiver, ...pages].map(async p => call(p, 'rawClose', {}, 10_000).catch(() => {})))
  } finally {
    await closePages(receiver, ...pages)
  }
}

export async function content (ctx: Context): Promise<Figure[]> {
  const env = await ctx.env()
  const mib = env.options.contentBytes / MiB
  log(`content fetch (${mib} MiB)`)
  const one = row('Peerlane peer.fetch, 1 holder', 'subject')
  const rawOne = row('raw RTCDataChannel, 1 sender, 16 KiB messages')
  const two = row('Peerlane peer.fetch, 2 holders at once', 'related')
  const rawTwo = row('raw RTCDataChannels, 2 senders at once')
  const memOne = row('fetcher renderer RSS growth, 1 holder', 'subject')
  const memTwo = row('fetcher renderer RSS growth, 2 holders', 'related')
  const speed: Figure = {
    id: 'content',
    title: `content fetch: ${mib} MiB, Chromium pages on direct WebRTC, blocks of 256 KiB into IndexedDB on disk`,
    unit: 'MiB/s',
    better: 'higher',
    rows: [one, rawOne, two, rawTwo],
    targets: [
      { kind: 'ratio', baseline: rawOne.name, value: 0.8, text: '1 holder ≥ 80% of one raw data channel (medians)' },
      { kind: 'ratio', row: two.name, baseline: rawTwo.name, value: 0.8, text: '2 holders ≥ 80% of two raw senders (medians)' }
    ],
    notes: ['timed in the fetching page from peer.fetch() until the last byte of its stream is read (every block verified and stored); raw: from the first send until each receiver acknowledges its last byte']
  }
  const memory: Figure = {
    id: 'content.memory',
    title: `content fetch: the fetching renderer's peak RSS growth (/proc VmRSS, sampled every 50 ms) for ${mib} MiB`,
    unit: 'MiB',
    better: 'lower',
    rows: [memOne, memTwo],
    targets: [{ kind: 'median', value: 64 * mib / 1024, text: `≤ 64 MiB per GiB fetched (${(64 * mib / 1024).toFixed(0)} MiB here)` }]
  }
  const rounds = Math.max(2, Math.ceil(env.options.runs / 2))
  for (let round = 0; round < rounds; round++) {
    await peerlaneRound(env, ctx, 1, 1000 + round, one, memOne).catch(err => { one.failures++; log(`content round (1 holder) failed: ${err.message}`) })
    await rawRound(env, 1, rawOne).catch(err => { rawOne.failures++; log(`raw round (1 sender) failed: ${err.message}`) })
    await peerlaneRound(env, ctx, 2, 2000 + round, two, memTwo).catch(err => { two.failures++; log(`content round (2 holders) failed: ${err.message}`) })
    await rawRound(env, 2, rawTwo).catch(err => { rawTwo.failures++; log(`raw round (2 senders) failed: ${err.message}`) })
  }
  return [speed, memory]
}
