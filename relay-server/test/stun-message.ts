// STUN/TURN messages for the tests (RFC 8489, RFC 8656): building them attribute by attribute, and reading
// answers. Shared by stun.test.ts, the coturn helper (coturn.ts) and the hostile tests.
import { createHash, createHmac } from 'node:crypto'
import { crc32, STUN_MAGIC_COOKIE } from '../stun.ts'

export const COOKIE = STUN_MAGIC_COOKIE
/** Message types: Binding, and the TURN methods the tests use (requests; indications for Send and Data) */
export const T = {
  binding: 0x0001,
  allocate: 0x0003,
  refresh: 0x0004,
  createPermission: 0x0008,
  send: 0x0016,
  data: 0x0017
} as const
/** Attribute types */
export const A = {
  username: 0x0006,
  integrity: 0x0008,
  errorCode: 0x0009,
  lifetime: 0x000d,
  peer: 0x0012,
  data: 0x0013,
  realm: 0x0014,
  nonce: 0x0015,
  relayed: 0x0016,
  transport: 0x0019,
  mapped: 0x0020,
  software: 0x8022,
  fingerprint: 0x8028
} as const

export interface Msg { type: number, txid: Buffer, attrs: Map<number, Buffer>, raw: Buffer }

/** One attribute, padded to 4 bytes */
export function attr (type: number, value: Buffer): Buffer {
  const out = Buffer.alloc(4 + ((value.length + 3) & ~3))
  out.writeUInt16BE(type, 0)
  out.writeUInt16BE(value.length, 2)
  value.copy(out, 4)
  return out
}

function header (type: number, length: number, txid: Buffer, cookie: number): Buffer {
  const h = Buffer.alloc(20)
  h.writeUInt16BE(type, 0)
  h.writeUInt16BE(length, 2)
  h.writeUInt32BE(cookie, 4)
  txid.copy(h, 8)
  return h
}

/**
 * A message of `type` with the (already padded) attributes `body`; with `key`, MESSAGE-INTEGRITY
 * (HMAC-SHA1 over the message, its length counting the attribute); with `fingerprint`, FINGERPRINT last
 */
export function stunMessage (type: number, txid: Buffer, body: Buffer = Buffer.alloc(0), options: { key?: Buffer, fingerprint?: boolean, cookie?: number } = {}): Buffer {
  const cookie = options.cookie ?? COOKIE
  const extra = (options.key == null ? 0 : 24) + (options.fingerprint === true ? 8 : 0)
  let msg = Buffer.concat([header(type, body.length + extra, txid, cookie), body])
  if (options.key != null) {
    const head = Buffer.from(msg)
    head.writeUInt16BE(body.length + 24, 2) // the HMAC covers a length that ends with MESSAGE-INTEGRITY
    msg = Buffer.concat([msg, attr(A.integrity, createHmac('sha1', options.key).update(head).digest())])
  }
  if (options.fingerprint === true) {
    const value = Buffer.alloc(4)
    value.writeUInt32BE((crc32(msg) ^ 0x5354554e) >>> 0)
    msg = Buffer.concat([msg, attr(A.fingerprint, value)])
  }
  return msg
}

/** A message whose attributes are `[type, value]` pairs */
export function message (type: number, txid: Buffer, attrs: Array<[number, Buffer]>, key?: Buffer): Buffer {
  return stunMessage(type, txid, Buffer.concat(attrs.map(([t, v]) => attr(t, v))), { key })
}

/** A received message: its type, transaction id and attributes (the first of each type) */
export function parse (raw: Buffer): Msg {
  const attrs = new Map<number, Buffer>()
  for (let at = 20; at + 4 <= raw.length;) {
    const type = raw.readUInt16BE(at)
    const len = raw.readUInt16BE(at + 2)
    if (!attrs.has(type)) attrs.set(type, raw.subarray(at + 4, at + 4 + len))
    at += 4 + ((len + 3) & ~3)
  }
  return { type: raw.readUInt16BE(0), txid: raw.subarray(8, 20), attrs, raw }
}

/** An IPv4 XOR-PEER-ADDRESS / XOR-MAPPED-ADDRESS value */
export function xorAddress (ip: string, port: number): Buffer {
  const v = Buffer.alloc(8)
  v[1] = 0x01
  v.writeUInt16BE(port ^ (COOKIE >>> 16), 2)
  v.writeUInt32BE((ip.split('.').reduce((n, p) => (n << 8) + Number(p), 0) ^ COOKIE) >>> 0, 4)
  return v
}

export function readXorAddress (v: Buffer): { address: string, port: number } {
  const ip = (v.readUInt32BE(4) ^ COOKIE) >>> 0
  return { address: [24, 16, 8, 0].map(s => (ip >>> s) & 0xff).join('.'), port: v.readUInt16BE(2) ^ (COOKIE >>> 16) }
}

/** The ERROR-CODE of an error response (e.g. 401, 403, 486), or undefined */
export function errorCode (m: Msg): number | undefined {
  const v = m.attrs.get(A.errorCode)
  return v == null ? undefined : (v[2] & 7) * 100 + v[3]
}

/** RFC 8489 §9.2.2: the long-term credential key */
export function longTermKey (username: string, realm: string, password: string): Buffer {
  return createHash('md5').update(`${username}:${realm}:${password}`).digest()
}

/** Whether a response's MESSAGE-INTEGRITY was made with `key` */
export function integrityOk (m: Msg, key: Buffer): boolean {
  for (let at = 20; at + 4 <= m.raw.length;) {
    const type = m.raw.readUInt16BE(at)
    const len = m.raw.readUInt16BE(at + 2)
    if (type === A.integrity) {
      const head = Buffer.from(m.raw.subarray(0, at))
      head.writeUInt16BE(at - 20 + 24, 2)
      return createHmac('sha1', key).update(head).digest().equals(m.raw.subarray(at + 4, at + 24))
    }
    at += 4 + ((len + 3) & ~3)
  }
  return false
}
