// X-Forwarded-For from clients that lie: entries with ports, garbage, a federation relay's IP. Behind a
// trusted proxy the relay counts each client by the address the proxy saw, never by one the client wrote.
import { afterAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { forwardedClient, forwardedIp } from '../proxy.ts'
import { attackedRelay, client, stopAll } from './hostile-clients.ts'
import type { AttackedRelay } from './hostile-clients.ts'

const PROXY = new Set(['127.0.0.1', '10.0.0.2'])
const FEDERATION_IP = '127.0.0.9'

describe('X-Forwarded-For parsing', () => {
  const cases: Array<[string, string | string[], string | undefined]> = [
    ['a plain IPv4 entry', '203.0.113.7', '203.0.113.7'],
    ['IPv4 with a port', '203.0.113.7:5555', '203.0.113.7'],
    ['IPv6', '2001:db8::7', '2001:db8::7'],
    ['bracketed IPv6 with a port', '[2001:db8::7]:443', '2001:db8::7'],
    ['bracketed IPv6', '[2001:db8::7]', '2001:db8::7'],
    ['IPv4-mapped IPv6', '::ffff:203.0.113.7', '203.0.113.7'],
    ['the client\'s own entry left of the proxy\'s, with a port', '198.51.100.1, 203.0.113.7:5555', '203.0.113.7'],
    ['a federation relay\'s IP written by the client', `${FEDERATION_IP}, [2001:db8::7]:1234`, '2001:db8::7'],
    ['a chain of trusted proxies', '198.51.100.1, 203.0.113.7, 10.0.0.2:80', '203.0.113.7'],
    ['several headers', ['198.51.100.1', '203.0.113.7:1, 10.0.0.2'], '203.0.113.7'],
    ['garbage where the proxy wrote: stop there', '198.51.100.1, not-an-ip, 10.0.0.2', undefined],
    ['an obfuscated entry', 'unknown', undefined],
    ['an empty entry', '198.51.100.1, ', undefined],
    ['a port out of range', '203.0.113.7:123456', undefined],
    ['only trusted proxies', '10.0.0.2, 127.0.0.1', undefined]
  ]
  for (const [what, header, client] of cases) {
    it(`reads ${what}`, () => {
      expect(forwardedClient('127.0.0.1', header, PROXY)).toBe(client)
      expect(forwardedClient('::ffff:127.0.0.1', header, PROXY)).toBe(client)
    })
  }
  it('ignores the header from an untrusted peer', () => {
    expect(forwardedClient('198.51.100.9', '203.0.113.7', PROXY)).toBeUndefined()
    expect(forwardedClient(undefined, '203.0.113.7', PROXY)).toBeUndefined()
  })
  it('parses single entries', () => {
    expect(forwardedIp(' 203.0.113.7:80 ')).toBe('203.0.113.7')
    expect(forwardedIp('[::1]:80')).toBe('::1')
    expect(forwardedIp('2001:db8::1:80')).toBe('2001:db8::1:80') // without brackets the last group is part of the address
    expect(forwardedIp('1.2.3.4:')).toBeUndefined()
    expect(forwardedIp('_hidden')).toBeUndefined()
  })
})

describe('X-Forwarded-For spoofing a relay process', () => {
  let relay: AttackedRelay
  afterAll(async () => { await relay?.stop() })

  it('counts clients by the proxy\'s entry, with ports and with federation relay IPs, so spoofing skips no limit', async () => {
    const federation = `/ip4/${FEDERATION_IP}/tcp/9/ws/p2p/12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA`
    relay = await attackedRelay(['--trust-proxy', '127.0.0.1', '--peer', federation, '--max-pending-connections-per-ip', '2'])
    const baseline = await relay.rss()
    const port = /\/tcp\/(\d+)\//.exec(relay.address)?.[1]
    const stall = async (headers: string[]): Promise<WebSocket[]> => await Promise.all(headers.map(async h => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}`, { headers: { 'x-forwarded-for': h } })
      ws.on('error', () => {})
      await new Promise(resolve => { ws.once('open', resolve); ws.once('error', resolve) })
      return ws
    }))
    const refused = async (): Promise<number> => await relay.metric('peerlane_relay_connections_refused_total{reason="pending_per_ip"}')
    // four clients, each spoofing addresses in front of what the proxy wrote (with a port): counted apart,
    // one refused each (2 pending per IP); were the spoofed entries read, 6 would be refused
    const sockets = await stall([1, 2, 3, 4].flatMap(i => [
      `203.0.113.9, 198.51.100.${i}:4000`, `${FEDERATION_IP}, 198.51.100.${i}:4001`, `${FEDERATION_IP}:9, [::ffff:198.51.100.${i}]:4002`
    ]))
    await expect.poll(refused).toBe(4)
    // garbage where the proxy wrote: the proxy's own address counts for them, together (2 pending)
    sockets.push(...await stall(['junk', `${FEDERATION_IP}, junk`, '198.51.100.1, junk:1']))
    await expect.poll(refused).toBe(5)
    for (const ws of sockets) ws.terminate()
    // an honest client behind the proxy still gets a reservation
    const honest = await client(relay.address, { reserve: true })
    expect(honest.getMultiaddrs().some(ma => ma.toString().includes('/p2p-circuit'))).toBe(true)
    await stopAll([honest])
    expect((await relay.rss()) - baseline).toBeLessThan(100 * 1024 * 1024)
  }, 60_000)
})
