// Room attacks on a relay process: a few PeerIds making it carry thousands of topics (so that no new room
// fits), and room messages it should not forward (4 MiB, over the size limit, not a room envelope).
import { lpStream } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { messageEnvelope, roomTopic } from '../../src/envelope.ts'
import { RoomEnvelope } from '../../src/pb/room.ts'
import { attackedRelay, client, stopAll } from './hostile-clients.ts'
import { asAttacker } from './hostile.ts'
import type { AttackedRelay } from './hostile-clients.ts'
import type { GossipSub } from '@libp2p/gossipsub'
import type { Libp2p } from '@libp2p/interface'

type PubsubNode = Libp2p<{ identify: unknown, pubsub: GossipSub }>

const MAX_TOPICS_PER_PEER = 32 // the default
const HOP = '/libp2p/circuit/relay/0.2.0/hop'

describe('rooms on a relay under attack', () => {
  let relay: AttackedRelay
  let relayId: string
  let baseline: number
  const nodes: Libp2p[] = []
  const peer = async (from: string, reserve: boolean, pubsub = {}): Promise<PubsubNode> => {
    const node = await asAttacker(async () => await client(relay.address, { reserve, pubsub }), from)
    nodes.push(node)
    return node
  }
  const rooms = async (): Promise<number> => (await relay.health()).rooms
  // the relay carries `topic` and has told `node` so
  const carried = async (node: PubsubNode, topic: string): Promise<void> => {
    await expect.poll(() => node.services.pubsub.getSubscribers(topic).map(String), { timeout: 10_000 }).toContain(relayId)
  }
  const publish = async (node: PubsubNode, topic: string, data: Uint8Array): Promise<void> => {
    await node.services.pubsub.publish(topic, data)
  }

  beforeAll(async () => {
    relay = await attackedRelay()
    relayId = relay.address.split('/p2p/')[1]
    baseline = await relay.rss()
  }, 30_000)
  afterEach(async () => { await stopAll(nodes.splice(0)) })
  afterAll(async () => { await relay?.stop() })

  it('carries a new room while 5 PeerIds subscribe to 1,000 topics each (and an unreserved one to 1,000 more)', async () => {
    const unreserved = await peer('127.0.0.3', false, {})
    for (let j = 0; j < 1_000; j++) unreserved.services.pubsub.subscribe(roomTopic(`free-${j}`))
    const attackers = await Promise.all(Array.from({ length: 5 }, async () => await peer('127.0.0.2', true, {})))
    attackers.forEach((a, i) => { for (let j = 0; j < 1_000; j++) a.services.pubsub.subscribe(roomTopic(`junk-${i}-${j}`)) })
    // each reserved attacker makes the relay carry its first 32 topics, and not one more
    await expect.poll(rooms, { timeout: 20_000 }).toBe(5 * MAX_TOPICS_PER_PEER)

    const topic = roomTopic('fresh')
    const [a, b] = await Promise.all([peer('127.0.0.1', true, {}), peer('127.0.0.1', true, {})])
    a.services.pubsub.subscribe(topic)
    b.services.pubsub.subscribe(topic)
    await carried(a, topic)
    await carried(b, topic)
    const received = new Promise<string>(resolve => {
      b.services.pubsub.addEventListener('message', evt => { resolve(new TextDecoder().decode(RoomEnvelope.decode(evt.detail.data).data)) })
    })
    await expect.poll(async () => {
      await publish(a, topic, RoomEnvelope.encode(messageEnvelope('still carried')))
      return await Promise.race([received, new Promise(resolve => setTimeout(resolve, 500))])
    }, { timeout: 10_000 }).toBe('still carried')
    expect(await rooms()).toBe(5 * MAX_TOPICS_PER_PEER + 1)
    const grown = (await relay.rss()) - baseline
    console.log(`rooms: 6,000 subscriptions from 6 PeerIds → ${5 * MAX_TOPICS_PER_PEER + 1} rooms carried, relay RSS +${(grown / 1e6).toFixed(1)} MB`)
    expect(grown).toBeLessThan(100 * 1024 * 1024)
  }, 90_000)

  it('carries the rooms of a peer that subscribed before it reserved, once it reserves', async () => {
    const topic = roomTopic('reserved-later')
    const early = await peer('127.0.0.1', false, {})
    early.services.pubsub.subscribe(topic)
    await expect.poll(() => early.services.pubsub.getPeers().map(String)).toContain(relayId)
    await expect.poll(rooms).toBe(0) // the last test's peers have gone, and this one holds no reservation
    // a reservation as the circuit relay transport asks for one: HopMessage { type: RESERVE }
    const stream = await early.dialProtocol(multiaddr(relay.address), HOP, { signal: AbortSignal.timeout(5_000) })
    const lp = lpStream(stream)
    await lp.write(new Uint8Array([0x08, 0x00]))
    expect((await lp.read({ signal: AbortSignal.timeout(5_000) })).subarray().slice(0, 2)).toEqual(new Uint8Array([0x08, 0x02])) // a STATUS
    await expect.poll(async () => (await relay.health()).reservations).toBe(1)
    await carried(early, topic)
    expect(await rooms()).toBe(1)
  }, 30_000)

  it('drops a 4 MiB signed room message (and oversized or malformed ones): a subscriber beyond the relay never gets them', async () => {
    const topic = roomTopic('big')
    // a subscriber that would take anything (GossipSub's own default stops at 4 MiB)
    const subscriber = await peer('127.0.0.1', true, { maxInboundDataLength: 16 * 1024 * 1024 })
    subscriber.services.pubsub.subscribe(topic)
    const got: Uint8Array[] = []
    subscriber.services.pubsub.addEventListener('message', evt => { got.push(evt.detail.data) })
    const [big, oversized] = await Promise.all([peer('127.0.0.2', false, {}), peer('127.0.0.2', false, {})])
    await carried(big, topic)
    await carried(oversized, topic)
    const sentBefore = await relay.metric('libp2p_data_transfer_bytes_total{protocol="global sent"}')

    // signed, a valid envelope, and under GossipSub's default 4 MiB: a stock relay forwards it
    await publish(big, topic, RoomEnvelope.encode(messageEnvelope(new Uint8Array(4 * 1024 * 1024 - 4096))))
    await publish(oversized, topic, RoomEnvelope.encode(messageEnvelope(new Uint8Array(100 * 1024))))
    await publish(oversized, topic, new Uint8Array(1024).fill(0xff))
    await expect.poll(async () => await relay.metric('peerlane_relay_room_messages_dropped_total'), { timeout: 10_000 }).toBe(2)

    const honest = await peer('127.0.0.1', true, {})
    await carried(honest, topic)
    await publish(honest, topic, RoomEnvelope.encode(messageEnvelope('small and honest')))
    await expect.poll(() => got.length, { timeout: 10_000 }).toBe(1)
    expect(new TextDecoder().decode(RoomEnvelope.decode(got[0]).data)).toBe('small and honest')
    const sent = (await relay.metric('libp2p_data_transfer_bytes_total{protocol="global sent"}')) - sentBefore
    const grown = (await relay.rss()) - baseline
    console.log(`4 MiB message: relay sent ${(sent / 1024).toFixed(0)} KiB meanwhile, RSS +${(grown / 1e6).toFixed(1)} MB`)
    expect(sent).toBeLessThan(1024 * 1024)
    expect(grown).toBeLessThan(100 * 1024 * 1024)
  }, 60_000)
})
