// TURN for Peerlane browsers through coturn, without user accounts: the relay and coturn share one secret
// (coturn's `use-auth-secret` + `static-auth-secret`), and the relay hands each peer short-lived
// credentials in coturn's "TURN REST API" scheme:
//   username   = "<unix-expiry>:<peerId>"
//   credential = base64(HMAC-SHA1(secret, username))
// coturn recomputes the HMAC and refuses usernames whose expiry has passed, so nothing is stored anywhere
// and a credential that leaks can start allocations for one TTL only (coturn checks the expiry when
// allocating, not on refreshes: see test/coturn.test.ts).
import { createHmac } from 'node:crypto'
import { open } from 'node:fs/promises'
import { RateLimiter } from './rate-limit.ts'
import type { RateLimit } from './rate-limit.ts'
import type { PeerId } from '@libp2p/interface'

/**
 * Shortest secret accepted: every peer receives username/credential pairs, i.e. HMAC outputs for known
 * inputs, so a short secret could be brute-forced offline from any one of them
 */
export const MIN_TURN_SECRET_LENGTH = 16
/**
 * Credentials' default lifetime, in seconds. coturn checks the expiry when an allocation is made, not on
 * its refreshes (test/coturn.test.ts), so this only has to cover asking to allocating; peers ask again after
 */
export const TURN_CREDENTIAL_TTL = 3600
/** Per-peer default limit on credential requests: 5 at once, then one a minute */
export const CREDENTIAL_RATE_PER_PEER: Readonly<RateLimit> = Object.freeze({ perSecond: 1 / 60, burst: 5 })

/** An RTCIceServer-like entry (what `new RTCPeerConnection({ iceServers })` takes) */
export interface IceServerInit {
  urls: string[]
  username?: string
  credential?: string
}

/** The ICE servers for one peer, and when their TURN credentials expire */
export interface IceServers {
  servers: IceServerInit[]
  /** unix seconds; 0 when nothing expires (STUN only) */
  expiresAt: number
}

/** One peer's TURN credentials */
export interface TurnCredentials {
  /** `<unix-expiry>:<peerId>` */
  username: string
  /** base64(HMAC-SHA1(secret, username)) */
  credential: string
  /** unix seconds */
  expiresAt: number
}

/** The TURN configuration is unusable (bad url, no secret, bad TTL) */
export class TurnConfigError extends Error {
  static name = 'TurnConfigError'
  constructor (message: string, options?: ErrorOptions) {
    super(message, options)
    this.name = 'TurnConfigError'
  }
}

/** The TURN secret file cannot be used; nothing was read from it */
export class TurnSecretError extends Error {
  static name = 'TurnSecretError'
  readonly path: string
  constructor (path: string, message: string, options?: ErrorOptions) {
    super(`TURN secret file ${path}: ${message}`, options)
    this.name = 'TurnSecretError'
    this.path = path
  }
}

/** Options of {@link turnCredentials} */
export interface TurnCredentialOptions {
  /** lifetime in seconds @default {@link TURN_CREDENTIAL_TTL} (1 hour) */
  ttlSeconds?: number
  /** the time they are made, in milliseconds since the epoch @default Date.now() */
  now?: number
}

/**
 * Credentials for `peerId` in coturn's shared-secret scheme (TURN REST API), valid for `ttlSeconds`
 * from `now`
 */
export function turnCredentials (secret: string, peerId: PeerId | string, options: TurnCredentialOptions = {}): TurnCredentials {
  const ttl = options.ttlSeconds ?? TURN_CREDENTIAL_TTL
  if (secret === '') throw new TurnConfigError('the TURN secret is empty')
  if (!Number.isInteger(ttl) || ttl <= 0) throw new TurnConfigError(`TURN credential TTL must be a positive whole number of seconds (got ${ttl})`)
  const id = peerId.toString()
  // coturn takes everything before the first ':' as the expiry: PeerIds (base58btc / base32) have none
  if (id === '' || id.includes(':')) throw new TurnConfigError(`not a PeerId: ${JSON.stringify(id)}`)
  const expiresAt = Math.floor((options.now ?? Date.now()) / 1_000) + ttl
  const username = `${expiresAt}:${id}`
  const credential = createHmac('sha1', secret).update(username).digest('base64')
  return { username, credential, expiresAt }
}

/**
 * Reads the TURN shared secret (the same string as coturn's `static-auth-secret`) from a file, trimmed.
 * Refuses a file that is empty, shorter than {@link MIN_TURN_SECRET_LENGTH}, not a regular file, or
 * readable by everyone (mode o+r: `chmod 600` or `640` it).
 */
export async function loadTurnSecret (path: string, options: { signal?: AbortSignal } = {}): Promise<string> {
  options.signal?.throwIfAborted()
  let text: string
  try {
    // one open file for the checks and the read, so the file checked is the file read
    const file = await open(path, 'r')
    try {
      const stat = await file.stat()
      if (!stat.isFile()) throw new TurnSecretError(path, 'is not a regular file')
      if ((stat.mode & 0o004) !== 0) {
        throw new TurnSecretError(path, `is readable by every user (mode ${(stat.mode & 0o777).toString(8)}): chmod 600 it`)
      }
      text = await file.readFile({ encoding: 'utf8', signal: options.signal })
    } finally {
      await file.close()
    }
  } catch (err: any) {
    if (err instanceof TurnSecretError || err?.name === 'AbortError') throw err
    throw new TurnSecretError(path, `cannot be read (${err.code ?? err.message})`, { cause: err })
  }
  const secret = text.trim()
  if (secret === '') throw new TurnSecretError(path, 'is empty')
  if (secret.length < MIN_TURN_SECRET_LENGTH) {
    throw new TurnSecretError(path, `holds ${secret.length} characters; use at least ${MIN_TURN_SECRET_LENGTH} (e.g. openssl rand -hex 32)`)
  }
  return secret
}

/** A `turn:` or `turns:` url's parts */
export interface TurnUrl {
  /** `turns:` (TLS) */
  secure: boolean
  /** a name or an IP address (IPv6 without its brackets) */
  host: string
  /** absent: the scheme's default (3478, or 5349 for `turns:`) */
  port?: number
  transport?: 'udp' | 'tcp'
}

const TURN_URL = /^(turns?):(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?)(?::(\d{1,5}))?(?:\?transport=(udp|tcp))?$/

/**
 * Parses a `--turn-url` (RFC 7065 form, as browsers take it): `turn:` or `turns:`, a host or [IPv6],
 * an optional port, an optional `?transport=udp|tcp`. Throws {@link TurnConfigError} for anything else.
 */
export function parseTurnUrl (url: string): TurnUrl {
  const m = TURN_URL.exec(url)
  const port = m?.[3] == null ? undefined : Number(m[3])
  if (m == null || (port != null && (port < 1 || port > 65_535))) {
    throw new TurnConfigError(`not a TURN url: ${JSON.stringify(url)} (expected e.g. turn:turn.example.com:3478?transport=udp or turns:turn.example.com:5349?transport=tcp)`)
  }
  return { secure: m[1] === 'turns', host: m[2].replace(/^\[|\]$/g, ''), port, transport: m[4] as TurnUrl['transport'] }
}

/** Checks a `--turn-url` (see {@link parseTurnUrl}); returns it unchanged */
export function validateTurnUrl (url: string): string {
  parseTurnUrl(url)
  return url
}

/**
 * The STUN servers of coturns given by their plain (UDP or TCP, not TLS) `turn:` urls: coturn answers STUN
 * on the host and port of its TURN listener (default 3478), so each one once
 */
export function coturnStunServers (turnUrls: string[]): Array<{ host: string, port: number }> {
  const servers = new Map<string, { host: string, port: number }>()
  for (const url of turnUrls) {
    const { secure, host, port = 3478 } = parseTurnUrl(url)
    if (!secure) servers.set(`${host}:${port}`, { host, port })
  }
  return [...servers.values()]
}

/** A `stun:` url for `host`:`port` (IPv6 in brackets) */
export function stunUrl (host: string, port: number): string {
  return `stun:${host.includes(':') ? `[${host}]` : host}:${port}`
}

/** What the relay advertises to its peers */
export interface IceConfig {
  /** STUN servers to advertise: the relay's own, or coturn's when it runs beside the relay @default [] */
  stun?: Array<{ host: string, port: number }>
  /** TURN urls, each as given (`turn:…:3478?transport=udp`, `turns:…:5349?transport=tcp`) @default [] */
  turnUrls?: string[]
  /** the shared secret (coturn's `static-auth-secret`); required with `turnUrls` */
  turnSecret?: string
  /** TURN credentials' lifetime, in seconds @default {@link TURN_CREDENTIAL_TTL} (1 hour) */
  ttlSeconds?: number
  /** the clock, in milliseconds @default Date.now */
  now?: () => number
}

/**
 * The RTCIceServer-like list for `peerId`: one entry with every STUN url, one with every TURN url and
 * this peer's credentials (one pair serves all of a coturn's urls). Throws {@link TurnConfigError} for
 * TURN urls without a secret, or a bad url.
 */
export function iceServersFor (peerId: PeerId | string, config: IceConfig): IceServers {
  const servers: IceServerInit[] = []
  const stun = (config.stun ?? []).map(s => stunUrl(s.host, s.port))
  if (stun.length > 0) servers.push({ urls: stun })
  let expiresAt = 0
  const turn = (config.turnUrls ?? []).map(validateTurnUrl)
  if (turn.length > 0) {
    if (config.turnSecret == null || config.turnSecret === '') throw new TurnConfigError('TURN urls are set but no TURN secret')
    const creds = turnCredentials(config.turnSecret, peerId, { ttlSeconds: config.ttlSeconds, now: (config.now ?? Date.now)() })
    servers.push({ urls: turn, username: creds.username, credential: creds.credential })
    expiresAt = creds.expiresAt
  }
  return { servers, expiresAt }
}

/**
 * A per-peer limit for credential requests (a PeerId is free to make, so this bounds one connection's
 * asking, not a determined client's; the relay's per-IP connection limits do the rest)
 */
export function createCredentialLimiter (
  rate: RateLimit = CREDENTIAL_RATE_PER_PEER,
  /** `maxPeers`: peers tracked at once (@default 65536); `now`: the clock in ms (@default Date.now) */
  options: { maxPeers?: number, now?: () => number } = {}
): RateLimiter {
  return new RateLimiter({ ...rate, maxKeys: options.maxPeers ?? 65_536, now: options.now })
}
