// What the Node room tests share: an in-process relay, Node peers on it (no WebRTC: rooms go through the
// relay), an inbox per room, and polling for a condition. Everything started is stopped after each test.
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { generateKeyPair, publicKeyToProtobuf } from '@libp2p/crypto/keys'
import { gossipsub } from '@libp2p/gossipsub'
import { RPC } from '@libp2p/gossipsub/message'
import { identify } from '@libp2p/identify'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { webSockets } from '@libp2p/websockets'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'
import { concat } from 'uint8arrays/concat'
import { afterEach } from 'vitest'
import { createRelay } from '../../relay-server/index.ts'
import { createPeer } from '../index.ts'
import type { Relay, RelayConfig } from '../../relay-server/index.ts'
import type { Peer, PeerOptions, Room, RoomMessage } from '../index.ts'
import type { GossipSub } from '@libp2p/gossipsub'
import type { Libp2p, PrivateKey } from '@libp2p/interface'

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

/** A GossipSub message of `topic` signed by `key` as StrictSign does it, for attackers that speak for many authors */
export async function signedMessage (key: PrivateKey, topic: string, data: Uint8Array, seqno = BigInt(Date.now()) * 1000n): Promise<RPC.Message> {
  const bytes = new Uint8Array(8)
  new DataView(bytes.buffer).setBigUint64(0, seqno)
  const msg = { from: peerIdFromPrivateKey(key).toMultihash().bytes, data, seqno: bytes, topic }
  const signature = await key.sign(concat([new TextEncoder().encode('libp2p-pubsub:'), RPC.Message.encode(msg)]))
  return { ...msg, signature, key: publicKeyToProtobuf(key.publicKey) }
}

/** A plain js-libp2p node with GossipSub (StrictSign), dialled to `address`: what an attacker runs */
export async function stockNode (address: string, gossip: Record<string, unknown> = {}): Promise<{ node: Libp2p<{ pubsub: GossipSub }>, pubsub: GossipSub, send: (to: string, messages: RPC.Message[]) => boolean }> {
  const node = await createLibp2p({
    transports: [webSockets()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: { identify: identify(), pubsub: gossipsub({ globalSignaturePolicy: 'StrictSign', allowPublishToZeroTopicPeers: true, ...gossip }) }
  })
  stopped.push(node)
  await node.dial(multiaddr(address))
  const pubsub = node.services.pubsub
  // GossipSub's own sender (internal): messages as they are, however old, whoever signed them
  const send = (to: string, messages: RPC.Message[]): boolean => (pubsub as any).sendRpc(to, { subscriptions: [], messages })
  return { node: node as any, pubsub, send }
}
