// One IP, or one IPv6 /64, trying to fill a relay process: open connections, pending ones and reservations
// are capped per IP and per /64. IPv6 addresses reach the relay on IPv4 loopback through X-Forwarded-For from
// a trusted proxy (127.0.0.1), and with real IPv6 sockets on ::1; the /64 keying itself is unit-tested.
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { ipKey } from '../ip-key.ts'
import { attackedRelay, client, fulfilled, stopAll } from './hostile-clients.ts'
import { asAttacker } from './hostile.ts'
import type { AttackedRelay } from './hostile-clients.ts'
import type { Libp2p } from '@libp2p/interface'

const CAP = 4

describe('the per-IP key', () => {
  it('is the IPv4 address, or the IPv6 /64', () => {
    expect(ipKey('203.0.113.7')).toBe('203.0.113.7')
    expect(ipKey('::ffff:203.0.113.7')).toBe('203.0.113.7')
    expect(ipKey('2001:db8::1')).toBe(ipKey('2001:db8::ffff:ffff:ffff:ffff'))
    expect(ipKey('2001:db8:0:0:1:2:3:4')).toBe(ipKey('2001:0db8::'))
    expect(ipKey('2001:db8::1')).not.toBe(ipKey('2001:db8:0:1::1'))
    expect(ipKey('fe80::1%eth0')).toBe(ipKey('fe80::2'))
    expect(ipKey('::1')).toBe('0000000000000000::/64')
    for (const bad of ['', 'example.com', '1.2.3', '1.2.3.4:80', '[2001:db8::1]', '2001:db8::g']) expect(ipKey(bad)).toBeUndefined()
  })
})

describe('open connections per IP and per /64 (a relay process)', () => {
  const relays: AttackedRelay[] = []
  const nodes: Libp2p[] = []
  const start = async (args: string[]): Promise<AttackedRelay> => {
    const relay = await attackedRelay(args)
    relays.push(relay)
    return relay
  }
  // libp2p clients from `from` (a loopback address, or X-Forwarded-For headers): how many got in
  const connect = async (relay: string, from: Array<string | { headers: Record<string, string> }>, reserve = false): Promise<Array<PromiseSettledResult<Libp2p>>> => {
    const results: Array<PromiseSettledResult<Libp2p>> = []
    for (const f of from) {
      const [r] = await Promise.allSettled([asAttacker(async () => await client(relay, { reserve }), f)])
      if (r.status === 'fulfilled') nodes.push(r.value)
      results.push(r)
    }
    return results
  }
  const forwarded = (ip: string): { headers: Record<string, string> } => ({ headers: { 'x-forwarded-for': ip } })
  afterEach(async () => { await stopAll(nodes.splice(0)) })
  afterAll(async () => { for (const r of relays) await r.stop() })

  it('caps open connections from one IPv4 address; other IPs, and the freed slot, still get in', async () => {
    const relay = await start(['--max-connections-per-ip', String(CAP)])
    const baseline = await relay.rss()
    const flood = await connect(relay.address, Array(CAP + 3).fill('127.0.0.2'))
    expect(fulfilled(flood)).toBe(CAP)
    expect(await relay.metric('peerlane_relay_connections_refused_total{reason="open_per_ip"}')).toBe(3)
    expect((await relay.health()).connections).toBe(CAP)

    expect(fulfilled(await connect(relay.address, ['127.0.0.1'], true))).toBe(1)
    await (flood[0] as PromiseFulfilledResult<Libp2p>).value.stop()
    await expect.poll(async () => (await relay.health()).connections).toBe(CAP)
    expect(fulfilled(await connect(relay.address, ['127.0.0.2']))).toBe(1)
    expect((await relay.rss()) - baseline).toBeLessThan(100 * 1024 * 1024)
  }, 60_000)

  it('counts an IPv6 /64 as one IP for open connections, pending connections and reservations (X-Forwarded-For)', async () => {
    const relay = await start(['--trust-proxy', '127.0.0.1', '--max-connections-per-ip', String(CAP), '--max-reservations-per-ip', '2',
      '--max-pending-connections-per-ip', '2'])
    const baseline = await relay.rss()
    // six hosts of one /64: the cap holds for all of them together
    const open = await connect(relay.address, [1, 2, 3, 4, 5, 6].map(i => forwarded(`2001:db8::${i}`)))
    expect(fulfilled(open)).toBe(CAP)
    expect(await relay.metric('peerlane_relay_connections_refused_total{reason="open_per_ip"}')).toBe(2)
    // the next /64 is another household
    expect(fulfilled(await connect(relay.address, [forwarded('[2001:db8:0:1::1]:5555')]))).toBe(1)
    // reservations: two per /64
    const reserved = await connect(relay.address, [1, 2, 3].map(i => forwarded(`2001:db8:0:2::${i}`)), true)
    expect(fulfilled(reserved)).toBe(2)
    expect(await relay.metric('peerlane_relay_reservations_refused_total{reason="per_ip"}')).toBe(1)
    // pending (stalled) connections: two per /64
    const port = /\/tcp\/(\d+)\//.exec(relay.address)?.[1]
    const stalled = await Promise.all([1, 2, 3, 4, 5].map(async i => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}`, forwarded(`2001:db8:0:3::${i}`))
      ws.on('error', () => {})
      await new Promise(resolve => { ws.once('open', resolve); ws.once('error', resolve) })
      return ws
    }))
    await expect.poll(async () => await relay.metric('peerlane_relay_connections_refused_total{reason="pending_per_ip"}')).toBe(3)
    for (const ws of stalled) ws.terminate()
    expect(fulfilled(await connect(relay.address, ['127.0.0.1'], true))).toBe(1)
    expect((await relay.rss()) - baseline).toBeLessThan(100 * 1024 * 1024)
  }, 60_000)

  it('caps open connections from one IPv6 socket address (::1)', async () => {
    const relay = await start(['--host', '::1', '--max-connections-per-ip', '2'])
    expect(relay.address).toMatch(/^\/ip6\/::1\/tcp\/\d+\/ws\//)
    const flood = await connect(relay.address, ['::1', '::1', '::1'])
    expect(fulfilled(flood)).toBe(2)
    expect(await relay.metric('peerlane_relay_connections_refused_total{reason="open_per_ip"}')).toBe(1)
  }, 60_000)
})
