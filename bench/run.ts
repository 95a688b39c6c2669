// `npm run bench`: Peerlane's figures next to baselines measured in the same run, on this machine, in real
// browsers against a real relay process. Prints a table and writes bench/results.json. See bench/README.md.
//
//   npm run bench                       everything, 10 runs per figure
//   npm run bench -- --runs 20          more runs
//   npm run bench -- --only ready,bundle
//
// Figures: bundle, ready, connect, latency, throughput, relay. Nothing here asserts a time: the targets are
// printed as met or not met, and the exit status is 0 whenever the benchmark itself ran.
import { execFileSync, spawn } from 'node:child_process'
import { createReadStream, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:http'
import { cpus, tmpdir, totalmem } from 'node:os'
import { dirname, extname, join, normalize } from 'node:path'
import { fileURLToPath } from 'node:url'
import { chromium, firefox } from '@playwright/test'
import { WebSocketServer } from 'ws'
import { chromiumLaunchOptions, firefoxLaunchOptions } from '../test-e2e/browsers.ts'
import { bundleSize } from './bundle-size.ts'
import { formatTable, summarize, targetMet } from './stats.ts'
import type { Figure, Row } from './stats.ts'
import type { Browser, BrowserContext, Page } from '@playwright/test'
import type { ChildProcess } from 'node:child_process'
import type { AddressInfo } from 'node:net'
import type { WebSocket } from 'ws'

/** The repository root (this file runs from bench/ or, compiled, from dist/bench/bench/) */
function findRoot (): string {
  let dir = dirname(fileURLToPath(import.meta.url))
  while (dir !== dirname(dir)) {
    const pkg = join(dir, 'package.json')
    if (existsSync(pkg) && JSON.parse(readFileSync(pkg, 'utf8')).name === 'peerlane') return dir
    dir = dirname(dir)
  }
  throw new Error('cannot find the peerlane repository root')
}

const ROOT = findRoot()
const PEERLANE_BUNDLE = join(ROOT, 'dist/peerlane.min.js')
const STOCK_BUNDLE = join(ROOT, 'bench/dist/stock-libp2p.min.js')
const FIGURES = ['bundle', 'ready', 'connect', 'latency', 'throughput', 'relay'] as const
type FigureId = typeof FIGURES[number]

interface Options {
  runs: number
  only: Set<FigureId>
  /** one-way latency: messages per round, rounds = runs / 2 */
  messages: number
  /** throughput: bytes per transfer */
  bytes: number
  /** throughput: bytes per write */
  chunk: number
}

function parseArgs (argv: string[]): Options {
  const options: Options = { runs: 10, only: new Set(FIGURES), messages: 30, bytes: 8 * 1024 * 1024, chunk: 16 * 1024 }
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].split('=', 2)
    const value = (): string => inline ?? argv[++i]
    if (flag === '--runs') options.runs = Number(value())
    else if (flag === '--messages') options.messages = Number(value())
    else if (flag === '--bytes') options.bytes = Number(value())
    else if (flag === '--chunk') options.chunk = Number(value())
    else if (flag === '--only') {
      const wanted = value().split(',').map(s => s.trim())
      const unknown = wanted.filter(w => !(FIGURES as readonly string[]).includes(w))
      if (unknown.length > 0) throw new Error(`--only: unknown figure ${unknown.join(', ')} (known: ${FIGURES.join(', ')})`)
      options.only = new Set(wanted as FigureId[])
    } else throw new Error(`unknown argument ${argv[i]} (known: --runs N, --only ${FIGURES.join(',')}, --messages N, --bytes N, --chunk N)`)
  }
  if (!(options.runs >= 2)) throw new Error('--runs must be at least 2')
  return options
}

const log = (...args: unknown[]): void => { console.error(`[bench ${new Date().toISOString().slice(11, 19)}]`, ...args) }

/** Rejects after `ms`: a benchmark step that hangs counts as a failed run, it does not hang the benchmark */
async function within<T> (ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined
  try {
    return await Promise.race([promise, new Promise<never>((_resolve, reject) => { timer = setTimeout(() => { reject(new Error(`${what}: no result within ${ms} ms`)) }, ms) })])
  } finally {
    clearTimeout(timer)
  }
}

// ---------------------------------------------------------------- processes and servers

class Relay {
  private child?: ChildProcess
  address = ''
  output = ''

  async start (dir: string): Promise<void> {
    const addrFile = join(dir, 'relay-addrs.json')
    this.child = spawn(process.execPath, [join(ROOT, 'dist/relay/peerlane-relay.mjs'), '--port', '0', '--key-file', join(dir, 'relay.key'), '--addr-file', addrFile], { stdio: ['ignore', 'pipe', 'pipe'] })
    this.child.stdout?.on('data', (d: Buffer) => { this.output += d.toString() })
    this.child.stderr?.on('data', (d: Buffer) => { this.output += d.toString() })
    const deadline = Date.now() + 20_000
    while (Date.now() < deadline) {
      if (this.child.exitCode != null) throw new Error(`relay exited with ${this.child.exitCode}:\n${this.output}`)
      const addrs = existsSync(addrFile) ? JSON.parse(readFileSync(addrFile, 'utf8')) as string[] : []
      if (addrs.length > 0) { this.address = addrs[0]; return }
      await new Promise(resolve => setTimeout(resolve, 100))
    }
    throw new Error(`relay did not start within 20 s:\n${this.output}`)
  }

  async stop (): Promise<void> {
    const child = this.child
    if (child == null || child.exitCode != null || child.signalCode != null) return
    const exited = new Promise(resolve => child.once('exit', resolve))
    child.kill('SIGTERM')
    const timer = setTimeout(() => child.kill('SIGKILL'), 6_000)
    await exited
    clearTimeout(timer)
  }
}

/** Serves the bundles, bench/page.js and a page per bundle: /page.html?bundle=peerlane|stock|none */
async function startSite (): Promise<{ url: string, close: () => Promise<void> }> {
  const types: Record<string, string> = { '.js': 'text/javascript', '.map': 'application/json' }
  const scripts: Record<string, string> = { peerlane: '/dist/peerlane.min.js', stock: '/bench/dist/stock-libp2p.min.js', none: '' }
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x')
    if (url.pathname === '/page.html') {
      const script = scripts[url.searchParams.get('bundle') ?? 'none']
      res.writeHead(200, { 'content-type': 'text/html' }).end(`<!doctype html><meta charset="utf-8"><link rel="icon" href="data:,"><title>bench</title>
${script === '' ? '' : `<script src="${script}"></script>`}<script src="/bench/page.js"></script><p>Peerlane benchmark page</p>`)
      return
    }
    const path = normalize(decodeURIComponent(url.pathname))
    if (!path.startsWith('/dist/') && !path.startsWith('/bench/')) { res.writeHead(404).end(); return }
    const file = join(ROOT, path)
    try {
      if (!statSync(file).isFile()) throw new Error('not a file')
      res.writeHead(200, { 'content-type': types[extname(file)] ?? 'application/octet-stream' })
      createReadStream(file).pipe(res)
    } catch {
      res.writeHead(404).end()
    }
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}/page.html`,
    close: async () => { server.closeAllConnections(); await new Promise(resolve => server.close(resolve)) }
  }
}

/** The raw baseline's signalling: a plain WebSocket server that forwards { to, … } messages to `to`, adding `from` */
async function startSignalling (): Promise<{ url: string, close: () => Promise<void> }> {
  const clients = new Map<string, WebSocket>()
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 })
  wss.on('connection', (ws, req) => {
    const id = new URL(req.url ?? '/', 'http://x').searchParams.get('id') ?? ''
    clients.set(id, ws)
    ws.on('message', data => {
      const msg = JSON.parse(data.toString())
      clients.get(msg.to)?.send(JSON.stringify({ ...msg, from: id }))
    })
    ws.on('close', () => { if (clients.get(id) === ws) clients.delete(id) })
  })
  await new Promise(resolve => wss.once('listening', resolve))
  const { port } = wss.address() as AddressInfo
  return {
    url: `ws://127.0.0.1:${port}`,
    close: async () => {
      for (const ws of wss.clients) ws.terminate()
      await new Promise(resolve => wss.close(resolve))
    }
  }
}

// ---------------------------------------------------------------- helpers in pages

interface Env {
  relay: Relay
  siteUrl: string
  signallingUrl: string
  browsers: { chromiumA: Browser, chromiumB: Browser, firefox?: Browser }
  options: Options
}

type Bundle = 'peerlane' | 'stock' | 'none'

async function openPage (env: Env, browser: Browser | BrowserContext, bundle: Bundle): Promise<Page> {
  const page = await browser.newPage()
  page.on('pageerror', err => { log(`page error: ${err.message}`) })
  await page.goto(`${env.siteUrl}?bundle=${bundle}`)
  await page.waitForFunction(() => (window as any).bench != null)
  return page
}

/** Calls window.bench[name](args) in the page */
async function call<T = any> (page: Page, name: string, args: Record<string, unknown> = {}, timeout = 30_000): Promise<T> {
  return await within(timeout, name, page.evaluate(async ({ name, args }) => await (window as any).bench[name](args), { name, args }))
}

async function closePages (...pages: Array<Page | undefined>): Promise<void> {
  await Promise.all(pages.map(async page => {
    if (page == null) return
    await within(10_000, 'close page', page.context().close()).catch(() => {})
  }))
}

function row (name: string, role: Row['role'] = 'baseline', note?: string): Row {
  return { name, role, samples: [], failures: 0, note }
}

/** Runs `measure` and records its sample (or a failure) in `target` */
async function sample (target: Row, measure: () => Promise<number | number[]>): Promise<void> {
  try {
    const value = await measure()
    target.samples.push(...(Array.isArray(value) ? value : [value]))
  } catch (err: any) {
    target.failures++
    log(`${target.name}: run failed: ${String(err?.message ?? err).split('\n')[0]}`)
  }
}

// ---------------------------------------------------------------- figures

function bundleFigures (): Figure[] {
  const ours = bundleSize(PEERLANE_BUNDLE)
  const stock = bundleSize(STOCK_BUNDLE)
  const make = (id: string, key: 'gzip' | 'brotli' | 'bytes', title: string, targets?: Figure['targets']): Figure => ({
    id,
    title,
    unit: 'bytes',
    better: 'lower',
    rows: [
      { ...row('Peerlane dist/peerlane.min.js', 'subject'), samples: [ours[key]] },
      { ...row('stock js-libp2p, same features, same build'), samples: [stock[key]] }
    ],
    targets
  })
  return [
    make('bundle.gzip', 'gzip', 'bundle, gzip -9', [{ kind: 'median', value: 160_000, text: '≤ 160 KB gzip' }]),
    make('bundle.brotli', 'brotli', 'bundle, brotli -q 11'),
    make('bundle.minified', 'bytes', 'bundle, minified (uncompressed)')
  ]
}

async function readyFigure (env: Env, kind: 'chromium' | 'firefox'): Promise<Figure> {
  const browser = kind === 'chromium' ? env.browsers.chromiumA : env.browsers.firefox
  const peerlane = row('Peerlane createPeer', 'subject')
  const stock = row('stock js-libp2p, waits for self:peer:update')
  const stockFast = row('stock js-libp2p, waits for transport:listening')
  const figure: Figure = {
    id: `ready.${kind}`,
    title: `ready: createPeer → reservation, ${kind === 'chromium' ? 'Chromium' : 'Firefox'}`,
    unit: 'ms',
    better: 'lower',
    rows: [peerlane, stock, stockFast],
    notes: ['stock node: same transports and services, fresh Ed25519 key; Peerlane: identity \'memory\' (a fresh key too)',
      'self:peer:update is how libp2p\'s examples wait for a relay address; libp2p emits it a debounced 1 s after the change'],
    targets: kind === 'chromium' ? [{ kind: 'median', value: 150, text: '≤ 150 ms median' }] : undefined
  }
  if (browser == null) { figure.unavailable = `no ${kind}`; return figure }
  const once = async (subject: Row | undefined, bundle: 'peerlane' | 'stock', on?: string): Promise<void> => {
    const page = await openPage(env, browser, bundle)
    try {
      const measure = async (): Promise<number> => (await call(page, `${bundle}Ready`, { relay: env.relay.address, on })).ms
      if (subject == null) await measure().catch(() => {}) // warm-up
      else await sample(subject, measure)
      await call(page, `${bundle}Stop`, {}, 10_000).catch(() => {})
    } finally {
      await closePages(page)
    }
  }
  await once(undefined, 'peerlane')
  await once(undefined, 'stock')
  for (let i = 0; i < env.options.runs; i++) {
    // alternate the order so that neither always runs right after the other
    const order: Array<[Row, 'peerlane' | 'stock', string?]> = [[peerlane, 'peerlane'], [stock, 'stock', 'self:peer:update'], [stockFast, 'stock', 'transport:listening']]
    for (let j = 0; j < order.length; j++) {
      const [subject, bundle, on] = order[(i + j) % order.length]
      await once(subject, bundle, on)
    }
  }
  return figure
}

/** Adds one sample per phase ({ phase: ms }) to the figure's rows, creating rows in the order phases come */
function addPhases (figure: Figure, phases: Record<string, number>): void {
  for (const [name, ms] of Object.entries(phases).sort((a, b) => a[1] - b[1])) {
    let target = figure.rows.find(r => r.name === name)
    if (target == null) figure.rows.push(target = row(name))
    target.samples.push(ms)
  }
}

/** Where the stock start-up spends its time (Chromium): ms from the start at which each phase is reached */
async function readyPhasesFigure (env: Env): Promise<Figure> {
  const figure: Figure = {
    id: 'ready.phases.chromium',
    title: 'ready, phases: stock js-libp2p start-up in Chromium, ms from the start at which each step was reached',
    unit: 'ms',
    better: 'lower',
    breakdown: true,
    rows: [],
    notes: ['Peerlane\'s createPeer runs the same steps (plus identity); its own overhead is the difference in the ready figure']
  }
  for (let i = 0; i <= env.options.runs; i++) {
    const page = await openPage(env, env.browsers.chromiumA, 'stock')
    try {
      const phases = await call<Record<string, number>>(page, 'stockReadyPhases', { relay: env.relay.address })
      if (i > 0) addPhases(figure, phases) // the first is a warm-up
      await call(page, 'stockStop', {}, 10_000).catch(() => {})
    } catch (err: any) {
      log(`ready phases: run failed: ${String(err?.message ?? err).split('\n')[0]}`)
    } finally {
      await closePages(page)
    }
  }
  return figure
}

async function connectFigure (env: Env): Promise<Figure[]> {
  const { chromiumA, chromiumB } = env.browsers
  const peerlane = row('Peerlane peer.connect(peerId)', 'subject')
  const stock = row('stock js-libp2p dial …/p2p-circuit/webrtc')
  const raw = row('raw RTCPeerConnection, WebSocket signalling')
  const figure: Figure = {
    id: 'connect',
    title: 'connect: → direct WebRTC between two Chromium processes',
    unit: 'ms',
    better: 'lower',
    rows: [peerlane, stock, raw],
    targets: [
      { kind: 'median', value: 120, text: '≤ 120 ms median' },
      { kind: 'ratio', baseline: raw.name, value: 1.3, text: '≤ 1.3× raw (medians)' }
    ]
  }
  const phases: Figure = {
    id: 'connect.phases',
    title: 'connect, phases: stock js-libp2p WebRTC dial, ms from the start at which each step began (libp2p progress events)',
    unit: 'ms',
    better: 'lower',
    breakdown: true,
    rows: [],
    notes: ['webrtc:dial-relay → webrtc:open-signaling-stream is the relayed connection (HOP/STOP, Noise, Yamux over the circuit); from there SDP and ICE go over it']
  }
  const libp2p = async (subject: Row | undefined, bundle: 'peerlane' | 'stock'): Promise<void> => {
    const [pa, pb] = await Promise.all([openPage(env, chromiumA, bundle), openPage(env, chromiumB, bundle)])
    try {
      const [a] = await Promise.all([pa, pb].map(async p => call(p, `${bundle}Ready`, { relay: env.relay.address, on: 'transport:listening' })))
      const measure = async (): Promise<number> => {
        const result = await call(pb, `${bundle}Connect`, { relay: env.relay.address, peerId: a.id })
        if (subject != null && result.phases != null) addPhases(phases, result.phases)
        return result.ms
      }
      if (subject == null) await measure().catch(() => {})
      else await sample(subject, measure)
      await Promise.all([pa, pb].map(async p => call(p, `${bundle}Stop`, {}, 10_000).catch(() => {})))
    } finally {
      await closePages(pa, pb)
    }
  }
  const rawOnce = async (subject: Row | undefined): Promise<void> => {
    const [pa, pb] = await Promise.all([openPage(env, chromiumA, 'none'), openPage(env, chromiumB, 'none')])
    const a = `a-${Math.random().toString(16).slice(2)}`
    try {
      await call(pa, 'rawListen', { signalling: env.signallingUrl, id: a })
      const measure = async (): Promise<number> => (await call(pb, 'rawConnect', { signalling: env.signallingUrl, id: `b-${a}`, target: a })).ms
      if (subject == null) await measure().catch(() => {})
      else await sample(subject, measure)
      await Promise.all([pa, pb].map(async p => call(p, 'rawClose', {}, 10_000).catch(() => {})))
    } finally {
      await closePages(pa, pb)
    }
  }
  await libp2p(undefined, 'peerlane')
  await libp2p(undefined, 'stock')
  await rawOnce(undefined)
  for (let i = 0; i < env.options.runs; i++) {
    const order = [async () => libp2p(peerlane, 'peerlane'), async () => libp2p(stock, 'stock'), async () => rawOnce(raw)]
    for (let j = 0; j < order.length; j++) await order[(i + j) % order.length]()
  }
  return [figure, phases]
}

/** Two Chromium pages with a direct Peerlane link, both in room `bench`; `body` runs with them */
async function withLinkedPeers (env: Env, body: (pa: Page, pb: Page, a: string, b: string) => Promise<void>): Promise<void> {
  const [pa, pb] = await Promise.all([openPage(env, env.browsers.chromiumA, 'peerlane'), openPage(env, env.browsers.chromiumB, 'peerlane')])
  try {
    const [a, b] = await Promise.all([pa, pb].map(async p => call(p, 'peerlaneReady', { relay: env.relay.address })))
    await call(pb, 'peerlaneConnect', { peerId: a.id })
    await body(pa, pb, a.id, b.id)
    await Promise.all([pa, pb].map(async p => call(p, 'peerlaneStop', {}, 10_000).catch(() => {})))
  } finally {
    await closePages(pa, pb)
  }
}

/** Two Peerlane peers whose pages have no WebRTC (as with a policy that turns it off): rooms go through the relay */
async function withRelayedPeers (env: Env, body: (pa: Page, pb: Page, a: string, b: string) => Promise<void>): Promise<void> {
  const contexts = await Promise.all([env.browsers.chromiumA, env.browsers.chromiumB].map(async browser => {
    const context = await browser.newContext()
    await context.addInitScript(() => { (window as any).RTCPeerConnection = class { constructor () { throw new DOMException('WebRTC is off', 'NotSupportedError') } } })
    return context
  }))
  try {
    const [pa, pb] = await Promise.all(contexts.map(async context => await openPage(env, context, 'peerlane')))
    const [a, b] = await Promise.all([pa, pb].map(async p => call(p, 'peerlaneReady', { relay: env.relay.address })))
    await body(pa, pb, a.id, b.id)
    await Promise.all([pa, pb].map(async p => call(p, 'peerlaneStop', {}, 10_000).catch(() => {})))
  } finally {
    await Promise.all(contexts.map(async context => await context.close().catch(() => {})))
  }
}

async function withRawPair (env: Env, body: (pa: Page, pb: Page) => Promise<void>): Promise<void> {
  const [pa, pb] = await Promise.all([openPage(env, env.browsers.chromiumA, 'none'), openPage(env, env.browsers.chromiumB, 'none')])
  const a = `a-${Math.random().toString(16).slice(2)}`
  try {
    await call(pa, 'rawListen', { signalling: env.signallingUrl, id: a })
    await call(pb, 'rawConnect', { signalling: env.signallingUrl, id: `b-${a}`, target: a })
    await body(pa, pb)
    await Promise.all([pa, pb].map(async p => call(p, 'rawClose', {}, 10_000).catch(() => {})))
  } finally {
    await closePages(pa, pb)
  }
}

const MESSAGE_SIZE = 64

async function latencyFigure (env: Env): Promise<Figure> {
  const { messages } = env.options
  const peerlane = row('Peerlane room.send → message event', 'subject')
  const raw = row('raw RTCDataChannel send → message event')
  const relayed = row('Peerlane through the relay (no WebRTC)', 'related')
  const rounds = Math.max(2, Math.ceil(env.options.runs / 2))
  const figure: Figure = {
    id: 'latency',
    title: `room message one-way latency, ${MESSAGE_SIZE}-byte text, Chromium ↔ Chromium over direct WebRTC (round trip / 2)`,
    unit: 'ms',
    better: 'lower',
    rows: [peerlane, raw, relayed],
    targets: [
      { kind: 'median', value: 1, text: '≤ 1 ms median' },
      { kind: 'ratio', baseline: raw.name, value: 1.5, text: '≤ 1.5× raw (medians)' }
    ],
    notes: [`${rounds} rounds (each a fresh pair of peers) of ${messages} sequential messages, after 5 warm-up messages; n counts messages`,
      'steady state: measured once the relay stands by (neither peer sends it the room\'s messages, README › Rooms › Relays on standby)']
  }
  for (let round = 0; round < rounds; round++) {
    await withLinkedPeers(env, async (pa, pb, a, b) => {
      await Promise.all([call(pa, 'peerlaneJoin', { room: 'bench', echo: false }), call(pb, 'peerlaneJoin', { room: 'bench', echo: true })])
      await Promise.all([call(pa, 'peerlaneWaitForMember', { peerId: b }), call(pb, 'peerlaneWaitForMember', { peerId: a })])
      const relay = env.relay.address.split('/p2p/').pop()
      await Promise.all([pa, pb].map(async p => await call(p, 'peerlaneWaitForStandby', { relay })))
      await call(pa, 'peerlaneRoomLatency', { count: 5, size: MESSAGE_SIZE }).catch(() => {})
      await sample(peerlane, async () => await call(pa, 'peerlaneRoomLatency', { count: messages, size: MESSAGE_SIZE }, 120_000))
    }).catch(err => { peerlane.failures++; log(`latency round failed: ${err.message}`) })
    await withRawPair(env, async (_pa, pb) => {
      await call(pb, 'rawLatency', { count: 5, size: MESSAGE_SIZE }).catch(() => {})
      await sample(raw, async () => await call(pb, 'rawLatency', { count: messages, size: MESSAGE_SIZE }, 120_000))
    }).catch(err => { raw.failures++; log(`raw latency round failed: ${err.message}`) })
    await withRelayedPeers(env, async (pa, pb, a, b) => {
      await Promise.all([call(pa, 'peerlaneJoin', { room: 'bench', echo: false }), call(pb, 'peerlaneJoin', { room: 'bench', echo: true })])
      await Promise.all([call(pa, 'peerlaneWaitForMember', { peerId: b }), call(pb, 'peerlaneWaitForMember', { peerId: a })])
      await call(pa, 'peerlaneRoomLatency', { count: 5, size: MESSAGE_SIZE }).catch(() => {})
      await sample(relayed, async () => await call(pa, 'peerlaneRoomLatency', { count: messages, size: MESSAGE_SIZE }, 120_000))
    }).catch(err => { relayed.failures++; log(`relayed latency round failed: ${err.message}`) })
  }
  return figure
}

async function throughputFigure (env: Env): Promise<Figure> {
  const total = env.options.bytes
  const chunk = env.options.chunk
  const mib = total / (1024 * 1024)
  const toMiBs = (ms: number): number => mib / (ms / 1000)
  const peerlane = row('Peerlane peer.openStream (web streams)', 'subject')
  const libp2p = row('libp2p stream on Peerlane\'s WebRTC link (peer.libp2p)')
  const raw = row(`raw RTCDataChannel, ${chunk / 1024} KiB messages`)
  const figure: Figure = {
    id: 'throughput',
    title: `stream throughput: ${mib} MiB in ${chunk / 1024} KiB writes, Chromium → Chromium over direct WebRTC`,
    unit: 'MiB/s',
    better: 'higher',
    rows: [peerlane, libp2p, raw],
    targets: [{ kind: 'ratio', baseline: raw.name, value: 0.8, text: '≥ 80% of raw (medians)' }],
    notes: ['timed from the first write until the receiver acknowledges the last byte']
  }
  const rounds = Math.max(2, Math.ceil(env.options.runs / 2))
  for (let round = 0; round < rounds; round++) {
    await withLinkedPeers(env, async (pa, pb, a) => {
      await call(pa, 'peerlaneHandleSink', { expect: total })
      await call(pa, 'peerlaneHandleStreamSink', { expect: total })
      await sample(peerlane, async () => toMiBs((await call(pb, 'peerlaneStream', { peerId: a, total, chunk }, 120_000)).ms))
      await sample(peerlane, async () => toMiBs((await call(pb, 'peerlaneStream', { peerId: a, total, chunk }, 120_000)).ms))
      await sample(libp2p, async () => toMiBs((await call(pb, 'peerlaneLibp2pStream', { peerId: a, total, chunk }, 120_000)).ms))
      await sample(libp2p, async () => toMiBs((await call(pb, 'peerlaneLibp2pStream', { peerId: a, total, chunk }, 120_000)).ms))
    }).catch(err => { libp2p.failures++; log(`stream round failed: ${err.message}`) })
    await withRawPair(env, async (_pa, pb) => {
      await sample(raw, async () => toMiBs((await call(pb, 'rawThroughput', { total, chunk }, 120_000)).ms))
      await sample(raw, async () => toMiBs((await call(pb, 'rawThroughput', { total, chunk }, 120_000)).ms))
    }).catch(err => { raw.failures++; log(`raw throughput round failed: ${err.message}`) })
  }
  return figure
}

/**
 * Relay capacity comes from the relay's own benchmark, `npm run bench:relay`, when that script exists. It is
 * given PEERLANE_BENCH_JSON=<file>; if it writes figures there (this file's Figure shape, or a list of them),
 * they join the table; otherwise its last lines of output are shown.
 */
async function relayFigures (dir: string): Promise<Figure[]> {
  const scripts = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).scripts ?? {}
  const base: Figure = { id: 'relay.capacity', title: 'relay capacity (npm run bench:relay)', unit: '-', better: 'higher', rows: [] }
  if (scripts['bench:relay'] == null) return [{ ...base, unavailable: 'no bench:relay script in package.json' }]
  const file = join(dir, 'relay-capacity.json')
  let output = ''
  try {
    log('running npm run bench:relay')
    output = execFileSync('npm', ['run', '--silent', 'bench:relay'], { cwd: ROOT, env: { ...process.env, PEERLANE_BENCH_JSON: file }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], timeout: 30 * 60_000 })
  } catch (err: any) {
    return [{ ...base, unavailable: `npm run bench:relay failed: ${String(err.message).split('\n')[0]}` }]
  }
  if (existsSync(file)) {
    // its own detailed table (CPU, /health latencies, behaviour at the limit, shutdown) goes to the log
    process.stderr.write(output.trim().split('\n').filter(l => !l.startsWith('>')).join('\n') + '\n')
    const data = JSON.parse(readFileSync(file, 'utf8'))
    const list: Figure[] = Array.isArray(data) ? data : Array.isArray(data.figures) ? data.figures : [data]
    return list.map(f => ({ ...f, rows: (f.rows ?? []).map((r: Partial<Row>, i) => ({ name: String(r.name), role: r.role ?? (i === 0 ? 'subject' : 'baseline'), samples: r.samples ?? [], failures: r.failures ?? 0, summary: r.summary ?? summarize(r.samples ?? [], f.better), note: r.note })) }))
  }
  const tail = output.trim().split('\n').slice(-15)
  return [{ ...base, unavailable: 'its output (not machine-readable):', notes: tail }]
}

// ---------------------------------------------------------------- main

async function main (): Promise<void> {
  const options = parseArgs(process.argv.slice(2))
  if (!existsSync(PEERLANE_BUNDLE)) throw new Error('dist/peerlane.min.js is missing: run `npm run build` (npm run bench does)')
  log('building the stock js-libp2p comparison bundle (bench/dist/stock-libp2p.min.js)')
  execFileSync('npx', ['vite', 'build', '-c', join(ROOT, 'bench/vite.stock.config.ts')], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] })

  const dir = mkdtempSync(join(tmpdir(), 'peerlane-bench-'))
  const figures: Figure[] = []
  const relay = new Relay()
  const cleanups: Array<() => Promise<unknown>> = [async () => relay.stop()]
  const versions: Record<string, string> = {}
  try {
    if (options.only.has('bundle')) figures.push(...bundleFigures())
    const needBrowsers = ['ready', 'connect', 'latency', 'throughput'].some(f => options.only.has(f as FigureId))
    if (needBrowsers) {
      await relay.start(dir)
      const site = await startSite()
      cleanups.push(site.close)
      const signalling = await startSignalling()
      cleanups.push(signalling.close)
      log(`relay ${relay.address}`)
      const chromiumOptions = await chromiumLaunchOptions()
      const [chromiumA, chromiumB, fox] = await Promise.all([
        chromium.launch(chromiumOptions),
        chromium.launch(chromiumOptions),
        options.only.has('ready') ? firefox.launch(firefoxLaunchOptions()) : undefined
      ])
      for (const b of [chromiumA, chromiumB, fox]) if (b != null) cleanups.push(async () => b.close())
      versions.chromium = chromiumA.version()
      if (fox != null) versions.firefox = fox.version()
      const env: Env = { relay, siteUrl: site.url, signallingUrl: signalling.url, browsers: { chromiumA, chromiumB, firefox: fox }, options }
      if (options.only.has('ready')) {
        log('ready, Chromium'); figures.push(await readyFigure(env, 'chromium'))
        log('ready, Firefox'); figures.push(await readyFigure(env, 'firefox'))
        log('ready, phases'); figures.push(await readyPhasesFigure(env))
      }
      if (options.only.has('connect')) { log('connect'); figures.push(...await connectFigure(env)) }
      if (options.only.has('latency')) { log('room latency'); figures.push(await latencyFigure(env)) }
      if (options.only.has('throughput')) { log('stream throughput'); figures.push(await throughputFigure(env)) }
    }
    if (options.only.has('relay')) figures.push(...await relayFigures(dir))
  } finally {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(err => { log(`cleanup: ${err.message}`) })
    rmSync(dir, { recursive: true, force: true })
  }

  for (const figure of figures) for (const r of figure.rows) r.summary ??= summarize(r.samples, figure.better)
  console.log(formatTable(figures))
  const results = {
    date: new Date().toISOString(),
    machine: { cpus: cpus().length, cpu: cpus()[0]?.model, memoryGiB: Math.round(totalmem() / 2 ** 30), node: process.version, ...versions },
    options: { ...options, only: [...options.only] },
    figures: figures.map(f => ({ ...f, targets: f.targets?.map(t => ({ ...t, met: targetMet(f, t) })) }))
  }
  mkdirSync(join(ROOT, 'bench'), { recursive: true })
  writeFileSync(join(ROOT, 'bench/results.json'), JSON.stringify(results, null, 2) + '\n')
  log('wrote bench/results.json')
}

main().catch(err => {
  console.error(err)
  process.exitCode = 1
})
