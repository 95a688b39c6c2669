// Sealed content (files shared into a private room, src/room.ts): the plain bytes are cut into segments of
// `segment` bytes, and each is sealed with AES-256-GCM under the file's own key (room-key.ts `contentKey`: the
// room's secret and the file's random salt), before the UnixFS importer sees them. The IV is the segment's
// index (bytes 4-11) and a last-segment flag (byte 0): each key seals one file, so IVs never repeat, and a
// segment moved, dropped, or cut off at the end fails to open. One segment at a time is in memory.
import { ContentSealedError } from '../errors.ts'

/** The key and segment size of sealed content */
export interface SealParams {
  key: CryptoKey
  /** plain bytes per segment; a sealed segment is 16 bytes more (the GCM tag) */
  segment: number
}

const TAG_BYTES = 16

/** The IV of segment `index` */
function iv (index: number, last: boolean): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(12)
  const view = new DataView(out.buffer)
  view.setUint8(0, last ? 1 : 0)
  view.setUint32(4, Math.floor(index / 2 ** 32))
  view.setUint32(8, index >>> 0)
  return out
}

/** The bytes of `source` again in pieces of exactly `size` bytes, but the last (which may be shorter; none for no bytes) */
async function * pieces (source: AsyncIterable<Uint8Array>, size: number): AsyncGenerator<Uint8Array<ArrayBuffer>> {
  const parts: Uint8Array[] = []
  let held = 0
  const take = (n: number): Uint8Array<ArrayBuffer> => {
    const out = new Uint8Array(n)
    let at = 0
    while (at < n) {
      const part = parts[0]
      const used = Math.min(part.byteLength, n - at)
      out.set(part.subarray(0, used), at)
      at += used
      if (used === part.byteLength) parts.shift()
      else parts[0] = part.subarray(used)
    }
    return out
  }
  for await (const chunk of source) {
    parts.push(chunk)
    held += chunk.byteLength
    for (; held >= size; held -= size) yield take(size)
  }
  if (held > 0) yield take(held)
}

/** The sealed bytes of `source`, a segment at a time */
export async function * sealSegments (source: AsyncIterable<Uint8Array>, { key, segment }: SealParams): AsyncGenerator<Uint8Array> {
  const seal = async (plain: Uint8Array<ArrayBuffer>, index: number, last: boolean): Promise<Uint8Array> =>
    new Uint8Array(await crypto.subtle.encrypt({ name: 'AES-GCM', iv: iv(index, last) }, key, plain))
  let index = 0
  let held: Uint8Array<ArrayBuffer> | undefined
  // each segment waits for the next one: only at the end is it known to be the last
  for await (const piece of pieces(source, segment)) {
    if (held != null) yield await seal(held, index++, false)
    held = piece
  }
  yield await seal(held ?? new Uint8Array(0), index, true)
}

/** The plain bytes of sealed `source`, a segment at a time; throws ContentSealedError (naming `cid`) at the first segment that fails to open */
export async function * openSegments (source: AsyncIterable<Uint8Array>, { key, segment }: SealParams, cid: string): AsyncGenerator<Uint8Array> {
  const open = async (sealed: Uint8Array<ArrayBuffer>, index: number, last: boolean): Promise<Uint8Array> => {
    try {
      return new Uint8Array(await crypto.subtle.decrypt({ name: 'AES-GCM', iv: iv(index, last) }, key, sealed))
    } catch (err) {
      throw new ContentSealedError(cid, `segment ${index} of ${cid} does not open with this room's key: sealed in another room, an altered ref, or altered or truncated content`, { cause: err })
    }
  }
  let index = 0
  let held: Uint8Array<ArrayBuffer> | undefined
  for await (const piece of pieces(source, segment + TAG_BYTES)) {
    if (held != null) yield await open(held, index++, false)
    held = piece
  }
  if (held == null) throw new ContentSealedError(cid, `${cid} is empty: sealed content has at least one segment`)
  yield await open(held, index, true)
}

/** Bytes of the sealed form of `size` plain bytes */
export function sealedSize (size: number, segment: number): number {
  return size + TAG_BYTES * Math.max(1, Math.ceil(size / segment))
}
