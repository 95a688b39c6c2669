import './polyfills.ts'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { identify } from '@libp2p/identify'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { createLibp2p } from 'libp2p'
import { describe, expect, it } from 'vitest'
import { fastMsgId, gossipsubSkipping } from './gossip.ts'
import type { GossipSub } from '@libp2p/gossipsub'

describe('fastMsgId', () => {
  it('names a message by its author and sequence number, nothing else', () => {
    const from = new Uint8Array([0, 36, 8, 1, 18, 32, 7])
    const seqno = new Uint8Array([0, 0, 0, 0, 0, 0, 0, 1])
    const id = fastMsgId({ from, seqno })
    expect(id).toBe(fastMsgId({ from: from.slice(), seqno: seqno.slice() }))
    expect(fastMsgId({ from, seqno: new Uint8Array([0, 0, 0, 0, 0, 0, 0, 2]) })).not.toBe(id)
    expect(fastMsgId({ from: new Uint8Array([0, 36, 8, 1, 18, 32, 8]), seqno })).not.toBe(id)
  })

  it('gives unsigned messages (which StrictSign refuses before remembering anything) no id of their own', () => {
    expect(fastMsgId({})).toBe('')
    expect(fastMsgId({ from: new Uint8Array([1]) })).toBe('')
  })
})

describe('gossipsubSkipping', () => {
  it('leaves the peers it is told to skip out of what GossipSub publishes and forwards, and nobody else', async () => {
    const peers = await Promise.all([1, 2, 3].map(async () => peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()))
    const [relay, member, other] = peers
    let skipping = true
    const node = await createLibp2p({
      services: { identify: identify(), pubsub: gossipsubSkipping({ allowPublishToZeroTopicPeers: true }, peerId => skipping && peerId === relay) }
    })
    try {
      const pubsub = node.services.pubsub as GossipSub & {
        topics: Map<string, Set<string>>
        mesh: Map<string, Set<string>>
        selectPeersToPublish: (topic: string) => { tosend: Set<string> }
        selectPeersToForward: (topic: string, source?: string) => Set<string>
      }
      pubsub.subscribe('room')
      // as if all three had subscribed and were in our mesh
      pubsub.topics.set('room', new Set(peers))
      pubsub.mesh.set('room', new Set(peers))
      expect([...pubsub.selectPeersToPublish('room').tosend].sort()).toEqual([member, other].sort())
      expect([...pubsub.selectPeersToForward('room', other)]).toEqual([member])
      skipping = false
      expect([...pubsub.selectPeersToPublish('room').tosend].sort()).toEqual([...peers].sort())
      expect([...pubsub.selectPeersToForward('room', other)].sort()).toEqual([relay, member].sort())
    } finally {
      await node.stop()
    }
  })
})
