// Node's content store: blocks in memory, or one file per block in a directory (blockstore-fs) with the
// records beside them in peerlane-records.json.
import { readFile, rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { MemoryBlockstore } from 'blockstore-core/memory'
import { FsBlockstore } from 'blockstore-fs'
import { InvalidConfigError } from '../errors.ts'
import { memoryRecords } from './records.ts'
import type { ContentConfig } from '../config.ts'
import type { HeldRecord, RecordStore } from './records.ts'
import type { Blockstore } from 'interface-blockstore'

/** Records in `<directory>/peerlane-records.json`, written whole (they are few) through a temporary file */
function fileRecords (directory: string): RecordStore {
  const path = join(directory, 'peerlane-records.json')
  let map: Map<string, HeldRecord> | undefined
  let writing = Promise.resolve()
  const load = async (): Promise<Map<string, HeldRecord>> => {
    if (map != null) return map
    const text = await readFile(path, 'utf8').catch(() => '[]')
    map = new Map((JSON.parse(text) as HeldRecord[]).map(r => [r.cid, r]))
    return map
  }
  const save = async (): Promise<void> => {
    const text = JSON.stringify([...(await load()).values()])
    writing = writing.then(async () => {
      await writeFile(`${path}.tmp`, text)
      await rename(`${path}.tmp`, path)
    })
    await writing
  }
  return {
    all: async () => [...(await load()).values()].map(r => ({ ...r })),
    put: async record => { (await load()).set(record.cid, { ...record }); await save() },
    delete: async cid => { (await load()).delete(cid); await save() }
  }
}

/** The blockstore and record store `config.store` names (Node: memory, or a directory) */
export async function openStore (config: ContentConfig, _name: string): Promise<{ blocks: Blockstore, records: RecordStore }> {
  if (config.store === 'indexeddb') throw new InvalidConfigError('content.store', "'indexeddb' needs a browser: use 'memory' or { directory } in Node")
  if (config.store === 'memory') return { blocks: new MemoryBlockstore(), records: memoryRecords() }
  const blocks = new FsBlockstore(config.store.directory)
  await blocks.open()
  return { blocks, records: fileRecords(config.store.directory) }
}
