// Replay protection in browsers (issue "Hostile peers", line 6): two pages use a hostile relay, a stock
// js-libp2p relay in this process that records every room message and publishes X's again, exactly as
// signed, once the pages' GossipSub has forgotten them (replayWindow and seenTTL short here). A replayed
// LEAVE does not make X vanish, replayed HERE beacons do not bring X back, a replayed chat message is not
// delivered again. (The relay process's own check: relay-server/test/replay-hostile.test.ts.)
import '../src/polyfills.ts'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { circuitRelayServer } from '@libp2p/circuit-relay-v2'
import { gossipsub } from '@libp2p/gossipsub'
import { RPC } from '@libp2p/gossipsub/message'
import { identify } from '@libp2p/identify'
import { webSockets } from '@libp2p/websockets'
import { createLibp2p } from 'libp2p'
import { roomTopic } from '../src/envelope.ts'
import { encodeSigned } from '../src/history-wire.ts'
import { RoomEnvelope } from '../src/pb/room.ts'
import { test, expect, openPage } from './fixtures.ts'
import { events, joinRoom, send, startPeer, waitForMessage, waitForRoomPeers } from './peer-page.ts'
import type { GossipSub, Message } from '@libp2p/gossipsub'
import type { Page } from '@playwright/test'

const WINDOW = 2_000
const SEEN_TTL = 4_000
const ROOM = 'replayed'

/** Y's verdicts on X's messages (its room's GossipSub validator, wrapped), and its room events about X */
async function watch (page: Page, x: string): Promise<void> {
  await page.evaluate((x) => {
    const w = window as any
    const room = w.rooms.replayed
    const pubsub = w.peer.libp2p.services.pubsub
    const validate = pubsub.topicValidators.get(room.topic)
    w.verdicts = []
    pubsub.topicValidators.set(room.topic, async (source: unknown, msg: any) => {
      const verdict = await validate(source, msg)
      if (msg.from?.toString() === x) w.verdicts.push(verdict)
      return verdict
    })
    for (const type of ['peer:join', 'peer:leave']) room.addEventListener(type, (e: CustomEvent) => { if (e.detail.peerId === x) w.events.push({ type, detail: e.detail }) })
  }, x)
}

/**
 * Waits until Y's GossipSub has forgotten every message that reached it before `since` (its clock): it prunes its
 * seen caches on its heartbeat, which a busy page runs late, so their oldest entry tells
 */
async function forgotten (page: Page, since: number): Promise<void> {
  await page.waitForFunction((since) => {
    const p = (window as any).peer.libp2p.services.pubsub
    const added = (cache: any): number => ([...cache.entries.values()][0]?.validUntilMs ?? Infinity) - p.opts.seenTTL
    return added(p.seenCache) > since && added(p.fastMsgIdCache) > since
  }, since, { timeout: 30_000 })
}

const verdicts = async (page: Page): Promise<string[]> => await page.evaluate(() => (window as any).verdicts)
const count = async (page: Page, type: string): Promise<number> => (await events(page, type)).length
const texts = async (page: Page): Promise<string[]> => await page.evaluate(() => (window as any).inbox.replayed.map((m: any) => m.text))

test('hostile relay: LEAVE, HERE and chat messages replayed after the window are all dropped', async ({ launch, pageUrl }) => {
  const relay = await createLibp2p({
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0/ws'] },
    transports: [webSockets()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: { identify: identify(), relay: circuitRelayServer(), pubsub: gossipsub({ globalSignaturePolicy: 'StrictSign', allowPublishToZeroTopicPeers: true }) }
  })
  try {
    const pubsub = relay.services.pubsub as GossipSub
    const topic = roomTopic(ROOM)
    pubsub.subscribe(topic)
    const recorded: Array<{ from: string, presence: RoomEnvelope.Presence, rpc: RPC.Message }> = []
    pubsub.addEventListener('message', (e: CustomEvent<Message>) => {
      const msg = e.detail
      if (msg.topic !== topic || msg.type !== 'signed') return
      recorded.push({ from: msg.from.toString(), presence: RoomEnvelope.decode(msg.data).presence, rpc: RPC.Message.decode(encodeSigned(msg)) })
    })
    // GossipSub's own sender (internal): the messages as recorded, whatever the relay's seen cache says
    const replay = (to: string, messages: RPC.Message[]): boolean => (pubsub as any).sendRpc(to, { subscriptions: [], messages })
    const address = relay.getMultiaddrs()[0].toString()

    const chrome = await launch('chromium')
    const [px, py] = [await openPage(await chrome.newContext(), pageUrl), await openPage(await chrome.newContext(), pageUrl)]
    const options = { maxDirectPeers: 0, replayWindow: WINDOW, seenTTL: SEEN_TTL }
    const [X, Y] = [await startPeer(px, [address], options), await startPeer(py, [address], options)]
    await Promise.all([joinRoom(px, ROOM), joinRoom(py, ROOM)])
    await watch(py, X.id)
    await waitForRoomPeers(py, ROOM, [X.id])
    await send(px, ROOM, 'only once')
    await waitForMessage(py, ROOM, 'only once')

    // X leaves and comes back (a reload, say): Y sees both
    await px.evaluate(async () => { await (window as any).rooms.replayed.leave() })
    await waitForRoomPeers(py, ROOM, [])
    const firstSeen = await py.evaluate(() => Date.now())
    const firstSession = recorded.filter(m => m.from === X.id)
    expect(firstSession.filter(m => m.presence === RoomEnvelope.Presence.LEAVE)).toHaveLength(1)
    expect(firstSession.filter(m => m.presence === RoomEnvelope.Presence.NONE)).toHaveLength(1)
    await joinRoom(px, ROOM)
    await waitForRoomPeers(py, ROOM, [X.id])
    const [joins, leaves] = [await count(py, 'peer:join'), await count(py, 'peer:leave')]

    // once Y's GossipSub has forgotten them: X's first LEAVE, its HERE beacons and its chat message, again
    await forgotten(py, firstSeen)
    const before = (await verdicts(py)).length
    expect(replay(Y.id, firstSession.map(m => m.rpc))).toBe(true)
    // all reach Y's check, and all are ignored (X's fresh beacons, also counted, are accepted)
    await expect.poll(async () => (await verdicts(py)).slice(before).filter(v => v === 'ignore').length).toBe(firstSession.length)
    await send(px, ROOM, 'after the replay')
    await waitForMessage(py, ROOM, 'after the replay')
    expect(await texts(py)).toEqual(['only once', 'after the replay'])
    expect(await py.evaluate(() => (window as any).rooms.replayed.peers)).toEqual([X.id])
    expect(await count(py, 'peer:leave')).toBe(leaves)

    // X leaves for good; its recorded HERE beacons, published again later, do not bring it back
    const secondSession = recorded.filter(m => m.from === X.id && m.presence === RoomEnvelope.Presence.HERE && !firstSession.includes(m))
    expect(secondSession.length).toBeGreaterThanOrEqual(1)
    await px.close({ runBeforeUnload: true })
    await waitForRoomPeers(py, ROOM, [])
    await forgotten(py, await py.evaluate(() => Date.now()))
    const again = (await verdicts(py)).length
    expect(replay(Y.id, secondSession.map(m => m.rpc))).toBe(true)
    await expect.poll(async () => (await verdicts(py)).length - again).toBe(secondSession.length)
    expect((await verdicts(py)).slice(again)).toEqual(secondSession.map(() => 'ignore'))
    expect(await py.evaluate(() => (window as any).rooms.replayed.peers)).toEqual([])
    expect(await count(py, 'peer:join')).toBe(joins)
  } finally {
    await relay.stop()
  }
})
