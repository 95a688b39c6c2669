// Rooms' histories in IndexedDB (database `peerlane-history`, store `entries`, keyed by [topic, key] so that
// two tabs in one room keep each message once). Private rooms' entries are stored as they arrived: sealed.
// Where IndexedDB is missing or refuses (a private window, a full quota), history lasts while the room is joined.
import { peerLogger } from './logger.ts'
import type { HistoryStore, StoredEntry } from './history-store.ts'

export type { HistoryStore, StoredEntry } from './history-store.ts'

const log = peerLogger('history')
const DB = 'peerlane-history'
const STORE = 'entries'

interface Row extends StoredEntry { topic: string }

let db: Promise<IDBDatabase | undefined> | undefined

function open (): Promise<IDBDatabase | undefined> {
  db ??= new Promise(resolve => {
    try {
      const req = indexedDB.open(DB, 1)
      req.onupgradeneeded = () => {
        const store = req.result.createObjectStore(STORE, { keyPath: ['topic', 'key'] })
        store.createIndex('arrival', ['topic', 'arrival'])
      }
      req.onsuccess = () => { resolve(req.result) }
      req.onerror = () => { log('IndexedDB unavailable, history is kept in memory: %s', req.error?.message); resolve(undefined) }
      req.onblocked = () => { resolve(undefined) }
    } catch (err: any) {
      log('IndexedDB unavailable, history is kept in memory: %s', err.message)
      resolve(undefined)
    }
  })
  return db
}

async function run<T> (mode: IDBTransactionMode, fn: (store: IDBObjectStore) => IDBRequest<T> | undefined): Promise<T | undefined> {
  const conn = await open()
  if (conn == null) return undefined
  return await new Promise<T | undefined>(resolve => {
    try {
      const tx = conn.transaction(STORE, mode)
      const req = fn(tx.objectStore(STORE))
      tx.oncomplete = () => { resolve(req?.result) }
      // a quota error (QuotaExceededError) or a closing database: this write is lost, the room goes on
      tx.onerror = tx.onabort = () => { log('history %s failed: %s', mode, tx.error?.message); resolve(undefined) }
    } catch (err: any) {
      log('history %s failed: %s', mode, err.message)
      resolve(undefined)
    }
  })
}

/** The store of a browser: IndexedDB */
export function openHistoryStore (): HistoryStore {
  return {
    async load (topic) {
      const rows = await run<Row[]>('readonly', store => store.index('arrival').getAll(IDBKeyRange.bound([topic, -Infinity], [topic, Infinity])))
      return (rows ?? []).map(({ key, arrival, timestamp, message }) => ({ key, arrival, timestamp, message }))
    },
    async put (topic, entries) {
      await run('readwrite', store => { for (const entry of entries) store.put({ ...entry, topic }); return undefined })
    },
    async remove (topic, keys) {
      await run('readwrite', store => { for (const key of keys) store.delete([topic, key]); return undefined })
    }
  }
}
