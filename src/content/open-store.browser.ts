// The browser's content store: blocks in IndexedDB (blockstore-idb, database `peerlane-blocks:<name>`), and
// the records of what is held beside them (idb-keyval, database `peerlane-content:<name>`).
import { IDBBlockstore } from 'blockstore-idb'
import { MemoryBlockstore } from 'blockstore-core/memory'
import { createStore, del, entries, set } from 'idb-keyval'
import { InvalidConfigError } from '../errors.ts'
import { memoryRecords } from './records.ts'
import type { ContentConfig } from '../config.ts'
import type { HeldRecord, RecordStore } from './records.ts'
import type { Blockstore } from 'interface-blockstore'

export async function openStore (config: ContentConfig, name: string): Promise<{ blocks: Blockstore, records: RecordStore }> {
  if (config.store === 'memory') return { blocks: new MemoryBlockstore(), records: memoryRecords() }
  if (config.store !== 'indexeddb') throw new InvalidConfigError('content.store', "a page stores content in 'indexeddb' or 'memory'")
  const blocks = new IDBBlockstore(`peerlane-blocks:${name}`)
  await blocks.open()
  const store = createStore(`peerlane-content:${name}`, 'records')
  return {
    blocks,
    records: {
      all: async () => (await entries<string, HeldRecord>(store)).map(([, r]) => r),
      put: async record => { await set(record.cid, record, store) },
      delete: async cid => { await del(cid, store) }
    }
  }
}
