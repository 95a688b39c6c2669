// Content by its address: peer.share cuts content into UnixFS blocks and keeps them, peer.fetch gets them
// from whoever holds them over Bitswap. The engine (Bitswap, the blockstores, the UnixFS importer and
// exporter) is a chunk of its own, loaded on the first call: pages that never share pay nothing for it.
import { ContentSealedError, InvalidConfigError, PeerStoppedError } from './errors.ts'
import { loadEngine } from './content/load.ts'
import type { Engine, EngineParts } from './content/engine.ts'
import type { SealParams } from './content/seal.ts'

/** What `peer.share` returns: the content's address and what the app may show of it (JSON, fit for a room message) */
export interface ContentRef {
  /** the root CID of the UnixFS file (CIDv1, base32: `bafy…`) */
  cid: string
  /** bytes of the content (of a sealed one: the plain bytes) */
  size: number
  /** a file name, if the content had one (a `File`, or `options.name`); never trust it as a path */
  name?: string
  /** the MIME type the sharer gave; `fetch` uses it only for raster images (see `safeContentType`) */
  type?: string
  /**
   * Set when the content was shared into a private room (`room.share`): it is stored and served sealed, and only
   * `room.fetch` in a room with the same secret opens it. `salt` (16 bytes, base64url) and the room's secret make
   * the file's key; `segment` is the plain bytes per sealed segment.
   */
  sealed?: { salt: string, segment: number }
}

/** Plain bytes per segment of sealed content: 256 KiB with the 16-byte GCM tag */
export const SEALED_SEGMENT = 256 * 1024 - 16

/** Progress of a share or a fetch, for `onProgress` */
export type ContentProgress =
  /** `bytes` of `size` are stored (fetch: `from` sent the last block; `present` blocks were there before) */
  | { type: 'bytes', bytes: number, size?: number, blocks: number, present: number, from?: string }
  /** a holder answered and takes part in the fetch */
  | { type: 'holder', peerId: string }
  /** a holder was dropped from the fetch: it sent a block that does not hash to what was asked (`'bad block'`, and it was struck), or stopped answering */
  | { type: 'dropped', peerId: string, reason: string }

/** Options for `peer.share` */
export interface ShareOptions {
  /** stops cutting; the blocks stored so far are deleted */
  signal?: AbortSignal
  /** called as bytes are stored */
  onProgress?: (progress: ContentProgress) => void
  /** the name to put in the ref (a `File`'s own name otherwise) */
  name?: string
  /** the MIME type to put in the ref (a `Blob`'s own type otherwise) */
  type?: string
}

/** Options for `peer.fetch` */
export interface FetchOptions {
  /** stops fetching; blocks already stored stay, and the next fetch of the same ref fetches only the rest */
  signal?: AbortSignal
  /** called as blocks arrive and holders join or are dropped */
  onProgress?: (progress: ContentProgress) => void
  /** PeerIds to ask first (e.g. the sender of the room message with the ref), besides room members and connected peers */
  from?: string[]
  /** `'blob'` (default) or `'stream'`: a `ReadableStream` of the bytes, read from the store as it is consumed */
  as?: 'blob' | 'stream'
  /** the Blob's type; by default `safeContentType(ref.type)` */
  type?: string
}

/** The raster image types a fetched Blob keeps; everything else is `application/octet-stream` (an HTML or SVG file must not run as the page's origin) */
export const SAFE_CONTENT_TYPES: readonly string[] = ['image/png', 'image/jpeg', 'image/gif', 'image/webp']

/** `type` if it is a raster image type on `SAFE_CONTENT_TYPES`, otherwise `'application/octet-stream'` */
export function safeContentType (type: unknown): string {
  const clean = typeof type === 'string' ? type.trim().toLowerCase() : ''
  return SAFE_CONTENT_TYPES.includes(clean) ? clean : 'application/octet-stream'
}

/** Checks a ref from elsewhere (a room message) before it is used; throws `InvalidConfigError` naming what is wrong */
export function checkRef (ref: unknown): ContentRef {
  const r = ref as ContentRef
  if (r == null || typeof r !== 'object') throw new InvalidConfigError('ref', 'must be a ContentRef ({ cid, size, name?, type? })')
  if (typeof r.cid !== 'string' || !/^[a-z2-7]{10,200}$/.test(r.cid)) throw new InvalidConfigError('ref.cid', `must be a base32 CIDv1 (bafy…), got ${JSON.stringify(r.cid)}`)
  if (!Number.isSafeInteger(r.size) || r.size < 0) throw new InvalidConfigError('ref.size', `must be a whole number of bytes, got ${JSON.stringify(r.size)}`)
  const sealed = r.sealed
  if (sealed != null && (typeof sealed.salt !== 'string' || !/^[\w-]{22}$/.test(sealed.salt) || !Number.isInteger(sealed.segment) || sealed.segment < 1024 || sealed.segment > 4 << 20)) {
    throw new InvalidConfigError('ref.sealed', `must be { salt: 22 base64url characters, segment: 1024 to 4 MiB }, got ${JSON.stringify(sealed)}`)
  }
  return { cid: r.cid, size: r.size, name: typeof r.name === 'string' ? r.name.slice(0, 255) : undefined, type: typeof r.type === 'string' ? r.type.slice(0, 127) : undefined, ...(sealed != null ? { sealed: { salt: sealed.salt, segment: sealed.segment } } : {}) }
}

/** Whom `fetch` asks besides `from`: the members of our rooms first, then the other peers we are connected to (never relays) */
export function holderCandidates (rooms: Iterable<{ peers: string[] }>, connected: string[], relays: ReadonlySet<string>): string[] {
  return [...new Set([...[...rooms].flatMap(room => room.peers), ...connected])].filter(peer => !relays.has(peer))
}

/** The content part of a peer: loads the engine on first use */
export class Content {
  private readonly parts: EngineParts
  private engine?: Promise<Engine>
  private stopped = false

  constructor (parts: EngineParts) {
    this.parts = parts
  }

  /** With `seal` (room.share in a private room) the content is sealed with the file's key */
  async share (source: Blob | ReadableStream<Uint8Array>, options: ShareOptions = {}, seal?: SealParams & { salt: string }): Promise<ContentRef> {
    const isBlob = typeof Blob !== 'undefined' && source instanceof Blob
    if (!isBlob && (source == null || typeof (source as ReadableStream).getReader !== 'function')) {
      throw new InvalidConfigError('source', 'must be a Blob, a File or a ReadableStream of Uint8Array')
    }
    return await (await this.load(options.signal)).share(source, options, seal)
  }

  /** A sealed ref needs `seal` (room.fetch in its private room) */
  async fetch (ref: ContentRef, options: FetchOptions = {}, seal?: SealParams): Promise<Blob | ReadableStream<Uint8Array>> {
    const checked = checkRef(ref)
    if (checked.sealed != null && seal == null) throw new ContentSealedError(checked.cid, `${checked.cid} is sealed: fetch it with room.fetch in the private room it was shared into`)
    if (options.from != null && (!Array.isArray(options.from) || options.from.some(p => typeof p !== 'string'))) {
      throw new InvalidConfigError('from', 'must be an array of PeerIds')
    }
    return await (await this.load(options.signal)).fetch(checked, { ...options, type: options.type ?? safeContentType(checked.type) }, seal)
  }

  async unshare (ref: ContentRef | string, options: { signal?: AbortSignal } = {}): Promise<void> {
    const cid = typeof ref === 'string' ? ref : checkRef(ref).cid
    await (await this.load(options.signal)).unshare(cid, options)
  }

  async stop (): Promise<void> {
    this.stopped = true
    const engine = this.engine
    this.engine = undefined
    await (await engine?.catch(() => undefined))?.stop()
  }

  private async load (signal?: AbortSignal): Promise<Engine> {
    signal?.throwIfAborted()
    if (this.stopped) throw new PeerStoppedError()
    this.engine ??= loadEngine().then(async ({ createEngine }) => await createEngine(this.parts))
    // a failed load (a missing chunk file, a refused IndexedDB) is tried again on the next call
    this.engine.catch(() => { this.engine = undefined })
    return await this.engine
  }
}
