// load: tail latency under load. PAGES Chromium pages (alternately in the two browser processes) in one room,
// all linked directly, each sending RATE messages a second for SECONDS: one-way delivery of every message to
// every other member (median, p99, max), losses, and main-thread CPU per message handled (Chrome DevTools
// Protocol's TaskDuration); beside raw RTCDataChannels in a full mesh carrying the same traffic.
import { call, closePages, log, openPage, row } from '../shared.ts'
import type { Context, Env } from '../shared.ts'
import type { Figure, Row } from '../stats.ts'
import type { Page } from '@playwright/test'

const PAGES = 8
const RATE = 25
const SECONDS = 30
const SIZE = 64

/** [from, seq, sentAt, receivedAt] as the pages record them (bench/page-load.js) */
type Receipt = [string, number, number, number]

interface Outcome { oneWay: number[], expected: number, received: number, cpuMsPerMessage: number }

/** Main-thread busy seconds of each page so far (DevTools Protocol Performance.getMetrics TaskDuration), one session per page */
async function cpuMeters (pages: Page[]): Promise<() => Promise<number[]>> {
  const sessions = await Promise.all(pages.map(async page => {
    const cdp = await page.context().newCDPSession(page)
    await cdp.send('Performance.enable')
    return cdp
  }))
  return async () => await Promise.all(sessions.map(async cdp => (await cdp.send('Performance.getMetrics')).metrics.find(m => m.name === 'TaskDuration')?.value ?? NaN))
}

/** Runs the send phase on every page at once and gathers what each received */
async function measure (pages: Page[], prefix: 'load' | 'rawMesh'): Promise<Outcome> {
  const cpu = await cpuMeters(pages)
  const before = await cpu()
  // each page says how many messages it sent and to how many others (its members, or its open raw channels)
  const sent = await Promise.all(pages.map(async p => await call<{ sent: number, to: number }>(p, `${prefix}Send`, { rate: RATE, seconds: SECONDS, size: SIZE }, (SECONDS + 30) * 1000)))
  await new Promise(resolve => setTimeout(resolve, 2_000)) // the last messages arrive
  const after = await cpu()
  const receipts = await Promise.all(pages.map(async p => await call<Receipt[]>(p, `${prefix}Results`)))
  const oneWay: number[] = []
  let received = 0
  receipts.forEach(list => {
    const seen = new Set<string>()
    for (const [from, seq, at, got] of list) {
      const key = `${from}/${seq}`
      if (seen.has(key)) continue
      seen.add(key)
      received++
      oneWay.push(got - at)
    }
  })
  const expected = sent.reduce((sum, s) => sum + s.sent * s.to, 0)
  const messages = sent.reduce((sum, s) => sum + s.sent, 0) + received
  const busyMs = after.reduce((sum, t, i) => sum + (t - before[i]) * 1000, 0)
  return { oneWay, expected, received, cpuMsPerMessage: busyMs / messages }
}

async function openPages (env: Env, bundle: 'peerlane' | 'none'): Promise<Page[]> {
  const browsers = [env.browsers.chromiumA, env.browsers.chromiumB]
  return await Promise.all(Array.from({ length: PAGES }, async (_, i) => await openPage(env, browsers[i % browsers.length], bundle)))
}

async function peerlaneOnce (env: Env): Promise<Outcome> {
  const pages = await openPages(env, 'peerlane')
  try {
    await Promise.all(pages.map(async p => await call(p, 'peerlaneReady', { relay: env.relay.address })))
    const room = `load-${Date.now()}`
    await Promise.all(pages.map(async p => await call(p, 'loadJoin', { room })))
    await Promise.all(pages.map(async p => await call(p, 'loadReady', { count: PAGES - 1 }, 70_000)))
    return await measure(pages, 'load')
  } finally {
    await Promise.all(pages.map(async p => await call(p, 'peerlaneStop', {}, 10_000).catch(() => {})))
    await closePages(...pages)
  }
}

async function rawOnce (env: Env): Promise<Outcome> {
  const pages = await openPages(env, 'none')
  const ids = pages.map((_, i) => `load-${i}-${Math.random().toString(16).slice(2, 8)}`)
  try {
    await Promise.all(pages.map(async (p, i) => await call(p, 'rawMeshJoin', { signalling: env.signallingUrl, id: ids[i], peers: ids })))
    const open = await Promise.all(pages.map(async p => await call<number>(p, 'rawMeshReady', { count: PAGES - 1 }, 70_000)))
    if (open.some(n => n < PAGES - 1)) log(`load, raw: open channels per page ${open.join(' ')} (not all ${PAGES - 1}); measured over those`)
    return await measure(pages, 'rawMesh')
  } finally {
    await Promise.all(pages.map(async p => await call(p, 'rawMeshClose', {}, 10_000).catch(() => {})))
    await closePages(...pages)
  }
}

const p = (sorted: number[], q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN

export async function load (ctx: Context): Promise<Figure[]> {
  const env = await ctx.env()
  log(`load: ${PAGES} pages, ${RATE} messages/s each for ${SECONDS} s`)
  const oneWay = row(`Peerlane room, ${PAGES} members`, 'subject')
  const rawOneWay = row(`raw RTCDataChannel mesh, ${PAGES} pages`)
  const tail: Figure = {
    id: 'load.tail',
    title: `load: one-way delivery, p99, max, losses and main-thread CPU, ${PAGES} pages × ${RATE} msg/s × ${SECONDS} s`,
    unit: 'ms (losses: messages; CPU: ms per message sent or received)',
    better: 'lower',
    breakdown: true,
    rows: []
  }
  const outcomes: Record<string, Outcome | undefined> = {}
  for (const [name, target, once] of [['Peerlane', oneWay, peerlaneOnce], ['raw', rawOneWay, rawOnce]] as Array<[string, Row, (env: Env) => Promise<Outcome>]>) {
    try {
      const outcome = outcomes[name] = await once(env)
      target.samples.push(...outcome.oneWay)
    } catch (err: any) {
      target.failures++
      log(`load, ${name}: failed: ${String(err?.message ?? err).split('\n')[0]}`)
    }
  }
  for (const [name, outcome] of Object.entries(outcomes)) {
    if (outcome == null) continue
    const sorted = [...outcome.oneWay].sort((a, b) => a - b)
    tail.rows.push({ ...row(`${name} p99 one-way`), samples: [p(sorted, 0.99)] })
    tail.rows.push({ ...row(`${name} max one-way`), samples: [sorted[sorted.length - 1] ?? NaN] })
    tail.rows.push({ ...row(`${name} lost (of ${outcome.expected})`), samples: [outcome.expected - outcome.received] })
    tail.rows.push({ ...row(`${name} main-thread CPU per message`), samples: [outcome.cpuMsPerMessage] })
  }
  const figure: Figure = {
    id: 'load',
    title: `load: one-way delivery of room messages, ${PAGES} Chromium pages in 2 processes, ${RATE} msg/s each for ${SECONDS} s`,
    unit: 'ms',
    better: 'lower',
    rows: [oneWay, rawOneWay],
    targets: [{ kind: 'median', value: 1.5, text: 'median ≤ 1.5 ms' }],
    notes: ['one-way = received − sent, both epoch ms in pages of one machine; each message to each of the other members; duplicates (the relay\'s copy) count once',
      'targets p99 ≤ 10 ms and no loss: see load.tail']
  }
  return [figure, tail]
}
