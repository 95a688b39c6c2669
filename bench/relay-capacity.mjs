#!/usr/bin/env node
// Relay capacity benchmark (not a test: it prints figures, it asserts nothing).
//
//   npm run bench:relay                 # 10,000 clients (about 2-4 minutes on 2 cores)
//   npm run bench:relay -- --quick      # 1,000 clients, for a quick look
//   npm run bench:relay -- --clients 5000 --workers 4 --concurrency 40
//
// For each relay, in the same run and on the same machine: start it, measure it idle, then open N
// lightweight libp2p clients (bench/relay-capacity-clients.mjs: WebSockets + Noise + Yamux + a
// circuit-relay v2 reservation each, spread over a few processes) and measure the relay holding them:
// reservation rate, RSS per client, CPU, /health latency; then push it past its limit and see how it
// refuses. Relays compared:
//   peerlane          the peerlane-relay command (relay-server/bin/peerlane-relay.js, which runs the bundle
//                     relay-server/dist/peerlane-relay.mjs), limits raised to N reservations from one IP (all clients are 127.0.0.1)
//   stock (example)   js-libp2p's circuit relay server exactly as its examples configure it
//   stock (raised)    the same with its reservation and connection limits raised (to N, at most 3,000 by
//                     default: it slows down as it fills, see STOCK_RAISED_CLIENTS), for a fair per-client figure
import { fork, spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'

const here = new URL('.', import.meta.url).pathname
const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean' },
    clients: { type: 'string' },
    workers: { type: 'string' },
    concurrency: { type: 'string' },
    over: { type: 'string' },
    'stock-clients': { type: 'string' },
    only: { type: 'string' }
  }
})
const N = Number(args.clients ?? (args.quick ? 1000 : 10_000))
const WORKERS = Number(args.workers ?? (N >= 4000 ? 4 : 2))
const CONCURRENCY = Number(args.concurrency ?? 32)
const OVER = Number(args.over ?? 200)
const STOCK_EXAMPLE_CLIENTS = Math.min(N, 300)
// js-libp2p's connection manager builds getConnections() in quadratic time and calls it on every inbound
// connection, so a stock relay slows down as it fills (the Peerlane relay replaces that function): cap its
// run so that the benchmark ends; its per-client figures are still comparable
const STOCK_RAISED_CLIENTS = Math.min(N, Number(args['stock-clients'] ?? 3000))
const IDLE_MS = args.quick ? 5_000 : 20_000
const tmp = mkdtempSync(join(tmpdir(), 'peerlane-bench-'))
const sleep = ms => new Promise(resolve => setTimeout(resolve, ms))

function procStats (pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)[1])
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')
  const cpuTicks = Number(stat[11]) + Number(stat[12]) // utime + stime, in 1/100 s
  return { rssKb, cpuMs: cpuTicks * 10 }
}

async function startRelay (variant) {
  const child = spawn(process.execPath, variant.argv, { env: { ...process.env, ...variant.env }, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  child.stdout.on('data', d => { out += d })
  child.stderr.on('data', d => { out += d })
  const deadline = Date.now() + 20_000
  while (Date.now() < deadline) {
    const line = out.split('\n').map(l => { try { return JSON.parse(l) } catch { return undefined } }).find(l => l?.event === 'listening')
    if (line != null) return { child, address: line.addresses[0], health: line.health, output: () => out }
    if (child.exitCode != null) break
    await sleep(100)
  }
  child.kill('SIGKILL')
  throw new Error(`${variant.name} did not start:\n${out}`)
}

/** Polls /health every 200 ms until stopped; resolves to latency figures (ms) and failures */
function watchHealth (url) {
  const latencies = []
  let failures = 0
  let running = true
  const done = (async () => {
    // eslint-disable-next-line no-unmodified-loop-condition -- set to false by the timer below, between awaits
    while (running) {
      const started = performance.now()
      try {
        const res = await fetch(url, { signal: AbortSignal.timeout(5_000) })
        await res.text()
        if (!res.ok) failures++
        latencies.push(performance.now() - started)
      } catch {
        failures++
      }
      await sleep(200)
    }
  })()
  return async () => {
    running = false
    await done
    latencies.sort((a, b) => a - b)
    return { p50: latencies[Math.floor(latencies.length / 2)] ?? NaN, max: latencies.at(-1) ?? NaN, failures }
  }
}

async function startWorkers (n) {
  return await Promise.all(Array.from({ length: n }, async () => {
    const child = fork(join(here, 'relay-capacity-clients.mjs'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: ['--max-old-space-size=4096'] })
    await new Promise(resolve => child.once('message', resolve))
    return child
  }))
}

async function runClients (workers, relay, total) {
  const per = Math.ceil(total / workers.length)
  const results = await Promise.all(workers.map(async (w, i) => {
    const count = Math.min(per, total - i * per)
    if (count <= 0) return { reserved: 0, refused: 0, failed: 0 }
    return await new Promise(resolve => {
      const onMessage = msg => {
        if (msg.done == null) return
        w.off('message', onMessage)
        for (const [reason, n] of Object.entries(msg.failures ?? {})) process.stderr.write(`  ${n} clients failed: ${reason}\n`)
        resolve(msg.done)
      }
      w.on('message', onMessage)
      w.send({ start: { relay, count, concurrency: CONCURRENCY } })
    })
  }))
  return results.reduce((a, b) => ({ reserved: a.reserved + b.reserved, refused: a.refused + b.refused, failed: a.failed + b.failed }))
}

async function stopWorkers (workers) {
  await Promise.all(workers.map(async w => {
    const exited = new Promise(resolve => w.once('exit', resolve))
    w.send({ stop: true })
    await Promise.race([exited, sleep(10_000)])
    w.kill('SIGKILL')
  }))
}

async function measure (variant) {
  process.stderr.write(`\n${variant.name}: starting\n`)
  const relay = await startRelay(variant)
  const pid = relay.child.pid
  // idle: after V8's memory reducer has had a chance to shrink what start-up grew
  await sleep(IDLE_MS)
  const idle = procStats(pid)
  const workers = await startWorkers(WORKERS)
  const health = watchHealth(relay.health)
  const t0 = performance.now()
  const before = procStats(pid)
  const counts = await runClients(workers, relay.address, variant.clients)
  const rampMs = performance.now() - t0
  const afterRamp = procStats(pid)
  const rampHealth = await health()
  process.stderr.write(`${variant.name}: ${JSON.stringify(counts)} in ${(rampMs / 1000).toFixed(1)} s\n`)

  // hold: every client stays connected and reserved; let the relay settle, then measure it
  const holdHealth = watchHealth(relay.health)
  const h0 = procStats(pid)
  await sleep(10_000)
  const held = procStats(pid)
  const holdLatency = await holdHealth()
  const reservationsHeld = (await (await fetch(relay.health)).json()).reservations

  // past the limit: OVER more clients against a full relay
  let over
  if (variant.overLimit) {
    const extra = await startWorkers(1)
    const overHealth = watchHealth(relay.health)
    const o0 = performance.now()
    over = await runClients(extra, relay.address, OVER)
    over.seconds = (performance.now() - o0) / 1000
    over.health = await overHealth()
    over.ready = relay.health == null ? undefined : (await fetch(relay.health.replace('/health', '/ready'))).status
    await stopWorkers(extra)
  }

  // graceful shutdown with every client still connected: the relay closes them all, then exits
  const s0 = performance.now()
  const exited = new Promise(resolve => relay.child.once('exit', code => { resolve(code) }))
  relay.child.kill('SIGTERM')
  const exitCode = await Promise.race([exited, sleep(30_000).then(() => 'none')])
  const shutdownMs = performance.now() - s0
  relay.child.kill('SIGKILL')
  await stopWorkers(workers)

  const reserved = counts.reserved
  return {
    name: variant.name,
    clients: variant.clients,
    reserved,
    refused: counts.refused,
    failed: counts.failed,
    reservationsHeld,
    idleRssMb: idle.rssKb / 1024,
    heldRssMb: held.rssKb / 1024,
    rssPerClientKb: reserved > 0 ? (held.rssKb - idle.rssKb) / reserved : NaN,
    rampSeconds: rampMs / 1000,
    reservationsPerSecond: reserved / (rampMs / 1000),
    rampCpuPercent: (afterRamp.cpuMs - before.cpuMs) / rampMs * 100,
    holdCpuPercent: (held.cpuMs - h0.cpuMs) / 10_000 * 100,
    healthRamp: rampHealth,
    healthHold: holdLatency,
    over,
    shutdownSeconds: shutdownMs / 1000,
    exitCode
  }
}

const stockArgv = [join(here, 'relay-capacity-stock.mjs')]
const variants = [
  {
    name: 'peerlane',
    argv: [join(here, '../relay-server/bin/peerlane-relay.js'), '--port', '0', '--http-port', '0', '--key-file', join(tmp, 'relay.key'), '--log-level', 'info',
      '--max-reservations', String(N), '--max-reservations-per-ip', String(N), '--connection-rate-per-ip', '100000',
      '--max-pending-connections', '1024', '--max-pending-connections-per-ip', '1024', '--max-connections-per-ip', String(2 * N + 1024)],
    clients: N,
    overLimit: true
  },
  { name: 'stock (example)', argv: stockArgv, clients: STOCK_EXAMPLE_CLIENTS, overLimit: false },
  { name: 'stock (raised)', argv: stockArgv, env: { STOCK_RAISED: String(STOCK_RAISED_CLIENTS) }, clients: STOCK_RAISED_CLIENTS, overLimit: true }
].filter(v => args.only == null || v.name.startsWith(args.only))

const results = []
try {
  for (const variant of variants) results.push(await measure(variant))
} finally {
  rmSync(tmp, { recursive: true, force: true })
}
writeFileSync(join(here, 'results.json'), JSON.stringify({ date: new Date().toISOString(), clients: N, workers: WORKERS, concurrency: CONCURRENCY, results }, null, 2) + '\n')

const f = (n, digits = 0) => Number.isFinite(n) ? n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }) : '-'
const rows = [
  ['clients attempted', r => f(r.clients)],
  ['reserved (held after 10 s)', r => `${f(r.reserved)} (${f(r.reservationsHeld)})`],
  ['refused / failed', r => `${f(r.refused)} / ${f(r.failed)}`],
  [`idle relay RSS after ${IDLE_MS / 1000} s (MB)`, r => f(r.idleRssMb, 1)],
  ['RSS holding them (MB)', r => f(r.heldRssMb, 1)],
  ['RSS per reserved client (KB)', r => f(r.rssPerClientKb, 1)],
  ['reservations per second', r => f(r.reservationsPerSecond, 0)],
  ['relay CPU while ramping (% of a core)', r => f(r.rampCpuPercent, 0)],
  ['relay CPU holding them, idle (%)', r => f(r.holdCpuPercent, 1)],
  ['/health p50 / max while ramping (ms)', r => `${f(r.healthRamp.p50, 1)} / ${f(r.healthRamp.max, 0)}`],
  ['/health p50 / max while holding (ms)', r => `${f(r.healthHold.p50, 1)} / ${f(r.healthHold.max, 0)}`],
  [`${OVER} more clients at the limit: reserved / refused / failed`, r => r.over == null ? '-' : `${f(r.over.reserved)} / ${f(r.over.refused)} / ${f(r.over.failed)} in ${f(r.over.seconds, 1)} s`],
  ['  /health max during that (ms), /ready', r => r.over == null ? '-' : `${f(r.over.health.max, 0)}, ${r.over.ready ?? '-'}`],
  ['SIGTERM to exit, clients connected (s, status)', r => `${f(r.shutdownSeconds, 1)}, ${r.exitCode}`]
]
const widths = [Math.max(...rows.map(r => r[0].length)), ...results.map(r => Math.max(r.name.length, ...rows.map(row => row[1](r).length)))]
const line = cells => cells.map((c, i) => i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i])).join(' | ')
console.log(`\nRelay capacity: ${f(N)} clients from ${WORKERS} processes (${CONCURRENCY} connecting at once each), node ${process.version}, same run\n`)
console.log(line(['', ...results.map(r => r.name)]))
console.log(widths.map(w => '-'.repeat(w)).join('-|-'))
for (const [label, cell] of rows) console.log(line([label, ...results.map(cell)]))
console.log('\nRSS per client = (RSS holding them - idle RSS) / reserved. Raw figures: bench/results.json')

// `npm run bench` runs this with PEERLANE_BENCH_JSON=<file>: the figures join its table (bench/stats.ts's Figure)
if (process.env.PEERLANE_BENCH_JSON != null) {
  const figure = (id, title, unit, better, pick, targets) => ({
    id,
    title,
    unit,
    better,
    targets,
    rows: results.map(r => ({ name: `${r.name} relay (${f(r.clients)} clients)`, samples: [pick(r)].filter(Number.isFinite) })),
    notes: ['one sample per relay: npm run bench:relay, same run; see bench/README.md › Relay capacity']
  })
  writeFileSync(process.env.PEERLANE_BENCH_JSON, JSON.stringify({
    figures: [
      figure('relay.held', 'relay capacity: concurrent reserved clients held', 'clients', 'higher', r => r.reservationsHeld, [{ kind: 'median', value: 10_000, text: '≥ 10,000' }]),
      figure('relay.rssPerClient', 'relay capacity: RSS per reserved client', 'KB', 'lower', r => r.rssPerClientKb, [{ kind: 'median', value: 150, text: '≤ 150 KB' }]),
      figure('relay.idleRss', `relay: idle RSS after ${IDLE_MS / 1000} s`, 'MB', 'lower', r => r.idleRssMb, [{ kind: 'median', value: 60, text: '≤ 60 MB' }]),
      figure('relay.rate', 'relay capacity: reservations per second while ramping', 'per s', 'higher', r => r.reservationsPerSecond)
    ]
  }, null, 2))
}
