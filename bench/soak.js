#!/usr/bin/env node
// Soak: a relay process with churning clients (connect, reserve, join a room, talk, leave) for --minutes
// (default 60). Every --every seconds it samples the relay's RSS (/proc), JS heap and active handles
// (/metrics) and its connections, reservations and rooms (/health), and at the end prints the drift from
// the first sample after warm-up: flat means nothing leaks. `npm run bench:soak -- --minutes 1` for a quick look.
// Targets 127.0.0.1 only; every process it starts, it stops.
import { spawn } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { createPeer } from 'peerlane'

const { values } = parseArgs({ options: { minutes: { type: 'string', default: '60' }, clients: { type: 'string', default: '20' }, every: { type: 'string', default: '30' } } })
const minutes = Number(values.minutes)
const clients = Number(values.clients)
const every = Number(values.every) * 1000

const dir = await mkdtemp(join(tmpdir(), 'peerlane-soak-'))
const addrFile = join(dir, 'addrs.json')
const relay = spawn(process.execPath, [fileURLToPath(new URL('../relay-server/bin/peerlane-relay.js', import.meta.url)), '--port', '0', '--http-port', '0', '--key-file', join(dir, 'key'), '--addr-file', addrFile], { stdio: ['ignore', 'pipe', 'inherit'] })
let out = ''
relay.stdout.on('data', d => { out += d })
let addresses, http
while (addresses == null || http == null) {
  await new Promise(resolve => setTimeout(resolve, 100))
  addresses = await readFile(addrFile, 'utf8').then(JSON.parse, () => undefined)
  http = /(http:\/\/[\d.]+:\d+)\/health/.exec(out)?.[1]
}

async function sample () {
  const status = await readFile(`/proc/${relay.pid}/status`, 'utf8')
  const metrics = await (await fetch(`${http}/metrics`)).text()
  const metric = name => Number(new RegExp(`^${name}(?:\\{[^}]*\\})? ([\\d.e+]+)$`, 'm').exec(metrics)?.[1] ?? NaN)
  const health = await (await fetch(`${http}/health`)).json()
  return {
    rssMB: +(Number(/VmRSS:\s+(\d+)/.exec(status)[1]) / 1024).toFixed(1),
    heapMB: +(metric('nodejs_heap_size_used_bytes') / 1e6).toFixed(1),
    handles: metric('nodejs_active_handles_total'),
    connections: health.connections,
    reservations: health.reservations,
    rooms: health.rooms
  }
}

let cycles = 0
let failures = 0
let stopped = false
async function churn (i) {
  // eslint-disable-next-line no-unmodified-loop-condition -- set by the end of the run, between awaits
  while (!stopped) {
    try {
      const peer = await createPeer({ relays: addresses, identity: 'memory', maxDirectPeers: 0 })
      const room = await peer.join(`soak-${i % 4}`, { timeout: 2_000 })
      await room.send(`cycle ${cycles}`)
      await new Promise(resolve => setTimeout(resolve, 1_000 + Math.random() * 2_000))
      await peer.stop()
      cycles++
    } catch (err) {
      failures++
      if (failures < 5) console.error('client cycle failed:', err.message)
    }
  }
}

console.log(`soak: ${clients} churning clients against a relay process for ${minutes} min, sampling every ${every / 1000} s`)
const workers = Array.from({ length: clients }, (_, i) => churn(i))
const started = Date.now()
const end = started + minutes * 60_000
let first
while (Date.now() < end) {
  await new Promise(resolve => setTimeout(resolve, Math.min(every, end - Date.now())))
  const s = await sample()
  first ??= s // the first sample is taken under load, after warm-up
  console.log(`t=${Math.round((Date.now() - started) / 1000)}s cycles=${cycles} failures=${failures} ${Object.entries(s).map(([k, v]) => `${k}=${v}`).join(' ')}`)
}
stopped = true
await Promise.all(workers)
await new Promise(resolve => setTimeout(resolve, 3_000))
const last = await sample()
console.table({ 'first (under load)': first, 'after the churn': last, drift: Object.fromEntries(Object.keys(last).map(k => [k, +(last[k] - first[k]).toFixed(1)])) })
console.log(`${cycles} client lifecycles, ${failures} failed; left on the relay: ${last.connections} connections, ${last.reservations} reservations, ${last.rooms} rooms`)
relay.kill('SIGTERM')
await rm(dir, { recursive: true, force: true })
process.exit(0)
