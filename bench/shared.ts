// What the figures (bench/figures/*.ts) share: the options, what the runner started for them (Env), the calls
// into the benchmark pages (bench/page.js), pairs of pages, and rows and their samples.
import type { Figure, Row } from './stats.ts'
import type { RelayProcess } from '../test-e2e/support.ts'
import type { Browser, BrowserContext, Page } from '@playwright/test'

export const FIGURES = ['bundle', 'ready', 'connect', 'distance', 'heal', 'latency', 'load', 'throughput', 'content', 'relay'] as const
export type FigureId = typeof FIGURES[number]

export interface Options {
  runs: number
  only: Set<FigureId>
  /** one-way latency: messages per round, rounds = runs / 2 */
  messages: number
  /** throughput: bytes per transfer */
  bytes: number
  /** throughput: bytes per write */
  chunk: number
  /** content: bytes of the file fetched */
  contentBytes: number
}

/** The relay process, the page server, the raw baseline's signalling server and the browsers (bench/env.ts) */
export interface Env {
  relay: RelayProcess
  siteUrl: string
  signallingUrl: string
  browsers: { chromiumA: Browser, chromiumB: Browser, firefox?: Browser }
  options: Options
  /** browser versions, for results.json */
  versions: Record<string, string>
}

/** What a figure is given */
export interface Context {
  options: Options
  /** a temporary folder for this run, removed at the end */
  dir: string
  /** the Env, started when the first figure that needs it asks */
  env: () => Promise<Env>
}

export const log = (...args: unknown[]): void => { console.error(`[bench ${new Date().toISOString().slice(11, 19)}]`, ...args) }

/** Rejects after `ms`: a benchmark step that hangs counts as a failed run, it does not hang the benchmark */
export async function within<T> (ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined
  try {
    return await Promise.race([promise, new Promise<never>((_resolve, reject) => { timer = setTimeout(() => { reject(new Error(`${what}: no result within ${ms} ms`)) }, ms) })])
  } finally {
    clearTimeout(timer)
  }
}

// ---------------------------------------------------------------- the pages

/** Which bundle a page loads before bench/page.js: Peerlane, the stock js-libp2p build, or none (raw WebRTC) */
export type Bundle = 'peerlane' | 'stock' | 'none'

export async function openPage (env: Env, browser: Browser | BrowserContext, bundle: Bundle): Promise<Page> {
  const page = await browser.newPage()
  page.on('pageerror', err => { log(`page error: ${err.message}`) })
  // the baselines (stock libp2p, raw RTCPeerConnection) get the STUN server Peerlane peers learn from the relay:
  // in default browser settings host candidates are mDNS names, and without STUN nothing links at all
  const iceServers = env.relay.stunPort === 0 ? [] : [{ urls: `stun:127.0.0.1:${env.relay.stunPort}` }]
  await page.addInitScript((iceServers) => { (window as any).BENCH_ICE_SERVERS = iceServers }, iceServers)
  await page.goto(`${env.siteUrl}?bundle=${bundle}`)
  await page.waitForFunction(() => (window as any).bench != null)
  return page
}

/** Calls window.bench[name](args) in the page */
export async function call<T = any> (page: Page, name: string, args: Record<string, unknown> = {}, timeout = 30_000): Promise<T> {
  return await within(timeout, name, page.evaluate(async ({ name, args }) => await (window as any).bench[name](args), { name, args }))
}

export async function closePages (...pages: Array<Page | undefined>): Promise<void> {
  await Promise.all(pages.map(async page => {
    if (page == null) return
    await within(10_000, 'close page', page.context().close()).catch(() => {})
  }))
}

/**
 * Two pages with `bundle` (in the two Chromium processes, or in `targets`), both ready on the relay (`on`: the
 * stock node's event to wait for); `body` runs with them and their PeerIds, then both stop
 */
export async function withReadyPages (env: Env, bundle: 'peerlane' | 'stock', body: (pa: Page, pb: Page, a: string, b: string) => Promise<void>,
  { on, targets }: { on?: string, targets?: Array<Browser | BrowserContext> } = {}): Promise<void> {
  const [pa, pb] = await Promise.all((targets ?? [env.browsers.chromiumA, env.browsers.chromiumB]).map(async target => await openPage(env, target, bundle)))
  try {
    const [a, b] = await Promise.all([pa, pb].map(async p => call(p, `${bundle}Ready`, on == null ? { relay: env.relay.address } : { relay: env.relay.address, on })))
    await body(pa, pb, a.id, b.id)
    await Promise.all([pa, pb].map(async p => call(p, `${bundle}Stop`, {}, 10_000).catch(() => {})))
  } finally {
    await closePages(pa, pb)
  }
}

/** Two Chromium pages with a direct Peerlane link, both in room `bench`; `body` runs with them */
export async function withLinkedPeers (env: Env, body: (pa: Page, pb: Page, a: string, b: string) => Promise<void>): Promise<void> {
  await withReadyPages(env, 'peerlane', async (pa, pb, a, b) => {
    await call(pb, 'peerlaneConnect', { peerId: a })
    await body(pa, pb, a, b)
  })
}

/** Two Peerlane peers whose pages have no WebRTC (as with a policy that turns it off): rooms go through the relay */
export async function withRelayedPeers (env: Env, body: (pa: Page, pb: Page, a: string, b: string) => Promise<void>): Promise<void> {
  const contexts = await Promise.all([env.browsers.chromiumA, env.browsers.chromiumB].map(async browser => {
    const context = await browser.newContext()
    await context.addInitScript(() => { (window as any).RTCPeerConnection = class { constructor () { throw new DOMException('WebRTC is off', 'NotSupportedError') } } })
    return context
  }))
  try {
    await withReadyPages(env, 'peerlane', body, { targets: contexts })
  } finally {
    await Promise.all(contexts.map(async context => await context.close().catch(() => {})))
  }
}

/**
 * Two Chromium pages with no bundle, the first answering raw WebRTC offers on the signalling server; `body` runs
 * with them and `connect`, which makes the second page's RTCPeerConnection to the first and resolves to its ms
 */
export async function withRawPages (env: Env, body: (pa: Page, pb: Page, connect: () => Promise<number>) => Promise<void>): Promise<void> {
  const [pa, pb] = await Promise.all([openPage(env, env.browsers.chromiumA, 'none'), openPage(env, env.browsers.chromiumB, 'none')])
  const a = `a-${Math.random().toString(16).slice(2)}`
  try {
    await call(pa, 'rawListen', { signalling: env.signallingUrl, id: a })
    await body(pa, pb, async () => (await call(pb, 'rawConnect', { signalling: env.signallingUrl, id: `b-${a}`, target: a })).ms)
    await Promise.all([pa, pb].map(async p => call(p, 'rawClose', {}, 10_000).catch(() => {})))
  } finally {
    await closePages(pa, pb)
  }
}

/** Two Chromium pages linked by a raw RTCDataChannel; `body` runs with them */
export async function withRawPair (env: Env, body: (pa: Page, pb: Page) => Promise<void>): Promise<void> {
  await withRawPages(env, async (pa, pb, connect) => {
    await connect()
    await body(pa, pb)
  })
}

// ---------------------------------------------------------------- rows and samples

export function row (name: string, role: Row['role'] = 'baseline', note?: string): Row {
  return { name, role, samples: [], failures: 0, note }
}

/** Runs `measure` and records its sample (or a failure) in `target` */
export async function sample (target: Row, measure: () => Promise<number | number[]>): Promise<void> {
  try {
    const value = await measure()
    target.samples.push(...(Array.isArray(value) ? value : [value]))
  } catch (err: any) {
    target.failures++
    log(`${target.name}: run failed: ${String(err?.message ?? err).split('\n')[0]}`)
  }
}

/** Runs `measure` once as a warm-up (its result and failure dropped) without `subject`, or as a sample of it */
export async function warmUpOrSample (subject: Row | undefined, measure: () => Promise<number>): Promise<void> {
  if (subject == null) await measure().catch(() => {})
  else await sample(subject, measure)
}

/** Adds one sample per phase ({ phase: ms }) to the figure's rows, creating rows in the order phases come */
export function addPhases (figure: Figure, phases: Record<string, number>): void {
  for (const [name, ms] of Object.entries(phases).sort((a, b) => a[1] - b[1])) {
    let target = figure.rows.find(r => r.name === name)
    if (target == null) figure.rows.push(target = row(name))
    target.samples.push(ms)
  }
}
