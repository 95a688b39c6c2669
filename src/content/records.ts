// What the content store remembers of each piece of content it holds. Where blocks and records are kept:
// open-store.ts (Node: memory or a directory), open-store.browser.ts (IndexedDB).

/** One piece of content held: shared here, or fetched (whole or in part) */
export interface HeldRecord {
  cid: string
  size: number
  name?: string
  type?: string
  /** bytes of the blocks stored for it */
  bytes: number
  /** every block is stored */
  complete: boolean
  /** last shared, fetched or served whole (ms since the epoch): eviction takes the oldest first */
  used: number
}

/** Where records live */
export interface RecordStore {
  all: () => Promise<HeldRecord[]>
  put: (record: HeldRecord) => Promise<void>
  delete: (cid: string) => Promise<void>
}

export function memoryRecords (): RecordStore {
  const map = new Map<string, HeldRecord>()
  return {
    all: async () => [...map.values()].map(r => ({ ...r })),
    put: async record => { map.set(record.cid, { ...record }) },
    delete: async cid => { map.delete(cid) }
  }
}
