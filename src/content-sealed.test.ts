// Content shared into a private room (room.share / room.fetch): sealed segment by segment before it is cut into
// blocks, so the blocks stored and served hold none of the plain bytes; only a room with the same secret opens it.
// Node peers over a real relay (in process) and WebRTC links (node-datachannel); and seal.ts alone.
import { createHash } from 'node:crypto'
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { openSegments, sealedSize, sealSegments } from './content/seal.ts'
import { SEALED_SEGMENT } from './content.ts'
import { peer, relay } from './test/rooms.ts'
import type { ContentRef } from './index.ts'

const SECRET = 'c4d2e0f8a6b14c3e9d7f5a1b3c5e7f90'
const MARKER = 'PEERLANE-PLAINTEXT-MARKER'
const dirs: string[] = []
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true })
})

const sha = (data: Uint8Array): string => createHash('sha256').update(data).digest('hex')
const contains = (bytes: Uint8Array, text: string): boolean => Buffer.from(bytes).includes(Buffer.from(text))
const bytesOfBlob = async (blob: Blob): Promise<Uint8Array> => new Uint8Array(await blob.arrayBuffer())

/** `size` bytes of text with MARKER every 64 bytes */
function plaintext (size: number): Uint8Array {
  const line = Buffer.from(`${MARKER} ${'x'.repeat(64 - MARKER.length - 2)}\n`)
  const out = new Uint8Array(size)
  for (let at = 0; at < size; at += line.byteLength) out.set(line.subarray(0, Math.min(line.byteLength, size - at)), at)
  return out
}

async function storeDir (): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'peerlane-sealed-'))
  dirs.push(dir)
  return dir
}

async function * chunks (data: Uint8Array, size: number): AsyncGenerator<Uint8Array> {
  for (let at = 0; at < data.byteLength; at += size) yield data.subarray(at, at + size)
}

async function collect (source: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = []
  for await (const part of source) parts.push(part)
  return Buffer.concat(parts)
}

describe('sealed content (seal.ts)', () => {
  it('round-trips every size around segment boundaries, and refuses reordered, truncated, extended or altered segments', async () => {
    const segment = 1024
    const key = await crypto.subtle.generateKey({ name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt'])
    const other = await crypto.subtle.generateKey({ name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt'])
    for (const size of [0, 1, segment - 1, segment, segment + 1, 3 * segment, 3 * segment + 17]) {
      const data = plaintext(size)
      const sealed = await collect(sealSegments(chunks(data, 333), { key, segment }))
      expect(sealed.byteLength).toBe(sealedSize(size, segment))
      expect(size < MARKER.length || !contains(sealed, MARKER)).toBe(true)
      expect(sha(await collect(openSegments(chunks(sealed, 700), { key, segment }, 'c')))).toBe(sha(data))
      await expect(collect(openSegments(chunks(sealed, 700), { key: other, segment }, 'c'))).rejects.toMatchObject({ name: 'ContentSealedError', cid: 'c' })
    }
    const data = plaintext(3 * segment + 17)
    const sealed = await collect(sealSegments(chunks(data, 4096), { key, segment }))
    const s = segment + 16
    const variants: Record<string, Uint8Array> = {
      reordered: Buffer.concat([sealed.subarray(s, 2 * s), sealed.subarray(0, s), sealed.subarray(2 * s)]),
      'last segment dropped': sealed.subarray(0, 3 * s),
      'cut inside the last segment': sealed.subarray(0, sealed.byteLength - 5),
      'a segment appended': Buffer.concat([sealed, sealed.subarray(0, s)]),
      'a byte flipped': Uint8Array.from(sealed, (b, i) => i === s + 10 ? b ^ 1 : b),
      empty: new Uint8Array(0)
    }
    for (const [what, bytes] of Object.entries(variants)) {
      await expect(collect(openSegments(chunks(bytes, 4096), { key, segment }, 'c')), what).rejects.toMatchObject({ name: 'ContentSealedError' })
    }
  })
})

describe('room.share / room.fetch (Node peers, one relay)', () => {
  it('a private room\'s file is stored and served sealed, opens byte-identical for a member, and nowhere else', async () => {
    const r = await relay()
    const dir = await storeDir()
    const content = { blockSize: 64 * 1024 }
    const a = await peer(r, { maxDirectPeers: 8, content: { ...content, store: { directory: dir } } })
    const [b, outsider, wrong] = [await peer(r, { maxDirectPeers: 8, content }), await peer(r, { maxDirectPeers: 8, content }), await peer(r, { maxDirectPeers: 8, content })]
    const [ra, rb, rw] = [await a.join('vault', { secret: SECRET }), await b.join('vault', { secret: SECRET }), await wrong.join('vault', { secret: SECRET.toUpperCase() })]
    const data = plaintext(3 * SEALED_SEGMENT + 1234)

    const ref = await ra.share(new Blob([data as BlobPart], { type: 'text/plain' }), { name: 'plan.txt' })
    expect(ref).toMatchObject({ size: data.byteLength, name: 'plan.txt', type: 'text/plain', sealed: { segment: SEALED_SEGMENT } })
    expect(ref.sealed?.salt).toMatch(/^[\w-]{22}$/)
    // a's blockstore (blockstore-fs): every block sealed
    let files = 0
    for (const file of await readdir(dir, { recursive: true })) {
      if (!file.endsWith('.data')) continue
      files++
      expect(contains(await readFile(join(dir, file)), MARKER), file).toBe(false)
    }
    expect(files).toBeGreaterThan(10)
    // the same bytes shared again get another salt, so another CID: a CID tells nothing of the plain bytes
    const again = await ra.share(new Blob([data as BlobPart]))
    expect(again.cid).not.toBe(ref.cid)

    // a member gets it byte-identical, as a Blob and as a stream
    const blob = await rb.fetch(ref, { from: [a.id] })
    expect(blob.size).toBe(data.byteLength)
    expect(sha(await bytesOfBlob(blob))).toBe(sha(data))
    expect(sha(await collect(await rb.fetch(ref, { as: 'stream' }) as unknown as AsyncIterable<Uint8Array>))).toBe(sha(data))

    // outside the room: peer.fetch refuses the sealed ref; by its CID alone it gets the sealed bytes
    await expect(outsider.fetch(ref, { from: [a.id] })).rejects.toMatchObject({ name: 'ContentSealedError', cid: ref.cid })
    const sealed = await bytesOfBlob(await outsider.fetch({ cid: ref.cid, size: 0 }, { from: [a.id] }))
    expect(sealed.byteLength).toBe(sealedSize(data.byteLength, SEALED_SEGMENT))
    expect(contains(sealed, MARKER)).toBe(false)

    // a room with another secret: the same blocks, but they do not open
    await expect(rw.fetch(ref, { from: [a.id] })).rejects.toMatchObject({ name: 'ContentSealedError', cid: ref.cid })
    // a ref with another salt
    const salt = (ref.sealed?.salt.startsWith('A') === true ? 'B' : 'A') + (ref.sealed?.salt.slice(1) ?? '')
    await expect(rb.fetch({ ...ref, sealed: { salt, segment: SEALED_SEGMENT } }, { from: [a.id] })).rejects.toMatchObject({ name: 'ContentSealedError' })

    // altered sealed bytes, shared (as plain content) under a CID of their own: a byte flipped in the second
    // segment (the first segment still opens, as a stream), and the last segment dropped
    const s = SEALED_SEGMENT + 16
    const flipped = Uint8Array.from(sealed, (x, i) => i === s + 100 ? x ^ 0x20 : x)
    const refFlipped: ContentRef = { ...ref, cid: (await outsider.share(new Blob([flipped as BlobPart]))).cid }
    await expect(rb.fetch(refFlipped, { from: [outsider.id] })).rejects.toMatchObject({ name: 'ContentSealedError', cid: refFlipped.cid })
    const reader = (await rb.fetch(refFlipped, { from: [outsider.id], as: 'stream' })).getReader()
    let opened = 0
    await expect((async () => {
      while (true) {
        const { value, done } = await reader.read()
        if (done) return
        opened += value.byteLength
      }
    })()).rejects.toMatchObject({ name: 'ContentSealedError' })
    expect(opened).toBe(SEALED_SEGMENT)
    const truncated = sealed.subarray(0, 3 * s)
    const refTruncated: ContentRef = { ...ref, cid: (await outsider.share(new Blob([truncated as BlobPart]))).cid }
    await expect(rb.fetch(refTruncated, { from: [outsider.id] })).rejects.toMatchObject({ name: 'ContentSealedError' })

    // an empty file
    const empty = await ra.share(new Blob([]))
    expect(empty).toMatchObject({ size: 0 })
    expect((await rb.fetch(empty, { from: [a.id] })).size).toBe(0)
  // 5.5 s on branch content-sealed; since the hostile-sdk merge ~66 s, a WebRTC link to a non-member that
  // stalls ~30 s twice (a Bitswap stream on it times out): a regression to find (see the session note), not a goal
  }, 300_000)

  it('in a public room room.share and room.fetch are peer.share and peer.fetch; a sealed ref does not open there', async () => {
    const r = await relay()
    const [a, b] = [await peer(r, { maxDirectPeers: 8 }), await peer(r, { maxDirectPeers: 8 })]
    const [ra, rb] = [await a.join('lobby'), await b.join('lobby')]
    const data = plaintext(100_000)
    const ref = await ra.share(new Blob([data as BlobPart]))
    expect(ref.sealed).toBeUndefined()
    expect((await a.share(new Blob([data as BlobPart]))).cid).toBe(ref.cid)
    expect(sha(await bytesOfBlob(await rb.fetch(ref, { from: [a.id] })))).toBe(sha(data))
    const sealed = await (await a.join('vault', { secret: SECRET })).share(new Blob([data as BlobPart]))
    await expect(rb.fetch(sealed, { from: [a.id] })).rejects.toMatchObject({ name: 'ContentSealedError' })
  }, 60_000)
})
