// What the Node room tests (vitest) share: an in-process relay, Node peers on it (no WebRTC: rooms go through the
// relay), an inbox per room, and polling for a condition. Everything started is stopped after each test.
import { generateKeyPair } from '@libp2p/crypto/keys'
import { afterEach } from 'vitest'
import { createRelay } from '../../relay-server/index.ts'
import { createPeer } from '../index.ts'
import { stockNode as dialStock } from './attack.ts'
import type { Relay, RelayConfig } from '../../relay-server/index.ts'
import type { Peer, PeerOptions, Room, RoomMessage } from '../index.ts'
import type { StockNode } from './attack.ts'
import type { Libp2p } from '@libp2p/interface'

export { recordRoom, serveForged, forgeThree, signedMessage } from './attack.ts'

const running: Array<Relay | Peer> = []
const stopped: Libp2p[] = []
afterEach(async () => {
  for (const node of stopped.splice(0)) await node.stop().catch(() => {})
  for (const r of running.splice(0).reverse()) {
    if ('close' in r) await r.close()
    else await r.stop().catch(() => {})
  }
})

/** An in-process relay on 127.0.0.1, stopped after the test */
export async function relay (config: RelayConfig = {}): Promise<Relay> {
  const r = createRelay({ port: 0, stunPort: 0, privateKey: await generateKeyPair('Ed25519'), logLevel: 'silent', ...config })
  running.push(r)
  await r.ready
  return r
}

/** A Node peer on `r` with an in-memory identity and no direct links, stopped after the test */
export async function peer (r: Relay, options: Partial<PeerOptions> = {}): Promise<Peer> {
  const p = await createPeer({ relays: [r.addresses[0]], identity: 'memory', maxDirectPeers: 0, ...options })
  running.push(p)
  return p
}

/** The messages `room` delivers from now on */
export function inbox (room: Room): RoomMessage[] {
  const got: RoomMessage[] = []
  room.addEventListener('message', e => { got.push(e.detail) })
  return got
}

/** Polls `fn` until it is true; throws naming `what` after `ms` */
export async function until (fn: () => boolean | Promise<boolean>, what: string, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms
  while (!await fn()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 50))
  }
}

/** A plain js-libp2p node with GossipSub, dialled to `address`, stopped after the test */
export async function stockNode (address: string, gossip: Record<string, unknown> = {}): Promise<StockNode> {
  const stock = await dialStock(address, gossip)
  stopped.push(stock.node)
  return stock
}
