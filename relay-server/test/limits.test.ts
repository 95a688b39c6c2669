// The relay's limits against real libp2p clients on 127.0.0.1 (all from one IP, which is the point).
import { execFileSync } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { request as httpsRequest } from 'node:https'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { afterEach, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { createPeer } from '../../src/index.ts'
import { createRelay } from '../index.ts'
import type { Relay, RelayConfig } from '../index.ts'
import type { Peer } from '../../src/index.ts'

const running: Array<Relay | Peer> = []
afterEach(async () => {
  for (const r of running.splice(0).reverse()) {
    if ('close' in r) await r.close()
    else await r.stop().catch(() => {})
  }
})

async function relay (config: RelayConfig = {}): Promise<Relay> {
  const r = createRelay({ port: 0, stunPort: 0, httpPort: 0, privateKey: await generateKeyPair('Ed25519'), logLevel: 'silent', ...config })
  running.push(r)
  await r.ready
  return r
}
async function peer (r: Relay, timeout = 10_000): Promise<Peer> {
  const p = await createPeer({ relays: [r.addresses[0]], identity: 'memory', timeout })
  running.push(p)
  return p
}
async function get (r: Relay, path: string): Promise<{ status: number, text: string }> {
  const res = await fetch(`http://127.0.0.1:${r.httpPort}${path}`)
  return { status: res.status, text: await res.text() }
}
async function metric (r: Relay, line: string): Promise<number | undefined> {
  const found = (await get(r, '/metrics')).text.split('\n').find(l => l.startsWith(line + ' '))
  return found == null ? undefined : Number(found.split(' ')[1])
}

describe('relay limits', () => {
  it('refuses reservations beyond max-reservations-per-ip, counts them, and frees a slot when a peer leaves', async () => {
    const r = await relay({ maxReservationsPerIp: 2 })
    const [a] = [await peer(r), await peer(r)]
    await expect(peer(r, 2_000)).rejects.toMatchObject({ name: 'RelayUnavailableError' })
    expect(r.libp2p?.services.relay.reservations.size).toBe(2)
    expect(await metric(r, 'peerlane_relay_reservations_refused_total{reason="per_ip"}')).toBeGreaterThanOrEqual(1)
    await a.stop()
    await expect.poll(() => r.libp2p?.services.relay.reservations.size).toBe(1)
    await peer(r)
    expect(r.libp2p?.services.relay.reservations.size).toBe(2)
  })

  it('refuses reservations when full, and /ready says so while /health stays 200', async () => {
    const r = await relay({ maxReservations: 1 })
    expect((await get(r, '/ready')).status).toBe(200)
    await peer(r)
    await expect(peer(r, 2_000)).rejects.toMatchObject({ name: 'RelayUnavailableError' })
    expect(await metric(r, 'peerlane_relay_reservations_refused_total{reason="full"}')).toBeGreaterThanOrEqual(1)
    const ready = await get(r, '/ready')
    expect(ready.status).toBe(503)
    expect(JSON.parse(ready.text)).toMatchObject({ status: 'full', reservations: 1, maxReservations: 1 })
    expect((await get(r, '/health')).status).toBe(200)
  })

  it('closes a WebSocket that sends a message over ws-max-payload (1009)', async () => {
    const r = await relay({ wsMaxPayload: 128 * 1024 })
    const url = `ws://127.0.0.1:${/\/tcp\/(\d+)\//.exec(r.addresses[0])?.[1]}`
    const close = async (size: number): Promise<number | undefined> => {
      const ws = new WebSocket(url)
      ws.on('error', () => {}) // refused or reset: the close code says what happened
      await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject) })
      const closed = new Promise<number>(resolve => ws.once('close', code => { resolve(code) }))
      ws.send(new Uint8Array(size))
      const code = await Promise.race([closed, new Promise<undefined>(resolve => setTimeout(resolve, 1_000))])
      ws.terminate()
      return code
    }
    expect(await close(256 * 1024)).toBe(1009)
    // and a bad frame (here: one the client does not mask) does not take the relay down either
    const raw = new WebSocket(url)
    raw.on('error', () => {}) // the relay answers the bad frame with a 1002 close, which ws also reports as an error
    await new Promise(resolve => raw.once('open', resolve))
    ;(raw as any)._socket.write(Buffer.from([0x82, 0x02, 0x01, 0x02]))
    expect(await new Promise(resolve => raw.once('close', resolve))).toBe(1002)
    expect((await get(r, '/health')).status).toBe(200)
    // under the limit the relay reads it (as a bad multistream header, which is another matter)
    expect(await close(64 * 1024)).not.toBe(1009)
  })

  it('refuses WebSockets beyond max-pending-connections-per-ip while they stall before the libp2p handshake', async () => {
    const r = await relay({ maxPendingConnectionsPerIp: 4 })
    const url = `ws://127.0.0.1:${/\/tcp\/(\d+)\//.exec(r.addresses[0])?.[1]}`
    const sockets = await Promise.all(Array.from({ length: 8 }, async () => {
      const ws = new WebSocket(url)
      ws.on('error', () => {}) // refused sockets error; the test counts the closed ones
      await new Promise(resolve => { ws.once('open', resolve); ws.once('error', resolve) })
      return ws
    }))
    await expect.poll(async () => metric(r, 'peerlane_relay_connections_refused_total{reason="pending_per_ip"}')).toBe(4)
    await expect.poll(() => sockets.filter(ws => ws.readyState === WebSocket.CLOSED).length).toBe(4)
    // a well-behaved client still gets in once the stalled ones are gone
    for (const ws of sockets) ws.terminate()
    await peer(r)
  })

  it('frees a pending-connection slot as soon as the connection is up', async () => {
    const r = await relay({ maxPendingConnectionsPerIp: 1 })
    for (let i = 0; i < 4; i++) await peer(r, 5_000)
    expect(r.libp2p?.services.relay.reservations.size).toBe(4)
    expect(await metric(r, 'peerlane_relay_connections_refused_total{reason="pending_per_ip"}')).toBeUndefined()
  })

  it('behind a trusted proxy, counts pending connections per X-Forwarded-For client, and ignores the header otherwise', async () => {
    const stall = async (r: Relay, forwarded: (i: number) => string): Promise<WebSocket[]> => {
      const url = `ws://127.0.0.1:${/\/tcp\/(\d+)\//.exec(r.addresses[0])?.[1]}`
      return await Promise.all(Array.from({ length: 6 }, async (_, i) => {
        const ws = new WebSocket(url, { headers: { 'x-forwarded-for': forwarded(i) } })
        ws.on('error', () => {})
        await new Promise(resolve => { ws.once('open', resolve); ws.once('error', resolve) })
        return ws
      }))
    }
    const refused = async (r: Relay): Promise<number> => await metric(r, 'peerlane_relay_connections_refused_total{reason="pending_per_ip"}') ?? 0
    const proxied = await relay({ maxPendingConnectionsPerIp: 2, trustProxy: ['127.0.0.1'] })
    const distinct = await stall(proxied, i => `198.51.100.${i + 1}, 127.0.0.1`)
    await new Promise(resolve => setTimeout(resolve, 500))
    expect(await refused(proxied)).toBe(0)
    const same = await stall(proxied, () => '203.0.113.9')
    await expect.poll(async () => refused(proxied)).toBe(4)
    const direct = await relay({ maxPendingConnectionsPerIp: 2 })
    const spoofed = await stall(direct, i => `198.51.100.${i + 1}`)
    await expect.poll(async () => refused(direct)).toBe(4)
    for (const ws of [...distinct, ...same, ...spoofed]) ws.terminate()
  })

  it('serves wss itself with a TLS certificate and key', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'peerlane-tls-'))
    try {
      execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=localhost',
        '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' })
      const r = await relay({ tlsCert: join(dir, 'cert.pem'), tlsKey: join(dir, 'key.pem') })
      expect(r.addresses[0]).toMatch(/^\/ip4\/127\.0\.0\.1\/tcp\/\d+\/tls\/ws\/p2p\/12D3KooW/)
      const port = Number(/\/tcp\/(\d+)\//.exec(r.addresses[0])?.[1])
      const answer = await new Promise<{ status?: number, body: string, cert: string }>((resolve, reject) => {
        httpsRequest({ host: '127.0.0.1', port, rejectUnauthorized: false }, res => {
          let body = ''
          const cert = (res.socket as any).getPeerCertificate().subject.CN
          res.on('data', d => { body += d })
          res.on('end', () => { resolve({ status: res.statusCode, body, cert }) })
        }).on('error', reject).end()
      })
      expect(answer).toEqual({ status: 400, body: 'Only WebSocket connections are supported', cert: 'localhost' })
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('names tls-cert when the certificate file cannot be read', async () => {
    const r = createRelay({ port: 0, stunPort: 0, privateKey: await generateKeyPair('Ed25519'), logLevel: 'silent', tlsCert: '/nonexistent/cert.pem', tlsKey: '/nonexistent/key.pem' })
    await expect(r.ready).rejects.toMatchObject({ name: 'RelayConfigError', field: 'tls-cert' })
    await r.close()
  })

  it('closes its connections on close(): a connected peer loses its reservation at once', async () => {
    const r = await relay()
    const p = await peer(r)
    const lost = new Promise(resolve => { p.addEventListener('relay:lost', resolve, { once: true }) })
    const started = Date.now()
    await r.close()
    await lost
    expect(Date.now() - started).toBeLessThan(3_000)
    expect((await fetch(`http://127.0.0.1:${r.httpPort ?? 1}/health`).catch(err => err)).name).toBe('TypeError')
  })
  it('keeps carrying the rooms of many peers from one IP (an office or a carrier-grade NAT), however many came before', async () => {
    const r = await relay()
    // GossipSub's default IP colocation penalty remembers every peer of the last hour: past 10 from one IP,
    // the relay would refuse the next ones' GRAFTs and then ignore them altogether
    for (let i = 0; i < 14; i++) await (await peer(r)).stop()
    const [a, b] = [await peer(r), await peer(r)]
    const [roomA, roomB] = await Promise.all([a.join('office'), b.join('office')])
    const received = new Promise<string>(resolve => roomB.addEventListener('message', evt => { resolve(evt.detail.text ?? '') }, { once: true }))
    await expect.poll(() => roomA.peers, { timeout: 10_000 }).toContain(b.id)
    await roomA.send('still heard')
    expect(await Promise.race([received, new Promise(resolve => setTimeout(() => resolve('nothing within 5 s'), 5_000))])).toBe('still heard')
    // getScore is GossipSub's class method, not in its interface type
    expect((r.libp2p?.services.pubsub as unknown as { getScore: (id: string) => number }).getScore(b.libp2p.peerId.toString())).toBeGreaterThanOrEqual(0)
  }, 60_000)
})
