// Where a room's history persists. In Node nothing does: the room keeps it in memory (history.ts) while it
// is joined. Browser builds swap in history-store.browser.ts (IndexedDB), as a package `browser` map would.

/** One message of a room's history as kept: the signed GossipSub message, exactly as it arrived */
export interface StoredEntry {
  /** `<author PeerId>/<envelope id>`: a message is kept (and delivered) once */
  key: string
  /** when it arrived here (our clock, ms since the epoch); entries are kept in this order */
  arrival: number
  /** the envelope's timestamp (its author's clock) */
  timestamp: number
  /** the GossipSub RPC Message protobuf: from, data, seqno, topic, signature, key */
  message: Uint8Array
}

/** Persistence of rooms' histories, by topic */
export interface HistoryStore {
  /** the topic's entries, oldest arrival first */
  load: (topic: string) => Promise<StoredEntry[]>
  /** keeps these entries (an entry with a known key replaces it) */
  put: (topic: string, entries: StoredEntry[]) => Promise<void>
  /** forgets these keys */
  remove: (topic: string, keys: string[]) => Promise<void>
}

/** The store of this runtime: in Node, none (history lasts while the room is joined) */
export function openHistoryStore (): HistoryStore {
  return {
    load: async () => [],
    put: async () => {},
    remove: async () => {}
  }
}
