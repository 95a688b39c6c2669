// Fetching a DAG from several holders at once: walks it from the root (blocks already stored are read, not
// fetched: a fetch resumes where the last one stopped), asks each block of one holder at a time through
// Bitswap (at most `maxBlocksInFlight` per holder), and drops a holder that sends a block whose bytes do not
// hash to anything we asked it for (Bitswap derives a block's CID from its bytes, so such a block never
// matches the want: it is a bad block) or that stops answering.
import { ContentUnavailableError } from '../errors.ts'
import { base64 } from 'multiformats/bases/base64'
import { peerIdFromString } from '@libp2p/peer-id'
import * as dagPb from '@ipld/dag-pb'
import type { BitswapParts } from './bitswap.ts'
import type { ContentStore } from './store.ts'
import type { ContentProgress } from '../content.ts'
import type { PeerId } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'

/** A block not answered in this long is asked again; a holder that misses three times in a row is dropped */
export const BLOCK_TIMEOUT_MS = 15_000
/**
 * A Bitswap server does not send a block again to a peer it sent it to in the last 5 s (its
 * doNotResendBlockWindow), and a want that arrives in that window is lost: a block is asked of a holder
 * again only after this long (a fetch resumed at once after an abort, a block whose answer was lost)
 */
export const RESEND_WINDOW_MS = 6_000

/** How long a block asked of a peer may still arrive from it (later, it is one we did not ask for) */
const ASK_MEMORY_MS = 120_000

/** When each block was last asked of each holder, across fetches: for RESEND_WINDOW_MS, and to tell the blocks we asked for */
export class RecentAsks {
  private readonly asks = new Map<string, number>()

  /** whether `key` was asked of `peer` lately */
  asked (peer: string, key: string, now = Date.now()): boolean {
    const at = this.asks.get(`${peer} ${key}`)
    return at != null && at + ASK_MEMORY_MS > now
  }

  /** ms until `key` may be asked of `peer` again (0: now) */
  wait (peer: string, key: string, now = Date.now()): number {
    const at = this.asks.get(`${peer} ${key}`)
    return at == null ? 0 : Math.max(0, at + RESEND_WINDOW_MS - now)
  }

  note (peer: string, key: string, now = Date.now()): void {
    this.asks.set(`${peer} ${key}`, now)
    if (this.asks.size > 65_536) for (const [k, at] of this.asks) if (at + ASK_MEMORY_MS < now) this.asks.delete(k)
  }
}
/** How long `link()` may take to make a direct link to a candidate holder */
const LINK_TIMEOUT_MS = 20_000

export interface FetchParts {
  store: ContentStore
  bitswap: BitswapParts
  maxBlocksInFlight: number
  /** PeerIds worth asking, best first: `from`, then room members, then connected peers */
  candidates: (from: string[]) => string[]
  /** a direct link to `peerId` (Bitswap does not run over relayed circuits) */
  link: (peerId: string, signal: AbortSignal) => Promise<void>
  /** a holder sent a bad block */
  strike: (peerId: string) => void
  /** whether a peer was dropped for a bad block lately (not asked again while it is) */
  isBanned: (peerId: string) => boolean
  recent: RecentAsks
}

/** Blocks whose hashes match, per holder: the `onBlock` check of a running fetch */
export type BlockCheck = (sender: PeerId, cid: CID) => void

interface Holder {
  peerId: PeerId
  inFlight: number
  misses: number
  served: number
  /** multihashes it said it does not have */
  lacks: Set<string>
  controller: AbortController
}

interface Item { cid: CID, size?: number }

const key = (cid: CID): string => base64.baseEncode(cid.multihash.bytes)

/**
 * Fetches every block of the DAG under `root` into `parts.store` (owner `root`); `watch` receives the
 * check to run on every block that arrives while it runs.
 */
export async function fetchBlocks (root: CID, parts: FetchParts, options: { signal: AbortSignal, from: string[], size: number, onProgress?: (p: ContentProgress) => void, watch: (check: BlockCheck) => () => void }): Promise<{ fetched: number, present: number }> {
  const { store, bitswap } = parts
  const { signal } = options
  const owner = root.toString()
  const holders = new Map<string, Holder>()
  const tried = new Set<string>()
  const queue: Item[] = [{ cid: root }]
  /** blocks being asked now */
  const asking = new Set<string>()
  /** the asks under way, awaited before fetchBlocks settles: nothing is stored after it rejects */
  const inflight = new Set<Promise<void>>()
  let probing = 0
  let running = 0
  let fetched = 0
  let present = 0
  let bytes = 0
  let failure: Error | undefined
  let wake: () => void = () => {}

  const progress = (from?: string): void => {
    options.onProgress?.({ type: 'bytes', bytes: Math.min(bytes, options.size), size: options.size, blocks: fetched, present, from })
  }
  const drop = (holder: Holder, reason: string): void => {
    if (holders.get(holder.peerId.toString()) !== holder) return
    holders.delete(holder.peerId.toString())
    holder.controller.abort(new Error(reason))
    options.onProgress?.({ type: 'dropped', peerId: holder.peerId.toString(), reason })
    wake()
  }
  const unwatch = options.watch((sender, cid) => {
    const holder = holders.get(sender.toString())
    if (holder == null || parts.recent.asked(sender.toString(), key(cid))) return
    parts.strike(sender.toString())
    drop(holder, 'bad block')
  })

  const addCandidates = (): void => {
    for (const peer of parts.candidates(options.from)) {
      if (tried.has(peer) || parts.isBanned(peer)) continue
      tried.add(peer)
      probing++
      parts.link(peer, AbortSignal.any([signal, AbortSignal.timeout(LINK_TIMEOUT_MS)]))
        .then(() => {
          holders.set(peer, { peerId: peerIdFromString(peer), inFlight: 0, misses: 0, served: 0, lacks: new Set(), controller: new AbortController() })
        }, () => {})
        .finally(() => { probing--; wake() })
    }
  }

  /** Takes in a stored block: counts it and queues what it links to */
  const expand = (item: Item, block: Uint8Array | undefined): void => {
    if (item.cid.code === dagPb.code && block != null) {
      const node = dagPb.decode(block)
      // links first in the queue's order, so the walk goes depth-first and the file's start arrives first
      queue.unshift(...node.Links.map(link => ({ cid: link.Hash, size: link.Tsize })))
    } else {
      bytes += item.size ?? block?.byteLength ?? 0
    }
  }

  const ask = async (item: Item, holder: Holder): Promise<void> => {
    const k = key(item.cid)
    asking.add(k)
    holder.inFlight++
    parts.recent.note(holder.peerId.toString(), k)
    running++
    try {
      const result = await bitswap.wantSessionBlock(item.cid, holder.peerId, { signal: AbortSignal.any([signal, holder.controller.signal, AbortSignal.timeout(BLOCK_TIMEOUT_MS)]) })
      if (result.has && result.block != null) {
        holder.misses = 0
        if (holder.served++ === 0) options.onProgress?.({ type: 'holder', peerId: holder.peerId.toString() })
        // not aborted with the fetch: a block that arrived is kept (and counted), so the next fetch does not ask for it
        if (await store.put(item.cid, result.block, owner)) fetched++
        void bitswap.notify(item.cid).catch(() => {})
        expand(item, result.block)
        progress(holder.peerId.toString())
        return
      }
      if (!result.has) {
        holder.lacks.add(k)
        // a peer without the root holds none of it
        if (item.cid.equals(root)) drop(holder, 'does not have it')
      }
      queue.unshift(item)
    } catch (err: any) {
      if (signal.aborted) return
      if (err?.name === 'StorageQuotaError') { failure = err; return }
      queue.unshift(item)
      if (!holder.controller.signal.aborted && ++holder.misses >= 3) drop(holder, `not answering: ${String(err?.message ?? err)}`)
    } finally {
      asking.delete(k)
      holder.inFlight--
      running--
      wake()
    }
  }

  const onAbort = (): void => { wake() }
  signal.addEventListener('abort', onAbort)
  try {
    addCandidates()
    while (true) {
      if (failure != null) throw failure
      signal.throwIfAborted()
      const item = queue[0]
      if (item == null) {
        if (running === 0) break
      } else if (!asking.has(key(item.cid)) && await store.has(item.cid, { signal })) {
        queue.shift()
        present++
        expand(item, item.cid.code === dagPb.code ? await store.get(item.cid, { signal }) : undefined)
        progress()
        continue
      } else {
        // the first block in the walk's order that a holder with room may be asked for now
        const now = Date.now()
        let soonest = Infinity
        let chosen: { index: number, holder: Holder } | undefined
        const free = [...holders.values()].filter(h => h.inFlight < parts.maxBlocksInFlight).sort((a, b) => a.inFlight - b.inFlight)
        for (let i = 0; i < queue.length && chosen == null && free.length > 0; i++) {
          const k = key(queue[i].cid)
          if (asking.has(k)) continue
          for (const h of free) {
            if (h.lacks.has(k)) continue
            const wait = parts.recent.wait(h.peerId.toString(), k, now)
            if (wait === 0) { chosen = { index: i, holder: h }; break }
            soonest = Math.min(soonest, wait)
          }
        }
        if (chosen != null) {
          const [next] = queue.splice(chosen.index, 1)
          if (next.cid.equals(root) || !(await store.has(next.cid, { signal }))) {
            const asked = ask(next, chosen.holder)
            inflight.add(asked)
            void asked.finally(() => inflight.delete(asked))
          } else {
            queue.unshift(next)
          }
          continue
        }
        const k = key(item.cid)
        const able = [...holders.values()].filter(h => !h.lacks.has(k))
        if (able.length === 0 && running === 0 && probing === 0) {
          addCandidates()
          if (probing === 0) {
            throw new ContentUnavailableError(item.cid.equals(root) ? owner : item.cid.toString(), item.cid.equals(root)
              ? `no holder of ${owner} found (asked ${tried.size} peer(s): the peers in \`from\`, room members and connected peers)`
              : `no holder has block ${item.cid.toString()} of ${owner} (asked ${holders.size} holder(s))`)
          }
        }
        if (soonest !== Infinity) setTimeout(() => { wake() }, soonest)
      }
      await new Promise<void>(resolve => { wake = resolve })
    }
    if (failure != null) throw failure
    return { fetched, present }
  } finally {
    signal.removeEventListener('abort', onAbort)
    for (const holder of holders.values()) holder.controller.abort()
    await Promise.allSettled(inflight)
    unwatch()
  }
}
