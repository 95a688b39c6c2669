// The real coturn (Debian's `coturn` package, turnserver 4.6) accepts the credentials turn.ts makes.
// (The shipped deploy/turnserver.conf, and what it refuses: hostile-coturn.test.ts.)
// Everything binds 127.0.0.1; every turnserver started here is stopped by its PID.
import { randomBytes } from 'node:crypto'
import { createSocket } from 'node:dgram'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { turnCredentials } from '../turn.ts'
import { TurnClient, ensureCoturn, startTurnserver, testFlags } from './coturn.ts'
import { freePort } from './free-port.ts'
import { A, T, errorCode, xorAddress } from './stun-message.ts'
import type { Turnserver } from './coturn.ts'

const PEER = '12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN'
const missing = ensureCoturn()
if (missing != null) console.warn(`coturn tests skipped: ${missing}`)

describe.skipIf(missing != null)(`real coturn${missing != null ? ` (skipped: ${missing})` : ''}`, () => {
  const secret = randomBytes(24).toString('hex')
  let server: Turnserver
  let dir: string
  const clients: TurnClient[] = []
  const client = async (): Promise<TurnClient> => {
    const c = await new TurnClient(server.port).open()
    clients.push(c)
    return c
  }
  afterEach(() => { for (const c of clients.splice(0)) c.close() })

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'peerlane-coturn-'))
    const port = await freePort()
    // ONLY in this test: the relayed peer below is a socket on 127.0.0.1 (the shipped turnserver.conf denies loopback)
    server = await startTurnserver([...testFlags(dir, port, secret), '--allow-loopback-peers'], port)
  })
  afterAll(async () => {
    await server?.stop()
    await rm(dir, { recursive: true, force: true })
  })

  it('allocates with turnCredentials() and relays UDP both ways between the client and a loopback peer', async () => {
    const { username, credential } = turnCredentials(secret, PEER, { ttlSeconds: 300 })
    const c = await client()
    const allocation = await c.allocate(username, credential)
    expect(allocation.error).toBeUndefined()
    expect(allocation.integrityOk).toBe(true) // coturn's answer is signed with the same key: same password
    const relayed = allocation.relayed as { address: string, port: number }
    expect(relayed.address).toBe('127.0.0.1')

    const peer = createSocket('udp4')
    try {
      await new Promise<void>(resolve => peer.bind(0, '127.0.0.1', resolve))
      const peerPort = peer.address().port
      const permission = await c.request(T.createPermission, [[A.peer, xorAddress('127.0.0.1', peerPort)]])
      expect(permission.type).toBe(0x0108)
      // client → relay → peer: a Send indication arrives at the peer from the relayed address
      const atPeer = new Promise<{ data: string, from: number }>(resolve => peer.once('message', (d, r) => { resolve({ data: String(d), from: r.port }) }))
      c.indicate(T.send, [[A.peer, xorAddress('127.0.0.1', peerPort)], [A.data, Buffer.from('hello peer')]])
      expect(await atPeer).toEqual({ data: 'hello peer', from: relayed.port })
      // peer → relay → client: a Data indication
      peer.send('hello client', relayed.port, '127.0.0.1')
      await expect.poll(() => c.indications.find(m => m.type === T.data)?.attrs.get(A.data)?.toString()).toBe('hello client')
    } finally {
      peer.close()
    }
    // release it (Refresh, LIFETIME 0)
    const release = await c.request(T.refresh, [[A.lifetime, Buffer.from([0, 0, 0, 0])]])
    expect(release.type).toBe(0x0104)
  })

  it('refuses a wrong password (401)', async () => {
    const { username, credential } = turnCredentials(secret, PEER, { ttlSeconds: 300 })
    const wrong = Buffer.from(credential, 'base64')
    wrong[0] ^= 1
    expect((await (await client()).allocate(username, wrong.toString('base64'))).error).toBe(401)
    // and credentials made with another secret
    const other = turnCredentials(secret + 'x', PEER, { ttlSeconds: 300 })
    expect((await (await client()).allocate(other.username, other.credential)).error).toBe(401)
  })

  it('refuses an expired username (401), however correct its HMAC', async () => {
    const expired = turnCredentials(secret, PEER, { ttlSeconds: 60, now: Date.now() - 120_000 })
    expect(expired.expiresAt).toBeLessThan(Date.now() / 1000)
    expect((await (await client()).allocate(expired.username, expired.credential)).error).toBe(401)
  })

  it('checks the expiry when allocating only: an existing allocation keeps refreshing (and permitting) past it', async () => {
    // what the TTL must cover is the time from asking to allocating (ICE gathering), not the call
    const short = turnCredentials(secret, PEER, { ttlSeconds: 2 })
    const c = await client()
    expect((await c.allocate(short.username, short.credential)).relayed).toBeDefined()
    // a second past the expiry by coturn's whole-second clock, with room for a loaded machine
    await new Promise(resolve => setTimeout(resolve, (short.expiresAt + 2) * 1000 - Date.now()))
    const refresh = await c.request(T.refresh, [[A.lifetime, Buffer.from([0, 0, 0x02, 0x58])]]) // 600 s
    expect({ type: refresh.type, code: errorCode(refresh) }).toEqual({ type: 0x0104, code: undefined })
    const permission = await c.request(T.createPermission, [[A.peer, xorAddress('127.0.0.1', 9)]])
    expect({ type: permission.type, code: errorCode(permission) }).toEqual({ type: 0x0108, code: undefined })
    // a new allocation with the same, now expired, credentials is refused
    expect((await (await client()).allocate(short.username, short.credential)).error).toBe(401)
    await c.request(T.refresh, [[A.lifetime, Buffer.from([0, 0, 0, 0])]])
  })
})
