// Helia's Bitswap (@helia/bitswap) on Peerlane's libp2p node, without a Helia node around it: the mixin
// `withBitswap` is given the few parts of Helia it reads (libp2p, blockstore, routing, logger, hashers).
// Peerlane asks one holder per block (what Bitswap sessions do, through the same `wantSessionBlock`), so
// blocks come from several holders at once and none twice; serving stays stock Bitswap.
import { withBitswap } from '@helia/bitswap'
import { sha256 } from 'multiformats/hashes/sha2'
import { IncompatibleDependencyError } from '../errors.ts'
import type { Libp2p, PeerId, Stream } from '@libp2p/interface'
import type { Blockstore } from 'interface-blockstore'
import type { CID } from 'multiformats/cid'

/** What Peerlane uses of @helia/bitswap's Bitswap */
export interface BitswapParts {
  /** asks `peerId` alone for `cid` (WANT-BLOCK, send DONT_HAVE): its block, or `has: false` */
  wantSessionBlock: (cid: CID, peerId: PeerId, options: { signal?: AbortSignal }) => Promise<{ has: boolean, block?: Uint8Array }>
  /** every block that arrives, with who sent it and the CID its bytes hash to */
  onBlock: (listener: (sender: PeerId, cid: CID) => void) => void
  /** tells peers that asked us for `cid` that we have it now */
  notify: (cid: CID) => Promise<void>
  stop: () => Promise<void>
}

/** Bytes per second one peer may take from us, as a send budget: libp2p streams report backpressure through `send()` */
class ServeBudget {
  private readonly next = new Map<string, number>()
  constructor (private readonly rate: number) {}

  /** ms to wait before `bytes` more may go to `peer` (a burst of a quarter second is free) */
  take (peer: string, bytes: number): number {
    const now = Date.now()
    const from = Math.max(this.next.get(peer) ?? now, now)
    const until = from + bytes * 1000 / this.rate
    this.next.set(peer, until)
    if (this.next.size > 1024) for (const [p, t] of this.next) if (t < now) this.next.delete(p)
    return Math.max(0, until - now - 250)
  }
}

/** `stream` whose send() says "wait" (false, onDrain after the wait) when its peer is over its budget */
function budgeted (stream: Stream, peer: string, budget: ServeBudget): Stream {
  let wait: Promise<void> | undefined
  return new Proxy(stream, {
    get (target, prop) {
      if (prop === 'send') {
        return (data: { byteLength: number }) => {
          const sent = target.send(data as any)
          const ms = budget.take(peer, data.byteLength)
          if (ms === 0) return sent
          wait = new Promise(resolve => setTimeout(resolve, ms))
          return false
        }
      }
      if (prop === 'onDrain') {
        return async (options?: { signal?: AbortSignal }) => {
          await wait
          wait = undefined
          if (target.writableNeedsDrain) await target.onDrain(options)
        }
      }
      const value = Reflect.get(target, prop, target)
      return typeof value === 'function' ? value.bind(target) : value
    }
  })
}

/** Our node as Bitswap sees it: streams it opens (the messages carrying blocks it serves) keep to `maxServeRate` per peer */
function servingNode (node: Libp2p, rate: number): Libp2p {
  const budget = new ServeBudget(rate)
  return new Proxy(node, {
    get (target, prop) {
      if (prop === 'dialProtocol') {
        return async (peer: PeerId, protocols: string | string[], options?: any) => {
          const stream = await target.dialProtocol(peer, protocols, options)
          return budgeted(stream, peer.toString(), budget)
        }
      }
      const value = Reflect.get(target, prop, target)
      return typeof value === 'function' ? value.bind(target) : value
    }
  })
}

/** Starts Bitswap on `node`, serving from `blockstore` */
export async function startBitswap (node: Libp2p, blockstore: Blockstore, options: { maxServeRate: number, maxWantlistSize: number }): Promise<BitswapParts> {
  let broker: any
  let mixin: any
  const host: any = {
    status: 'starting',
    libp2p: servingNode(node, options.maxServeRate),
    blockstore,
    logger: node.logger,
    // no content routing: holders are room members, the peers given in `from` and connected peers (src/content/fetcher.ts)
    routing: { async * findProviders () {}, async provide () {}, async cancelReprovide () {} },
    getHasher: async (code: number) => {
      if (code === sha256.code) return sha256
      throw new Error(`unsupported hash 0x${code.toString(16)}`)
    },
    hasBlockBroker: () => false,
    addBlockBroker: (b: unknown) => { broker = b },
    addMixin: (m: unknown) => { mixin = m }
  }
  withBitswap(host, {
    maxWantlistSize: options.maxWantlistSize,
    // a message carries a few blocks of at most 1 MiB (config.ts MAX_BLOCK_SIZE; not imported: this is the engine's chunk)
    maxIncomingMessageSize: 4 * 1024 * 1024,
    maxOutgoingMessageSize: 4 * 1024 * 1024
  })
  await mixin?.start(host)
  // the Bitswap behind the block broker (its field `bitswap` in @helia/bitswap 4): sessions ask one peer
  // through its want list's wantSessionBlock, and its want list tells of every block that arrives
  const bitswap = broker?.bitswap
  if (typeof bitswap?.wantList?.wantSessionBlock !== 'function' || typeof bitswap.wantList.addEventListener !== 'function') {
    await broker?.stop?.()
    throw new IncompatibleDependencyError('@helia/bitswap', 'its block broker no longer has bitswap.wantList.wantSessionBlock (checked against 4.0)')
  }
  return {
    wantSessionBlock: async (cid, peerId, opts) => await bitswap.wantList.wantSessionBlock(cid, peerId, opts),
    onBlock: listener => {
      bitswap.wantList.addEventListener('block', (evt: CustomEvent<{ sender: PeerId, cid: CID }>) => { listener(evt.detail.sender, evt.detail.cid) })
    },
    notify: async cid => { await bitswap.notify(cid) },
    stop: async () => { await broker.stop() }
  }
}
