// The content store: blocks by CID (a Blockstore, which Bitswap serves from) and a record of each piece of
// content held, with the bytes it takes. A total quota evicts the least recently used content that is not
// being shared or fetched; the browser's own quota error surfaces as StorageQuotaError.
import * as dagPb from '@ipld/dag-pb'
import toBuffer from 'it-to-buffer'
import { CID } from 'multiformats/cid'
import { StorageQuotaError } from '../errors.ts'
import { openStore } from './open-store.ts'
import type { ContentConfig } from '../config.ts'
import type { HeldRecord, RecordStore } from './records.ts'
import type { Blockstore } from 'interface-blockstore'

/** Records are written after this many new blocks (and when a share or fetch ends), not after every block */
const RECORD_EVERY_BLOCKS = 16

/** The CIDs a block links to: a dag-pb node's links; a raw leaf has none */
export function linksOf (cid: CID, bytes: Uint8Array): CID[] {
  return cid.code === dagPb.code ? dagPb.decode(bytes).Links.map(link => link.Hash) : []
}

function isQuotaError (err: any): boolean {
  return /QuotaExceeded/i.test(`${err?.name} ${err?.message} ${err?.cause?.name}`)
}

export class ContentStore {
  readonly blocks: Blockstore
  readonly quota: number
  private readonly records: RecordStore
  private readonly held = new Map<string, HeldRecord>()
  /** content being shared or fetched now, which eviction leaves alone (a count per CID) */
  private readonly active = new Map<string, number>()
  private readonly unsaved = new Map<string, number>()
  private used = 0

  private constructor (blocks: Blockstore, records: RecordStore, quota: number) {
    this.blocks = blocks
    this.records = records
    this.quota = quota
  }

  static async open (config: ContentConfig, name: string): Promise<ContentStore> {
    const { blocks, records } = await openStore(config, name)
    const store = new ContentStore(blocks, records, config.quota)
    for (const record of await records.all()) {
      store.held.set(record.cid, record)
      store.used += record.bytes
    }
    return store
  }

  /** Bytes of blocks stored, as the records count them */
  get usage (): number {
    return this.used
  }

  record (cid: string): HeldRecord | undefined {
    const r = this.held.get(cid)
    return r == null ? undefined : { ...r }
  }

  /** Marks `cid` as in use until the returned function is called; creates its record if there is none */
  async begin (record: Omit<HeldRecord, 'bytes' | 'complete' | 'used'>): Promise<() => void> {
    this.active.set(record.cid, (this.active.get(record.cid) ?? 0) + 1)
    const existing = this.held.get(record.cid)
    const next: HeldRecord = { bytes: 0, complete: false, ...existing, ...record, name: record.name ?? existing?.name, type: record.type ?? existing?.type, used: Date.now() }
    this.held.set(record.cid, next)
    await this.records.put(next)
    return () => {
      const n = (this.active.get(record.cid) ?? 1) - 1
      if (n <= 0) this.active.delete(record.cid)
      else this.active.set(record.cid, n)
    }
  }

  /** Stores a block for the content `owner` (a root CID, or a temporary name while sharing); false if it was there */
  async put (cid: CID, bytes: Uint8Array, owner: string, options: { signal?: AbortSignal } = {}): Promise<boolean> {
    if (await this.blocks.has(cid, options)) return false
    await this.makeRoom(bytes.byteLength, options)
    try {
      await this.blocks.put(cid, bytes, options)
    } catch (err) {
      if (isQuotaError(err)) throw new StorageQuotaError(bytes.byteLength, this.quota, `the browser refused to store more (its storage quota for this site is full): ${String((err as Error).message)}`, { cause: err })
      throw err
    }
    this.used += bytes.byteLength
    const record = this.held.get(owner)
    if (record != null) {
      record.bytes += bytes.byteLength
      const n = (this.unsaved.get(owner) ?? 0) + 1
      this.unsaved.set(owner, n)
      if (n >= RECORD_EVERY_BLOCKS) await this.save(owner)
    }
    return true
  }

  async get (cid: CID, options: { signal?: AbortSignal } = {}): Promise<Uint8Array> {
    return await toBuffer(this.blocks.get(cid, options))
  }

  async has (cid: CID, options: { signal?: AbortSignal } = {}): Promise<boolean> {
    return await this.blocks.has(cid, options)
  }

  /** Updates a record (complete, size, bytes counted elsewhere) and writes it */
  async update (cid: string, change: Partial<HeldRecord>): Promise<void> {
    const record = this.held.get(cid)
    if (record == null) return
    Object.assign(record, change, { used: Date.now() })
    await this.save(cid)
  }

  async save (cid: string): Promise<void> {
    const record = this.held.get(cid)
    this.unsaved.delete(cid)
    if (record != null) await this.records.put({ ...record })
  }

  /** Drops the record of `cid` and every block of it that no other held content uses */
  async remove (cid: string, options: { signal?: AbortSignal } = {}): Promise<void> {
    const record = this.held.get(cid)
    if (record == null) return
    this.held.delete(cid)
    this.unsaved.delete(cid)
    await this.records.delete(cid)
    this.used -= record.bytes
    const keep = new Set<string>()
    for (const other of this.held.keys()) for (const block of await this.walk(CID.parse(other), options)) keep.add(block.toString())
    for (const block of await this.walk(CID.parse(cid), options)) {
      if (!keep.has(block.toString())) await Promise.resolve(this.blocks.delete(block, options)).catch(() => {})
    }
  }

  /** Deletes blocks a share wrote before it failed (those no held content uses) */
  async discard (written: CID[], options: { signal?: AbortSignal } = {}): Promise<void> {
    const keep = new Set<string>()
    for (const other of this.held.keys()) for (const block of await this.walk(CID.parse(other), options)) keep.add(block.toString())
    for (const block of written) {
      if (keep.has(block.toString())) continue
      await Promise.resolve(this.blocks.delete(block, options)).catch(() => {})
    }
  }

  /** The stored blocks of the DAG under `root` (links into blocks not stored are not followed) */
  async walk (root: CID, options: { signal?: AbortSignal } = {}): Promise<CID[]> {
    const found: CID[] = []
    const queue = [root]
    while (queue.length > 0) {
      const cid = queue.shift() as CID
      if (!(await this.blocks.has(cid, options))) continue
      found.push(cid)
      if (cid.code === dagPb.code) queue.push(...linksOf(cid, await this.get(cid, options)))
    }
    return found
  }

  /** Evicts the least recently used content not in use until `bytes` more fit, or throws StorageQuotaError */
  private async makeRoom (bytes: number, options: { signal?: AbortSignal }): Promise<void> {
    while (this.used + bytes > this.quota) {
      const victim = [...this.held.values()].filter(r => !this.active.has(r.cid)).sort((a, b) => a.used - b.used)[0]
      if (victim == null) {
        throw new StorageQuotaError(bytes, this.quota, `the content store is full (${this.used} of ${this.quota} bytes, content.quota) and everything in it is being shared or fetched`)
      }
      await this.remove(victim.cid, options)
    }
  }
}
