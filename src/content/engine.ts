// The content engine, a chunk of its own (src/content/load*.ts): share cuts content with the UnixFS importer
// into the store, fetch gets the missing blocks from holders (fetcher.ts) and reads the file back with the
// UnixFS exporter, a window at a time, so no step holds the whole file.
import { fixedSize } from 'ipfs-unixfs-importer/chunker'
import { importByteStream } from 'ipfs-unixfs-importer'
import { exporter } from 'ipfs-unixfs-exporter'
import { CID } from 'multiformats/cid'
import { InvalidConfigError } from '../errors.ts'
import { startBitswap } from './bitswap.ts'
import { fetchBlocks, RecentAsks } from './fetcher.ts'
import { openSegments, sealedSize, sealSegments } from './seal.ts'
import { ContentStore } from './store.ts'
import type { ContentConfig } from '../config.ts'
import type { ContentProgress, ContentRef, FetchOptions, ShareOptions } from '../content.ts'
import type { BitswapParts } from './bitswap.ts'
import type { BlockCheck } from './fetcher.ts'
import type { SealParams } from './seal.ts'
import type { Libp2p } from '@libp2p/interface'

/** What the engine is given by the peer */
export interface EngineParts {
  node: Libp2p
  config: ContentConfig
  /** names the browser's databases (the identity name) */
  name: string
  strike: (peerId: string) => void
  /** PeerIds worth asking for content: room members, then other connected peers */
  candidates: () => string[]
  /** resolves once a direct link to `peerId` is up */
  link: (peerId: string, signal: AbortSignal) => Promise<void>
}

export interface Engine {
  /** with `seal`, the content is sealed (seal.ts) and the ref says so: `sealed: { salt, segment }` */
  share: (source: Blob | ReadableStream<Uint8Array>, options: ShareOptions, seal?: SealParams & { salt: string }) => Promise<ContentRef>
  /** with `seal`, the stored content is opened (seal.ts) as it is read */
  fetch: (ref: ContentRef, options: FetchOptions, seal?: SealParams) => Promise<Blob | ReadableStream<Uint8Array>>
  unshare: (cid: string, options: { signal?: AbortSignal }) => Promise<void>
  stop: () => Promise<void>
}

/** The exporter reads the file back this many bytes at a time (it reads ahead of its reader within a call) */
const READ_WINDOW = 4 * 1024 * 1024
/** A Blob is built from parts of about this size (each part joins the Blob, which the browser keeps, and is let go) */
const BLOB_PART = 8 * 1024 * 1024
/** A holder that sent a bad block is not asked again for this long (as long as the Guard remembers its strike) */
const BAN_MS = 60_000
/** The serving side keeps this many wants per peer: a few holders' worth of blocks in flight */
const MAX_WANTLIST = 256

export async function createEngine (parts: EngineParts): Promise<Engine> {
  const store = await ContentStore.open(parts.config, parts.name)
  const bitswap = await startBitswap(parts.node, store.blocks, { maxServeRate: parts.config.maxServeRate, maxWantlistSize: MAX_WANTLIST })
  return new ContentEngine(parts, store, bitswap)
}

function parseCid (text: string): CID {
  try {
    return CID.parse(text)
  } catch (err) {
    throw new InvalidConfigError('ref.cid', `is not a CID: ${JSON.stringify(text)}`, { cause: err })
  }
}

class ContentEngine implements Engine {
  private readonly checks = new Set<BlockCheck>()
  /** peers dropped for a bad block, until when */
  private readonly banned = new Map<string, number>()
  private readonly fetches = new Map<string, Set<AbortController>>()
  private readonly recent = new RecentAsks()

  constructor (private readonly parts: EngineParts, private readonly store: ContentStore, private readonly bitswap: BitswapParts) {
    bitswap.onBlock((sender, cid) => { for (const check of this.checks) check(sender, cid) })
  }

  async share (source: Blob | ReadableStream<Uint8Array>, options: ShareOptions, seal?: SealParams & { salt: string }): Promise<ContentRef> {
    const { signal, onProgress } = options
    const blob = source instanceof Blob ? source : undefined
    const name = options.name ?? (typeof File !== 'undefined' && source instanceof File ? source.name : undefined)
    const type = options.type ?? (blob?.type !== '' ? blob?.type : undefined)
    const owner = `share:${Math.random()}`
    const written: CID[] = []
    let size = 0
    let stored = 0
    const reader = (blob?.stream() ?? (source as ReadableStream<Uint8Array>)).getReader()
    async function * bytes (): AsyncGenerator<Uint8Array> {
      while (true) {
        signal?.throwIfAborted()
        const { value, done } = await reader.read()
        if (done) return
        size += value.byteLength
        onProgress?.({ type: 'bytes', bytes: size, size: blob?.size, blocks: written.length, present: 0 })
        yield value
      }
    }
    const writer = {
      put: async (cid: CID, block: Uint8Array) => {
        if (await this.store.put(cid, block, owner, { signal })) {
          written.push(cid)
          stored += block.byteLength
        }
        return cid
      }
    }
    try {
      const result = await importByteStream(seal == null ? bytes() : sealSegments(bytes(), seal), writer, {
        chunker: fixedSize({ chunkSize: this.parts.config.blockSize }),
        rawLeaves: true,
        cidVersion: 1,
        reduceSingleLeafToSelf: true,
        // blocks wait in memory for their turn to be written: a few, not the default 50
        blockWriteConcurrency: 4
      })
      const cid = result.cid.toString()
      const previous = this.store.record(cid)
      // the record counts the bytes of the file as stored (sealed); the ref the plain bytes
      const held = seal == null ? size : sealedSize(size, seal.segment)
      const end = await this.store.begin({ cid, size: held, name, type })
      end()
      await this.store.update(cid, { size: held, complete: true, bytes: (previous?.bytes ?? 0) + stored })
      return { cid, size, ...(name != null ? { name } : {}), ...(type != null ? { type } : {}), ...(seal != null ? { sealed: { salt: seal.salt, segment: seal.segment } } : {}) }
    } catch (err) {
      await reader.cancel().catch(() => {})
      await this.store.discard(written).catch(() => {})
      throw signal?.aborted === true ? signal.reason : err
    }
  }

  async fetch (ref: ContentRef, options: FetchOptions, seal?: SealParams): Promise<Blob | ReadableStream<Uint8Array>> {
    const root = parseCid(ref.cid)
    const cid = root.toString()
    // sealed content is stored (and fetched) sealed; progress tells plain bytes
    const size = seal == null ? ref.size : sealedSize(ref.size, seal.segment)
    const onProgress = seal == null || options.onProgress == null
      ? options.onProgress
      : (p: ContentProgress) => options.onProgress?.(p.type === 'bytes' ? { ...p, bytes: Math.min(ref.size, Math.round(p.bytes * ref.size / Math.max(1, size))), size: ref.size } : p)
    const controller = new AbortController()
    const signal = options.signal == null ? controller.signal : AbortSignal.any([options.signal, controller.signal])
    const running = this.fetches.get(cid) ?? new Set()
    this.fetches.set(cid, running)
    running.add(controller)
    const end = await this.store.begin({ cid, size, name: ref.name, type: ref.type })
    try {
      if (this.store.record(cid)?.complete !== true) {
        await fetchBlocks(root, {
          store: this.store,
          bitswap: this.bitswap,
          maxBlocksInFlight: this.parts.config.maxBlocksInFlight,
          candidates: from => [...new Set([...from, ...this.parts.candidates()])].filter(p => p !== this.parts.node.peerId.toString()),
          link: this.parts.link,
          strike: peer => {
            this.parts.strike(peer)
            this.banned.set(peer, Date.now() + BAN_MS)
          },
          isBanned: peer => (this.banned.get(peer) ?? 0) > Date.now(),
          recent: this.recent
        }, {
          signal,
          from: options.from ?? [],
          size,
          onProgress,
          watch: check => { this.checks.add(check); return () => { this.checks.delete(check) } }
        })
        await this.store.update(cid, { complete: true })
      } else {
        await this.store.update(cid, {})
        options.onProgress?.({ type: 'bytes', bytes: ref.size, size: ref.size, blocks: 0, present: 1 })
      }
      const read = (signal?: AbortSignal): AsyncGenerator<Uint8Array> => seal == null ? this.read(root, signal) : openSegments(this.read(root, signal), seal, cid)
      return options.as === 'stream' ? this.stream(read(), end) : await this.blob(read(signal), options.type ?? 'application/octet-stream').finally(end)
    } catch (err) {
      end()
      await this.store.save(cid).catch(() => {})
      throw signal.aborted && options.signal?.aborted === true ? options.signal.reason : err
    } finally {
      running.delete(controller)
      if (running.size === 0) this.fetches.delete(cid)
    }
  }

  async unshare (cid: string, options: { signal?: AbortSignal }): Promise<void> {
    const root = parseCid(cid).toString()
    for (const controller of this.fetches.get(root) ?? []) controller.abort(new Error('unshared'))
    await this.store.remove(root, options)
  }

  async stop (): Promise<void> {
    for (const running of this.fetches.values()) for (const controller of running) controller.abort(new Error('stopped'))
    await this.bitswap.stop()
  }

  /** Reads the file under `root` from the store, a window at a time */
  private async * read (root: CID, signal?: AbortSignal): AsyncGenerator<Uint8Array> {
    const entry = await exporter(root, this.store.blocks, { signal })
    if (entry.type !== 'file' && entry.type !== 'raw') throw new InvalidConfigError('ref.cid', `is a UnixFS ${entry.type}, not a file`)
    const size = Number(entry.size)
    for (let offset = 0; offset < size; offset += READ_WINDOW) {
      yield * entry.content({ offset, length: Math.min(READ_WINDOW, size - offset), signal })
    }
  }

  private async blob (source: AsyncIterable<Uint8Array>, type: string): Promise<Blob> {
    let blob = new Blob([], { type })
    let parts: Uint8Array[] = []
    let pending = 0
    for await (const chunk of source) {
      parts.push(chunk)
      pending += chunk.byteLength
      if (pending >= BLOB_PART) {
        blob = new Blob([blob, ...(parts as BlobPart[])], { type })
        parts = []
        pending = 0
      }
    }
    return new Blob([blob, ...(parts as BlobPart[])], { type })
  }

  private stream (source: AsyncGenerator<Uint8Array>, end: () => void): ReadableStream<Uint8Array> {
    return new ReadableStream<Uint8Array>({
      async pull (controller) {
        try {
          const { value, done } = await source.next()
          if (done) {
            end()
            controller.close()
          } else {
            controller.enqueue(value)
          }
        } catch (err) {
          end()
          controller.error(err)
        }
      },
      async cancel () {
        end()
        await source.return(undefined)
      }
    })
  }
}

export type { ContentProgress }
