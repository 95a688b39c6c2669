// A STUN Binding responder on UDP (RFC 8489, formerly RFC 5389), so that Peerlane browsers learn their
// public address (their server-reflexive ICE candidate) from their own relay and no third party learns
// who they are.
//
// Own code, not a package. Evaluated: `@msimerson/stun` 3.2.1 (the maintained fork of nodertc/stun) and
// `stun` 2.1.0 (nodertc's, whose last release still depends on `ip`, which has an open advisory, and on a
// CLI parser). Both have a server mode, but they decode every datagram into a full message object with
// the `binary-data` codec (4 runtime dependencies, CommonJS, ~160 KB of source) and leave what matters
// here to the caller: refusing before parsing, never answering garbage, no error responses, per-IP rate
// limits. A Binding responder is a header check, an attribute walk and one 8- or 20-byte attribute, below.
//
// What it answers: Binding requests only (class request, method Binding, magic cookie, consistent lengths,
// well-formed attributes, a correct FINGERPRINT if one is present). The success response carries
// XOR-MAPPED-ADDRESS and, only when the request had one, FINGERPRINT: 32 bytes for IPv4, 44 for IPv6,
// at most 12 (IPv4) or 24 (IPv6) bytes more than the request, one datagram per datagram. It cannot be
// "never larger": a browser's Binding request is a bare 20-byte header, and refusing those would refuse
// every browser. Reflection is bounded instead by rate: per source IP (IPv6: per /64), and in total. All
// else (non-STUN, responses, indications, other methods, malformed, unknown comprehension-required
// attributes, which RFC 8489 would answer with a 420 error) gets no answer at all.
import { createSocket } from 'node:dgram'
import { isIP } from 'node:net'
import { RateLimiter } from './rate-limit.ts'
import type { RateLimit } from './rate-limit.ts'
import type { RelayLogger } from './log.ts'
import type { RemoteInfo, Socket } from 'node:dgram'

/** RFC 8489 §6: the fixed value in every STUN header since RFC 5389 */
export const STUN_MAGIC_COOKIE = 0x2112a442
const HEADER = 20
const BINDING_REQUEST = 0x0001
const BINDING_SUCCESS = 0x0101
const XOR_MAPPED_ADDRESS = 0x0020
const FINGERPRINT = 0x8028
const FINGERPRINT_XOR = 0x5354554e
/** Larger datagrams are not Binding requests a browser sends (theirs are ~20-100 bytes) */
const MAX_REQUEST = 1280
/**
 * Comprehension-required attributes (type < 0x8000) that a responder without authentication knows and
 * may ignore: USERNAME, MESSAGE-INTEGRITY, REALM, NONCE, MESSAGE-INTEGRITY-SHA256, USERHASH (RFC 8489),
 * PRIORITY, USE-CANDIDATE (RFC 8445). Any other one (e.g. RFC 5780's CHANGE-REQUEST) means a request we
 * cannot serve, and we do not answer it.
 */
const KNOWN_REQUIRED = new Set([0x0006, 0x0008, 0x0014, 0x0015, 0x001c, 0x001e, 0x0024, 0x0025])

/** The STUN responder's default per-IP limit: 20 answers/s, bursts of 40 */
export const STUN_RATE_PER_IP: Readonly<RateLimit> = Object.freeze({ perSecond: 20, burst: 40 })
/**
 * The STUN responder's default limit on all answers together: 5,000/s (at most ~1.8 Mbit/s of IPv6
 * answers), whatever the number of sources, which spoofed ones make endless
 */
export const STUN_RATE_TOTAL: Readonly<RateLimit> = Object.freeze({ perSecond: 5_000, burst: 10_000 })

/** What happened to one datagram */
export type StunOutcome = 'answered' | 'refused' | 'ignored'

/** Counters since start */
export interface StunStats {
  /** Binding requests answered */
  answered: number
  /** valid Binding requests not answered because their source IP, or all sources together, were over a limit */
  refused: number
  /** datagrams that were not a valid Binding request (never answered) */
  ignored: number
  /** source IPs (IPv6: /64 prefixes) whose buckets are tracked now */
  trackedIps: number
}

/** Options of {@link startStunServer} */
export interface StunServerOptions {
  /** the address to bind: an IPv6 address binds `udp6` (`::` is dual-stack), anything else `udp4` @default '0.0.0.0' */
  host?: string
  /** the UDP port; 0 picks a free one @default 3478 */
  port?: number
  /** answers per source IP (IPv6: per /64, the unit one host gets) @default {@link STUN_RATE_PER_IP} */
  ratePerIp?: RateLimit
  /** source IPs tracked at once by the rate limit @default 65536 */
  maxTrackedIps?: number
  /** answers of all sources together @default {@link STUN_RATE_TOTAL} */
  rateTotal?: RateLimit
  /** called for every datagram, e.g. to count metrics */
  onOutcome?: (outcome: StunOutcome) => void
  log?: RelayLogger
  /** aborting it before the socket listens rejects the start; after, it closes the server */
  signal?: AbortSignal
}

/** A listening STUN responder */
export interface StunServer {
  /** the bound port */
  readonly port: number
  /** the bound address */
  readonly address: string
  /** counters since start */
  stats: () => StunStats
  /** closes the socket (idempotent); resolves once the port is free */
  close: () => Promise<void>
}

/** The STUN socket could not be opened (bad host, port in use, no permission) */
export class StunServerError extends Error {
  static name = 'StunServerError'
  constructor (message: string, options?: ErrorOptions) {
    super(message, options)
    this.name = 'StunServerError'
  }
}

/** Starts a STUN Binding responder; resolves once its socket listens */
export async function startStunServer (options: StunServerOptions = {}): Promise<StunServer> {
  const host = options.host ?? '0.0.0.0'
  const port = options.port ?? 3478
  const log = options.log
  const limiter = new RateLimiter({ ...(options.ratePerIp ?? STUN_RATE_PER_IP), maxKeys: options.maxTrackedIps })
  const total = new RateLimiter({ ...(options.rateTotal ?? STUN_RATE_TOTAL), maxKeys: 1 })
  const counts = { answered: 0, refused: 0, ignored: 0 }
  options.signal?.throwIfAborted()

  const socket: Socket = createSocket({ type: isIP(host) === 6 ? 'udp6' : 'udp4' })
  let lastRefusalLog = 0
  const outcome = (what: StunOutcome): void => {
    counts[what]++
    options.onOutcome?.(what)
  }
  socket.on('message', (msg: Buffer, rinfo: RemoteInfo) => {
    const request = rinfo.port === 0 ? undefined : parseBindingRequest(msg)
    if (request == null) { outcome('ignored'); return }
    const source = sourceAddress(rinfo.address)
    if (source == null) { outcome('ignored'); return }
    // the source's own limit first: one flooding source then drains its bucket, not everyone's
    if (!limiter.take(source.key) || !total.take('all')) {
      outcome('refused')
      // refusals come in floods: one debug line a second is enough to see them
      if (log?.enabled('debug') === true && Date.now() - lastRefusalLog > 1_000) {
        lastRefusalLog = Date.now()
        log.debug('stun:refused', { ip: rinfo.address, refused: counts.refused })
      }
      return
    }
    const answer = bindingSuccess(msg, source.bytes, rinfo.port, request.fingerprint)
    socket.send(answer, rinfo.port, rinfo.address, err => {
      if (err != null) log?.debug('stun:send-failed', { ip: rinfo.address, error: err.message })
    })
    outcome('answered')
  })

  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error): void => {
      options.signal?.removeEventListener('abort', onAbort)
      socket.close()
      reject(new StunServerError(`cannot listen on udp ${host}:${port}: ${err.message}`, { cause: err }))
    }
    const onAbort = (): void => {
      socket.off('error', onError)
      socket.close()
      reject(options.signal?.reason)
    }
    socket.once('error', onError)
    options.signal?.addEventListener('abort', onAbort, { once: true })
    socket.bind({ address: host, port, exclusive: true }, () => {
      socket.off('error', onError)
      options.signal?.removeEventListener('abort', onAbort)
      resolve()
    })
  })
  // after start, a socket error (e.g. ICMP-driven on some platforms) must not crash the relay
  socket.on('error', err => { log?.warn('stun:socket-error', { error: err.message }) })
  // idle buckets are dropped now and then, so memory follows current traffic
  const sweeper = setInterval(() => { limiter.prune() }, 30_000)
  sweeper.unref()

  const bound = socket.address()
  let closed: Promise<void> | undefined
  const close = async (): Promise<void> => {
    closed ??= new Promise<void>(resolve => {
      clearInterval(sweeper)
      options.signal?.removeEventListener('abort', onAbortLater)
      socket.close(() => { resolve() })
    })
    return closed
  }
  const onAbortLater = (): void => { void close() }
  options.signal?.addEventListener('abort', onAbortLater, { once: true })
  log?.debug('stun:listening', { address: bound.address, port: bound.port })
  return {
    port: bound.port,
    address: bound.address,
    stats: () => ({ ...counts, trackedIps: limiter.size }),
    close
  }
}

/** A Binding request's facts we need, or undefined for anything that must not be answered */
export function parseBindingRequest (msg: Uint8Array): { fingerprint: boolean } | undefined {
  if (msg.length < HEADER || msg.length > MAX_REQUEST) return undefined
  const view = new DataView(msg.buffer, msg.byteOffset, msg.byteLength)
  // the top two bits are 0 in STUN (that is how it is told from DTLS, RTP... on one port); type: Binding request
  if (view.getUint16(0) !== BINDING_REQUEST) return undefined
  const length = view.getUint16(2)
  if (length % 4 !== 0 || HEADER + length !== msg.length) return undefined
  if (view.getUint32(4) !== STUN_MAGIC_COOKIE) return undefined
  let offset = HEADER
  let fingerprint = false
  while (offset < msg.length) {
    if (fingerprint) return undefined // FINGERPRINT must be the last attribute
    if (offset + 4 > msg.length) return undefined
    const type = view.getUint16(offset)
    const len = view.getUint16(offset + 2)
    const next = offset + 4 + ((len + 3) & ~3)
    if (next > msg.length) return undefined
    if (type === FINGERPRINT) {
      if (len !== 4) return undefined
      if (((crc32(msg.subarray(0, offset)) ^ FINGERPRINT_XOR) >>> 0) !== view.getUint32(offset + 4)) return undefined
      fingerprint = true
    } else if (type < 0x8000 && !KNOWN_REQUIRED.has(type)) {
      return undefined
    }
    offset = next
  }
  return { fingerprint }
}

/** The success response to `request`: XOR-MAPPED-ADDRESS of `address`:`port`, FINGERPRINT if asked */
export function bindingSuccess (request: Uint8Array, address: Uint8Array, port: number, fingerprint: boolean): Buffer {
  const valueLength = 4 + address.length // reserved, family, x-port, x-address (4 or 16 bytes)
  const length = 4 + valueLength + (fingerprint ? 8 : 0)
  const out = Buffer.alloc(HEADER + length)
  out.writeUInt16BE(BINDING_SUCCESS, 0)
  out.writeUInt16BE(length, 2)
  out.writeUInt32BE(STUN_MAGIC_COOKIE, 4)
  out.set(request.subarray(8, HEADER), 8) // the transaction id
  out.writeUInt16BE(XOR_MAPPED_ADDRESS, HEADER)
  out.writeUInt16BE(valueLength, HEADER + 2)
  out[HEADER + 5] = address.length === 4 ? 0x01 : 0x02
  out.writeUInt16BE(port ^ (STUN_MAGIC_COOKIE >>> 16), HEADER + 6)
  // IPv4 is XORed with the cookie, IPv6 with cookie ‖ transaction id: exactly bytes 4..20 of the header
  for (let i = 0; i < address.length; i++) out[HEADER + 8 + i] = address[i] ^ out[4 + i]
  if (fingerprint) {
    const at = HEADER + 4 + valueLength
    out.writeUInt16BE(FINGERPRINT, at)
    out.writeUInt16BE(4, at + 2)
    out.writeUInt32BE((crc32(out.subarray(0, at)) ^ FINGERPRINT_XOR) >>> 0, at + 4)
  }
  return out
}

/**
 * A source's address bytes (IPv4-mapped IPv6, as a dual-stack socket reports IPv4 peers, becomes IPv4)
 * and its rate-limit key: the IPv4 address, or the IPv6 /64
 */
export function sourceAddress (address: string): { bytes: Uint8Array, key: string } | undefined {
  const bare = address.split('%')[0] // link-local scope id
  if (isIP(bare) === 4) {
    const bytes = ipv4Bytes(bare)
    return bytes == null ? undefined : { bytes, key: bare }
  }
  const bytes = ipv6Bytes(bare)
  if (bytes == null) return undefined
  if (bytes.subarray(0, 10).every(b => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff) {
    const v4 = bytes.slice(12)
    return { bytes: v4, key: v4.join('.') }
  }
  return { bytes, key: Buffer.from(bytes.subarray(0, 8)).toString('hex') + '::/64' }
}

function ipv4Bytes (address: string): Uint8Array | undefined {
  const parts = address.split('.').map(Number)
  if (parts.length !== 4 || parts.some(p => !Number.isInteger(p) || p < 0 || p > 255)) return undefined
  return Uint8Array.from(parts)
}

function ipv6Bytes (address: string): Uint8Array | undefined {
  if (isIP(address) !== 6) return undefined
  let text = address
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text)
  if (dotted != null) {
    // an embedded IPv4 tail (::ffff:1.2.3.4) becomes its two hex groups
    const [a, b, c, d] = dotted.slice(1).map(Number)
    text = text.slice(0, dotted.index) + ((a << 8) | b).toString(16) + ':' + ((c << 8) | d).toString(16)
  }
  const [head, rest] = text.split('::')
  const hex = (s: string | undefined): number[] => s == null || s === '' ? [] : s.split(':').filter(p => p !== '').map(p => parseInt(p, 16))
  const front = hex(head)
  const back = hex(rest)
  const groups = rest == null ? front : [...front, ...new Array(Math.max(0, 8 - front.length - back.length)).fill(0), ...back]
  if (groups.length !== 8) return undefined
  const out = new Uint8Array(16)
  groups.forEach((g, i) => { out[2 * i] = g >> 8; out[2 * i + 1] = g & 0xff })
  return out
}

let CRC_TABLE: Uint32Array | undefined
/** CRC-32 (ISO 3309, as FINGERPRINT uses); zlib.crc32 needs Node 20.15+ */
export function crc32 (data: Uint8Array): number {
  if (CRC_TABLE == null) {
    CRC_TABLE = new Uint32Array(256)
    for (let n = 0; n < 256; n++) {
      let c = n
      for (let k = 0; k < 8; k++) c = (c & 1) !== 0 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
      CRC_TABLE[n] = c >>> 0
    }
  }
  let crc = 0xffffffff
  for (let i = 0; i < data.length; i++) crc = CRC_TABLE[(crc ^ data[i]) & 0xff] ^ (crc >>> 8)
  return (crc ^ 0xffffffff) >>> 0
}
