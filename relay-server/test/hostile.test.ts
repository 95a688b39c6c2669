// Hostile input thrown at a running relay process: it must stay up, keep answering /health, keep serving
// honest clients during the attack, and keep its memory bounded. Bounded counts here; more on demand with
// `npm run fuzz:relay -- --inputs 100000`.
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  fuzzRelay, honestClientWorks, openHalfUpgrades, prng, randomBytes, sendBadYamux, sendOnHop,
  sendOversizedFrame, sendOverWebSocket, sendRawTcp, reservingClient, asAttacker
} from './hostile.ts'
import { listening, runRelay } from './relay-process.ts'
import type { ChildProcess } from 'node:child_process'

const FUZZ_INPUTS = Number(process.env.PEERLANE_FUZZ_INPUTS ?? 300)
/**
 * How much the relay's RSS may grow over the fuzz inputs, however many: V8's heap settles at its working
 * size (+12 MB after 300 inputs, +54 after 10,000, +87 after 100,000, peak +91; relay-server/README.md)
 */
const FUZZ_RSS_BOUND = 128 * 1024 * 1024

describe('a relay under attack', () => {
  let dir: string
  let child: ChildProcess
  let address: string
  let http: string
  let port: number
  let baselineRss: number

  /** The relay process's resident memory now (and its peak, VmHWM), in bytes */
  const memory = async (): Promise<{ rss: number, peak: number }> => {
    const status = await readFile(`/proc/${child.pid}/status`, 'utf8')
    const kb = (field: string): number => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1]) * 1024
    return { rss: kb('VmRSS'), peak: kb('VmHWM') }
  }
  const rss = async (): Promise<number> => (await memory()).rss
  const healthy = async (): Promise<boolean> => {
    try {
      return (await fetch(`${http}/health`, { signal: AbortSignal.timeout(3_000) })).status === 200
    } catch {
      return false
    }
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'peerlane-hostile-'))
    const addrFile = join(dir, 'addrs.json')
    const relay = runRelay(['--port', '0', '--http-port', '0', '--key-file', join(dir, 'k'), '--addr-file', addrFile])
    child = relay.child
    child.on('exit', (code, signal) => { if (signal == null && code !== 0) console.error(`relay exited with ${code}:\n${relay.output()}`) })
    const started = await listening(relay, addrFile)
    address = started.addrs[0]
    http = started.http
    port = Number(/\/tcp\/(\d+)\//.exec(address)?.[1])
    // warm up with one honest client so the baseline includes libp2p's lazily built state
    expect(await honestClientWorks(address)).toBe(true)
    baselineRss = await rss()
  }, 30_000)

  afterAll(async () => {
    child?.kill('SIGKILL')
    await rm(dir, { recursive: true, force: true })
  })

  it('survives random bytes, truncated and oversized multistream-select and bad Noise, and the seeded fuzzer', async () => {
    const rand = prng(1)
    await Promise.all(Array.from({ length: 50 }, async () => sendRawTcp('127.0.0.1', port, randomBytes(rand, 1 + Math.floor(rand() * 4096)))))
    const before = await rss()
    const sent = await fuzzRelay(`ws://127.0.0.1:${port}`, 42, FUZZ_INPUTS)
    const after = await memory()
    console.log(`fuzz: ${sent} inputs (seed 42) sent to the relay; RSS ${(before / 1e6).toFixed(1)} MB before, ${(after.rss / 1e6).toFixed(1)} MB after, ${(after.peak / 1e6).toFixed(1)} MB peak`)
    expect(sent).toBe(FUZZ_INPUTS)
    expect(after.rss - before).toBeLessThan(FUZZ_RSS_BOUND)
    expect(child.exitCode).toBeNull()
    expect(await healthy()).toBe(true)
    expect(await honestClientWorks(address)).toBe(true)
  }, 120_000)

  it('survives bad Yamux frames and malformed relay (hop) protobufs', async () => {
    const rand = prng(2)
    await asAttacker(async () => {
      for (let i = 0; i < 10; i++) await sendBadYamux(address, rand, 20)
      await sendOnHop(address, [
        new Uint8Array([0xff, 0xff, 0xff, 0xff, 0x0f]), // a ~4 GiB length prefix
        new Uint8Array([0x05, 0x08, 0x99, 0x99, 0x99, 0x99]), // an unknown message type
        new Uint8Array([0x03, 0x12, 0xff, 0x01]), // a truncated peer field
        randomBytes(rand, 300)
      ])
    })
    expect(child.exitCode).toBeNull()
    expect(await healthy()).toBe(true)
    expect(await honestClientWorks(address)).toBe(true)
  }, 120_000)

  it('serves honest clients during a slowloris of 1,000 half-open upgrades and a reservation flood from one IP', async () => {
    const release = await openHalfUpgrades('127.0.0.1', port, 1_000)
    // the flood comes from the attacker's address: the relay's per-IP caps (8 reservations) stop it there
    const flood = await asAttacker(async () => await Promise.allSettled(Array.from({ length: 60 }, async () => reservingClient(address))))
    try {
      expect(flood.filter(r => r.status === 'fulfilled' && r.value.getMultiaddrs().some(ma => ma.toString().includes('/p2p-circuit'))).length).toBeLessThan(60)
      expect(child.exitCode).toBeNull()
      expect(await healthy()).toBe(true)
      expect(await honestClientWorks(address)).toBe(true)
    } finally {
      release()
      await Promise.all(flood.map(async r => r.status === 'fulfilled' ? r.value.stop() : undefined))
    }
  }, 120_000)

  it('survives oversized WebSocket messages with its memory bounded', async () => {
    // frames announcing 4 GiB, and frames that really carry 8 MiB each, from several connections at once
    await Promise.all(Array.from({ length: 4 }, async () => sendOversizedFrame('127.0.0.1', port, 4 * 1024 ** 3, 1024 * 1024)))
    await Promise.all(Array.from({ length: 4 }, async () => sendOversizedFrame('127.0.0.1', port, 8 * 1024 ** 2, 8 * 1024 ** 2)))
    await sendOverWebSocket(`ws://127.0.0.1:${port}`, [randomBytes(prng(3), 2 * 1024 * 1024)])
    expect(child.exitCode).toBeNull()
    expect(await healthy()).toBe(true)
    expect(await honestClientWorks(address)).toBe(true)
    await new Promise(resolve => setTimeout(resolve, 1_000))
    const grown = (await rss()) - baselineRss
    console.log(`relay RSS after every attack: ${(baselineRss / 1e6).toFixed(1)} MB before, ${(grown / 1e6).toFixed(1)} MB grown`)
    expect(grown).toBeLessThan(150 * 1024 * 1024)
  }, 120_000)
})
