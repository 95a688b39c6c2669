// TURN as a way into the relay's network: the real turnserver, started from the shipped
// deploy/turnserver.conf (only ports, paths, certificate and secret replaced), refuses to relay to loopback,
// private, link-local and special ranges (403), sends nothing there, and bounds allocations per user,
// while an honest peer still allocates and may reach a public address. No packet leaves 127.0.0.0/8:
// CreatePermission and ChannelBind only set state in coturn, and the one Send goes to a loopback socket.
import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { createSocket } from 'node:dgram'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { connect as tcpConnect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connect as tlsConnect } from 'node:tls'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { turnCredentials } from '../turn.ts'
import { SHIPPED_CONF, TurnClient, ensureCoturn, relayPorts, shippedConf, startTurnserver } from './coturn.ts'
import { freePort } from './free-port.ts'
import { A, T, errorCode, xorAddress } from './stun-message.ts'
import type { Turnserver } from './coturn.ts'

const PEER = '12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN'
const CHANNEL_BIND = 0x0009
const CHANNEL_NUMBER = 0x000c
/** Peer addresses TURN must never reach: loopback, RFC 1918, CGNAT, link-local (cloud metadata), "this network", IETF, benchmarking, multicast, broadcast */
const DENIED = ['127.0.0.1', '127.255.0.9', '10.1.2.3', '172.16.0.1', '172.31.255.254', '192.168.1.1', '100.64.0.1', '169.254.169.254', '0.0.0.1', '192.0.0.9', '198.18.0.1', '224.0.0.1', '239.255.255.250', '255.255.255.255']
const missing = ensureCoturn()
if (missing != null) console.warn(`coturn tests skipped: ${missing}`)

describe('the shipped deploy/turnserver.conf', () => {
  it('denies the private, loopback and special ranges, and sets quotas', async () => {
    const conf = await readFile(SHIPPED_CONF, 'utf8')
    const denied = [...conf.matchAll(/^denied-peer-ip=(.+)$/gm)].map(m => m[1].trim())
    expect(denied).toEqual(expect.arrayContaining([
      '0.0.0.0-0.255.255.255', '10.0.0.0-10.255.255.255', '100.64.0.0-100.127.255.255', '127.0.0.0-127.255.255.255',
      '169.254.0.0-169.254.255.255', '172.16.0.0-172.31.255.255', '192.0.0.0-192.0.0.255', '192.168.0.0-192.168.255.255',
      '198.18.0.0-198.19.255.255', '::1', 'fc00::-fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', 'fe80::-febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff',
      '::ffff:0.0.0.0-::ffff:255.255.255.255'
    ]))
    for (const line of ['use-auth-secret', 'no-cli', 'no-multicast-peers', 'no-tcp-relay', 'fingerprint', 'listening-port=3478', 'tls-listening-port=5349']) {
      expect(conf.split('\n')).toContain(line)
    }
    for (const key of ['static-auth-secret', 'realm', 'user-quota', 'total-quota', 'max-bps', 'stale-nonce']) {
      expect(conf).toMatch(new RegExp(`^${key}=\\S+$`, 'm'))
    }
    expect(conf).not.toMatch(/^(allow-loopback-peers|allowed-peer-ip)/m)
  })
})

describe.skipIf(missing != null)(`coturn from the shipped config${missing != null ? ` (skipped: ${missing})` : ''}`, () => {
  const secret = randomBytes(24).toString('hex')
  let dir: string
  let conf: string
  let server: Turnserver
  const clients: TurnClient[] = []
  const allocated = async (username: string, credential: string): Promise<{ client: TurnClient, error?: number }> => {
    const client = await new TurnClient(server.port).open()
    clients.push(client)
    return { client, error: (await client.allocate(username, credential)).error }
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'peerlane-coturn-conf-'))
    const [port, tlsPort] = [await freePort(), await freePort()]
    const relay = relayPorts(64)
    // a throwaway self-signed certificate for the TLS listener
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
      '-subj', '/CN=turn.example.com', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' })
    const written = await shippedConf(dir, {
      'static-auth-secret': secret,
      'listening-port': String(port),
      'tls-listening-port': String(tlsPort),
      cert: join(dir, 'cert.pem'),
      pkey: join(dir, 'key.pem'),
      'min-port': String(relay.min),
      'max-port': String(relay.max)
    })
    conf = written.text
    server = await startTurnserver(['-c', written.path], port)
  }, 30_000)

  afterAll(async () => {
    for (const c of clients.splice(0)) c.close()
    await server?.stop()
    if (dir != null) await rm(dir, { recursive: true, force: true })
  })

  it('starts: every line is understood, every denied range loaded, UDP, TCP and TLS listen', async () => {
    expect(server.output()).not.toMatch(/CONFIG ERROR|Unknown (argument|option)|Bad configuration/i)
    // coturn prints each denied range as it loads it
    for (const range of conf.matchAll(/^denied-peer-ip=(.+)$/gm)) expect(server.output()).toContain(`Black listing: ${range[1]}`)
    await new Promise<void>((resolve, reject) => {
      const s = tcpConnect(server.port, '127.0.0.1', () => { s.destroy(); resolve() }).once('error', reject)
    })
    const tlsPort = Number(/^tls-listening-port=(\d+)$/m.exec(conf)?.[1])
    const protocol = await new Promise<string | null>((resolve, reject) => {
      const s = tlsConnect({ port: tlsPort, host: '127.0.0.1', servername: 'turn.example.com', rejectUnauthorized: false }, () => {
        const p = s.getProtocol()
        s.destroy()
        resolve(p)
      }).once('error', reject)
    })
    expect(protocol).toMatch(/^TLSv1\.[23]$/)
  })

  it('refuses CreatePermission and ChannelBind towards loopback, private and special addresses (403), and relays nothing there; an honest peer may still reach a public address', async () => {
    const { username, credential } = turnCredentials(secret, PEER, { ttlSeconds: 300 })
    const { client, error } = await allocated(username, credential)
    expect(error).toBeUndefined()
    for (const [i, ip] of DENIED.entries()) {
      const permission = await client.request(T.createPermission, [[A.peer, xorAddress(ip, 9)]])
      expect({ ip, code: errorCode(permission) }).toEqual({ ip, code: 403 })
      const channel = Buffer.from([0x40, i, 0, 0]) // channel numbers 0x4000-0x4FFF
      const bind = await client.request(CHANNEL_BIND, [[CHANNEL_NUMBER, channel], [A.peer, xorAddress(ip, 9)]])
      expect({ ip, code: errorCode(bind) }).toEqual({ ip, code: 403 })
    }
    // a Send towards a real loopback socket: nothing arrives (coturn handles one client's datagrams in
    // order, so once the Refresh after it is answered, the Send has been dealt with)
    const victim = createSocket('udp4')
    try {
      await new Promise<void>(resolve => victim.bind(0, '127.0.0.1', resolve))
      let received = 0
      victim.on('message', () => { received++ })
      for (let i = 0; i < 5; i++) client.indicate(T.send, [[A.peer, xorAddress('127.0.0.1', victim.address().port)], [A.data, Buffer.from('into the host')]])
      expect((await client.request(T.refresh, [[A.lifetime, Buffer.from([0, 0, 0x02, 0x58])]])).type).toBe(0x0104)
      await new Promise(resolve => setTimeout(resolve, 200))
      expect(received).toBe(0)
    } finally {
      victim.close()
    }
    // honest: a permission for a public address (TEST-NET-3; only state in coturn, no packet is sent)
    const honest = await client.request(T.createPermission, [[A.peer, xorAddress('203.0.113.7', 9)]])
    expect({ type: honest.type, code: errorCode(honest) }).toEqual({ type: 0x0108, code: undefined })
  })

  it('bounds allocations per peer (user-quota): past the quota the next is refused (486), also with new credentials, and another peer still allocates', async () => {
    const quota = Number(/^user-quota=(\d+)$/m.exec(conf)?.[1])
    expect(quota).toBeGreaterThan(0)
    const greedy = '12D3KooWRBy97UB99e3J6hiPesre1MZeuNQvfan4gBziswrRJsNK'
    const { username, credential } = turnCredentials(secret, greedy, { ttlSeconds: 300 })
    const results = []
    for (let i = 0; i <= quota; i++) results.push((await allocated(username, credential)).error)
    expect(results).toEqual([...new Array(quota).fill(undefined), 486]) // 486: Allocation Quota Reached
    // coturn counts the quota per REST API user, the part after "<expiry>:": new credentials do not reset it
    const again = turnCredentials(secret, greedy, { ttlSeconds: 301 })
    expect((await allocated(again.username, again.credential)).error).toBe(486)
    const other = turnCredentials(secret, PEER, { ttlSeconds: 300 })
    expect((await allocated(other.username, other.credential)).error).toBeUndefined()
  })
})
