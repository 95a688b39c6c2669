// The relay's STUN port as a reflector: a flood of Binding requests from one source (as a spoofed victim
// address would be) gets at most the per-source rate of answers, each at most 12 bytes larger than its
// request, the rest dropped silently and counted in /metrics; an honest source is answered throughout.
// All sources together are capped too (STUN_RATE_TOTAL; tested here in-process with a small cap).
import { randomBytes } from 'node:crypto'
import { createSocket } from 'node:dgram'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { STUN_RATE_PER_IP, startStunServer } from '../stun.ts'
import { freePort } from './free-port.ts'
import { listening, runRelay } from './relay-process.ts'
import { T, stunMessage } from './stun-message.ts'
import type { RelayProcess } from './relay-process.ts'
import type { Socket } from 'node:dgram'

const FLOOD = 2_000

async function udp (address: string): Promise<Socket> {
  const socket = createSocket('udp4')
  await new Promise<void>(resolve => socket.bind(0, address, resolve))
  return socket
}

/** Whether `socket` gets an answer to one Binding request (resent every 200 ms, up to 10 times) */
async function answered (socket: Socket, port: number): Promise<boolean> {
  const txid = randomBytes(12)
  const request = stunMessage(T.binding, txid)
  return await new Promise<boolean>(resolve => {
    let tries = 0
    const onMessage = (m: Buffer): void => { if (m.subarray(8, 20).equals(txid)) done(true) }
    const send = (): void => { if (tries++ >= 10) done(false); else socket.send(request, port, '127.0.0.1') }
    const timer = setInterval(send, 200)
    const done = (ok: boolean): void => { clearInterval(timer); socket.off('message', onMessage); resolve(ok) }
    socket.on('message', onMessage)
    send()
  })
}

/** Sends `count` Binding requests from `socket` as fast as it can; resolves to the answers (bytes) and the seconds it took */
async function flood (socket: Socket, port: number, count: number): Promise<{ answers: number[], seconds: number }> {
  const answers: number[] = []
  const onMessage = (m: Buffer): void => { answers.push(m.length) }
  socket.on('message', onMessage)
  const started = performance.now()
  for (let i = 0; i < count; i += 100) {
    await Promise.all(Array.from({ length: Math.min(100, count - i) }, async () => await new Promise<void>(resolve => {
      socket.send(stunMessage(T.binding, randomBytes(12)), port, '127.0.0.1', () => { resolve() })
    })))
  }
  // the last answers are on their way: a round trip of the honest kind marks the end
  await new Promise(resolve => setTimeout(resolve, 300))
  socket.off('message', onMessage)
  return { answers, seconds: (performance.now() - started) / 1000 }
}

describe('the relay\'s STUN port under a reflection flood', () => {
  let dir: string
  let relay: RelayProcess
  let stunPort: number
  let http: string
  const sockets: Socket[] = []

  const metric = async (name: string): Promise<number> => {
    const text = await (await fetch(`${http}/metrics`)).text()
    return Number(text.split('\n').find(l => l.startsWith(name + ' '))?.split(' ')[1] ?? 0)
  }
  const rss = async (): Promise<number> => Number(/VmRSS:\s+(\d+) kB/.exec(await readFile(`/proc/${relay.child.pid}/status`, 'utf8'))?.[1]) * 1024

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'peerlane-hostile-stun-'))
    stunPort = await freePort()
    relay = runRelay(['--port', '0', '--http-port', '0', '--stun-port', String(stunPort), '--key-file', join(dir, 'k'), '--addr-file', join(dir, 'addrs.json')])
    http = (await listening(relay, join(dir, 'addrs.json'))).http
  }, 30_000)

  afterAll(async () => {
    for (const s of sockets) s.close()
    relay?.child.kill('SIGTERM')
    await relay?.exit
    await rm(dir, { recursive: true, force: true })
  })

  it(`answers a flood of ${FLOOD} requests from one source at most at its rate, never more than 12 bytes over the request, and still answers an honest source`, async () => {
    const [attacker, honest] = [await udp('127.0.0.2'), await udp('127.0.0.1')]
    sockets.push(attacker, honest)
    expect(await answered(honest, stunPort)).toBe(true)
    const rssBefore = await rss()
    const [result, honestDuring] = await Promise.all([flood(attacker, stunPort, FLOOD), answered(honest, stunPort)])
    const { answers, seconds } = result
    console.log(`STUN flood: ${FLOOD} requests in ${seconds.toFixed(2)} s, ${answers.length} answered`)
    // the bucket: a burst, then the rate (one more for the refill while the last datagrams were read)
    expect(answers.length).toBeGreaterThanOrEqual(STUN_RATE_PER_IP.burst)
    expect(answers.length).toBeLessThanOrEqual(STUN_RATE_PER_IP.burst + Math.ceil(STUN_RATE_PER_IP.perSecond * seconds) + 1)
    // a 20-byte request gets a 32-byte answer (IPv4 XOR-MAPPED-ADDRESS): one datagram per datagram, +12 bytes
    expect(new Set(answers)).toEqual(new Set([32]))
    expect(honestDuring).toBe(true)
    expect(await answered(honest, stunPort)).toBe(true)
    // dropped silently, counted (the kernel may drop a few of the flood before the relay reads them)
    const refused = await metric('peerlane_relay_stun_requests_total{outcome="refused"}')
    expect(refused).toBeLessThanOrEqual(FLOOD - answers.length)
    expect(refused).toBeGreaterThan(FLOOD / 2)
    expect(await metric('peerlane_relay_stun_requests_total{outcome="answered"}')).toBeGreaterThanOrEqual(answers.length + 3)
    expect((await rss()) - rssBefore).toBeLessThan(32 * 1024 * 1024)
  }, 60_000)
})

describe('the STUN responder\'s cap on all sources together', () => {
  it('answers at most the total rate, however many sources ask, and answers again once it refilled', async () => {
    const server = await startStunServer({ host: '127.0.0.1', port: 0, rateTotal: { perSecond: 5, burst: 10 } })
    // 40 sources (as spoofed ones would be), 5 requests each: every source is within its own limit
    const sources = await Promise.all(Array.from({ length: 40 }, async (_, i) => await udp(`127.0.1.${i + 1}`)))
    try {
      let answers = 0
      for (const s of sources) s.on('message', () => { answers++ })
      const started = performance.now()
      for (const s of sources) for (let i = 0; i < 5; i++) s.send(stunMessage(T.binding, randomBytes(12)), server.port, '127.0.0.1')
      await new Promise(resolve => setTimeout(resolve, 300))
      const seconds = (performance.now() - started) / 1000
      expect(answers).toBeGreaterThanOrEqual(10)
      expect(answers).toBeLessThanOrEqual(10 + Math.ceil(5 * seconds) + 1)
      expect(server.stats()).toMatchObject({ answered: answers, refused: 200 - answers })
      // an honest source, a second later
      await new Promise(resolve => setTimeout(resolve, 1_000))
      expect(await answered(sources[0], server.port)).toBe(true)
    } finally {
      for (const s of sources) s.close()
      await server.close()
    }
  })
})
