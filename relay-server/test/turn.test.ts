// TURN credentials (coturn's shared-secret scheme), the secret file, the advertised ICE server list.
import { chmod, mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  coturnStunServers, createCredentialLimiter, iceServersFor, loadTurnSecret, MIN_TURN_SECRET_LENGTH, parseTurnUrl, stunUrl, turnCredentials,
  TURN_CREDENTIAL_TTL, TurnConfigError, TurnSecretError, validateTurnUrl
} from '../turn.ts'

const PEER = '12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN'
const SECRET = 'north-wind-secret-0123456789'

describe('turnCredentials', () => {
  it('matches an independently computed HMAC-SHA1 vector', () => {
    // printf '%s' '1700003600:<PEER>' | openssl dgst -sha1 -hmac 'north-wind-secret-0123456789' -binary | base64
    const creds = turnCredentials(SECRET, PEER, { ttlSeconds: 3600, now: 1_700_000_000_000 })
    expect(creds).toEqual({ username: `1700003600:${PEER}`, credential: '/rR4DHk/lkrKM6dzMQ/pcMdcKtg=', expiresAt: 1_700_003_600 })
  })

  it('expires ttlSeconds from now (whole seconds, rounded down), 1 hour by default', () => {
    const now = 1_700_000_000_999
    expect(turnCredentials(SECRET, PEER, { ttlSeconds: 60, now }).expiresAt).toBe(1_700_000_060)
    expect(turnCredentials(SECRET, PEER, { now }).expiresAt).toBe(1_700_000_000 + TURN_CREDENTIAL_TTL)
    expect(TURN_CREDENTIAL_TTL).toBe(3600)
    const fresh = turnCredentials(SECRET, PEER, { ttlSeconds: 10 })
    expect(fresh.expiresAt - Date.now() / 1000).toBeGreaterThan(8)
    expect(fresh.username).toBe(`${fresh.expiresAt}:${PEER}`)
  })

  it('refuses an empty secret, a bad TTL and a non-PeerId', () => {
    expect(() => turnCredentials('', PEER, { ttlSeconds: 60 })).toThrow(TurnConfigError)
    expect(() => turnCredentials(SECRET, PEER, { ttlSeconds: 0 })).toThrow(/TTL/)
    expect(() => turnCredentials(SECRET, PEER, { ttlSeconds: 1.5 })).toThrow(/TTL/)
    expect(() => turnCredentials(SECRET, 'a:b', { ttlSeconds: 60 })).toThrow(/PeerId/)
    try { turnCredentials('', PEER) } catch (err: any) { expect(err.name).toBe('TurnConfigError') }
  })
})

describe('loadTurnSecret', () => {
  let dir: string
  beforeAll(async () => { dir = await mkdtemp(join(tmpdir(), 'peerlane-turn-')) })
  afterAll(async () => { await rm(dir, { recursive: true, force: true }) })
  const file = async (name: string, text: string, mode: number): Promise<string> => {
    const path = join(dir, name)
    await writeFile(path, text)
    await chmod(path, mode) // explicit: the umask must not decide the test
    return path
  }

  it('reads and trims a private secret file', async () => {
    expect(await loadTurnSecret(await file('ok', `  ${SECRET}\n\n`, 0o600))).toBe(SECRET)
    expect(await loadTurnSecret(await file('group', `${SECRET}\n`, 0o640))).toBe(SECRET)
  })

  it('refuses a world-readable, empty, short, missing or non-regular file with TurnSecretError', async () => {
    await mkdir(join(dir, 'adir'), { mode: 0o700 })
    const cases: Array<[string, RegExp]> = [
      [await file('world', SECRET, 0o644), /readable by every user \(mode 644\)/],
      [await file('empty', ' \n\t\n', 0o600), /is empty/],
      [await file('short', 'x'.repeat(MIN_TURN_SECRET_LENGTH - 1), 0o600), /at least 16/],
      [join(dir, 'missing'), /cannot be read \(ENOENT\)/],
      [join(dir, 'adir'), /not a regular file/]
    ]
    for (const [path, message] of cases) {
      const err = await loadTurnSecret(path).then(() => undefined, (e: unknown) => e)
      expect(err).toBeInstanceOf(TurnSecretError)
      expect(err).toMatchObject({ name: 'TurnSecretError', message })
    }
  })

  it('honours an aborted signal', async () => {
    await expect(loadTurnSecret(await file('sig', SECRET, 0o600), { signal: AbortSignal.abort() })).rejects.toMatchObject({ name: 'AbortError' })
  })
})

describe('iceServersFor', () => {
  it('lists STUN urls, then TURN urls with this peer\'s credentials, and when they expire', () => {
    const now = (): number => 1_700_000_000_000
    const ice = iceServersFor(PEER, {
      stun: [{ host: 'relay.example.com', port: 3478 }, { host: '2001:db8::1', port: 3479 }],
      turnUrls: ['turn:turn.example.com:3478?transport=udp', 'turns:turn.example.com:5349?transport=tcp'],
      turnSecret: SECRET,
      ttlSeconds: 3600,
      now
    })
    expect(ice).toEqual({
      servers: [
        { urls: ['stun:relay.example.com:3478', 'stun:[2001:db8::1]:3479'] },
        { urls: ['turn:turn.example.com:3478?transport=udp', 'turns:turn.example.com:5349?transport=tcp'], username: `1700003600:${PEER}`, credential: '/rR4DHk/lkrKM6dzMQ/pcMdcKtg=' }
      ],
      expiresAt: 1_700_003_600
    })
  })

  it('is STUN only (nothing expires) without TURN urls, empty without anything, and refuses TURN without a secret', () => {
    expect(iceServersFor(PEER, { stun: [{ host: '127.0.0.1', port: 3478 }] })).toEqual({ servers: [{ urls: ['stun:127.0.0.1:3478'] }], expiresAt: 0 })
    expect(iceServersFor(PEER, {})).toEqual({ servers: [], expiresAt: 0 })
    expect(() => iceServersFor(PEER, { turnUrls: ['turn:t.example.com'] })).toThrow(/no TURN secret/)
    expect(() => iceServersFor(PEER, { turnUrls: ['http://t.example.com'], turnSecret: SECRET })).toThrow(TurnConfigError)
  })

  it('validates TURN urls as browsers take them', () => {
    for (const ok of ['turn:turn.example.com', 'turn:203.0.113.7:3478', 'turn:[2001:db8::1]:3478?transport=udp', 'turns:turn.example.com:443?transport=tcp']) {
      expect(validateTurnUrl(ok)).toBe(ok)
    }
    for (const bad of ['stun:x.example.com', 'turn:', 'turn:host:99999', 'turn:host:3478?transport=sctp', 'turn://host:3478', 'turn:host name', 'turn:-host']) {
      expect(() => validateTurnUrl(bad)).toThrow(TurnConfigError)
    }
    expect(stunUrl('::1', 3478)).toBe('stun:[::1]:3478')
  })

  it('parses TURN urls into their parts, and finds coturn\'s STUN servers in the plain ones', () => {
    expect(parseTurnUrl('turn:[2001:db8::1]:3478?transport=udp')).toEqual({ secure: false, host: '2001:db8::1', port: 3478, transport: 'udp' })
    expect(parseTurnUrl('turns:turn.example.com')).toEqual({ secure: true, host: 'turn.example.com', port: undefined, transport: undefined })
    expect(() => parseTurnUrl('turn:host:0')).toThrow(TurnConfigError)
    expect(coturnStunServers([
      'turn:t.example.com:3478?transport=udp', 'turn:t.example.com:3478?transport=tcp', 'turns:t.example.com:5349?transport=tcp',
      'turn:[2001:db8::1]', 'turn:203.0.113.7:3479'
    ])).toEqual([{ host: 't.example.com', port: 3478 }, { host: '2001:db8::1', port: 3478 }, { host: '203.0.113.7', port: 3479 }])
    expect(() => coturnStunServers(['turn:host name'])).toThrow(TurnConfigError)
  })
})

describe('createCredentialLimiter', () => {
  it('allows 5 at once per peer, then one a minute', () => {
    let now = 0
    const limiter = createCredentialLimiter(undefined, { now: () => now })
    expect(Array.from({ length: 6 }, () => limiter.take('a'))).toEqual([true, true, true, true, true, false])
    expect(limiter.take('b')).toBe(true)
    now += 30_000
    expect(limiter.take('a')).toBe(false)
    now += 30_000
    expect(limiter.take('a')).toBe(true)
  })
})
