// What the tests' attackers do, in Node (vitest and Playwright both use it): sign GossipSub messages for any
// author, speak GossipSub from a plain js-libp2p node, record a room's signed messages, and serve forged history.
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { publicKeyToProtobuf } from '@libp2p/crypto/keys'
import { gossipsub } from '@libp2p/gossipsub'
import { RPC } from '@libp2p/gossipsub/message'
import { identify } from '@libp2p/identify'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { lpStream } from '@libp2p/utils'
import { webSockets } from '@libp2p/websockets'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'
import { concat } from 'uint8arrays/concat'
import { encodeSigned, HISTORY_PROTOCOL } from '../history-wire.ts'
import { HistoryRequest, HistoryResponse } from '../pb/history.ts'
import { RoomEnvelope } from '../pb/room.ts'
import type { GossipSub, Message } from '@libp2p/gossipsub'
import type { Libp2p, PrivateKey } from '@libp2p/interface'

/** A GossipSub message of `topic` signed by `key` as StrictSign does it, for attackers that speak for many authors */
export async function signedMessage (key: PrivateKey, topic: string, data: Uint8Array, seqno = BigInt(Date.now()) * 1000n): Promise<RPC.Message> {
  const bytes = new Uint8Array(8)
  new DataView(bytes.buffer).setBigUint64(0, seqno)
  const msg = { from: peerIdFromPrivateKey(key).toMultihash().bytes, data, seqno: bytes, topic }
  const signature = await key.sign(concat([new TextEncoder().encode('libp2p-pubsub:'), RPC.Message.encode(msg)]))
  return { ...msg, signature, key: publicKeyToProtobuf(key.publicKey) }
}

/** A plain js-libp2p node with GossipSub (StrictSign) */
export interface StockNode {
  node: Libp2p<{ pubsub: GossipSub }>
  pubsub: GossipSub
  /** sends `messages` to GossipSub peer `to` as they are (however old, whoever signed them); false without a stream to it */
  send: (to: string, messages: RPC.Message[]) => boolean
}

/** A plain js-libp2p node with GossipSub, dialled to `address`: what an attacker runs. Stop its `node` after. */
export async function stockNode (address: string, gossip: Record<string, unknown> = {}): Promise<StockNode> {
  const node = await createLibp2p({
    transports: [webSockets()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: { identify: identify(), pubsub: gossipsub({ globalSignaturePolicy: 'StrictSign', allowPublishToZeroTopicPeers: true, ...gossip }) }
  })
  await node.dial(multiaddr(address))
  const pubsub = node.services.pubsub
  // GossipSub's own sender (internal)
  const send = (to: string, messages: RPC.Message[]): boolean => (pubsub as any).sendRpc(to, { subscriptions: [], messages })
  return { node: node as any, pubsub, send }
}

/** Every app message of `topic` (beacons left out) that reaches `pubsub`, as the history protocol carries it */
export function recordRoom (pubsub: GossipSub, topic: string): Uint8Array[] {
  const seen: Uint8Array[] = []
  pubsub.addEventListener('message', (e: CustomEvent<Message>) => {
    const msg = e.detail
    if (msg.topic === topic && msg.type === 'signed' && RoomEnvelope.decode(msg.data).presence === RoomEnvelope.Presence.NONE) seen.push(encodeSigned(msg))
  })
  return seen
}

/** Makes `node` answer history requests with `serve()` instead of what its rooms kept; counts the requests */
export async function serveForged (node: Libp2p, serve: () => Uint8Array[]): Promise<{ asked: number }> {
  const counter = { asked: 0 }
  await node.unhandle(HISTORY_PROTOCOL)
  await node.handle(HISTORY_PROTOCOL, async stream => {
    counter.asked++
    const lp = lpStream(stream)
    const request = HistoryRequest.decode(await lp.read())
    const messages = serve().filter(m => RPC.Message.decode(m).topic === request.topic)
    await lp.write(HistoryResponse.encode({ kept: true, count: messages.length }))
    for (const m of messages) await lp.write(m)
    await stream.close()
  }, { runOnLimitedConnection: true })
  return counter
}

/** `messages` with three forged: #1's text altered, #3's signature zeroed, #5 claimed by another author */
export function forgeThree (messages: Uint8Array[], other: PrivateKey): Uint8Array[] {
  return messages.map((bytes, i) => {
    const m = RPC.Message.decode(bytes)
    if (i === 1) return RPC.Message.encode({ ...m, data: RoomEnvelope.encode({ ...RoomEnvelope.decode(m.data as Uint8Array), data: new TextEncoder().encode('forged: altered text') }) })
    if (i === 3) return RPC.Message.encode({ ...m, signature: new Uint8Array(64) })
    if (i === 5) return RPC.Message.encode({ ...m, key: undefined, from: peerIdFromPrivateKey(other).toMultihash().bytes })
    return bytes
  })
}
