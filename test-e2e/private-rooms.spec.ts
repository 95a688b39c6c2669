// Private rooms end to end: real browsers and an in-process relay (`createRelay` from peerlane-relay), with no
// direct links, so that every message goes through the relay and reaches whoever subscribes to its topic.
import { generateKeyPair } from '@libp2p/crypto/keys'
import { createRelay } from 'peerlane-relay'
import { test, expect, openPage } from './fixtures.ts'
import { inbox, joinRoom, send, startPeer, waitForMessage, waitForRoomPeers } from './peer-page.ts'
import type { Message } from '@libp2p/gossipsub'

const SECRET = 'b8c0f2e61d4a4f09a7e3c5d1e9f60a2b'
const TEXTS = ['the vault code is 4417', 'noted: four four one seven', 'burn this message']
const contains = (bytes: Uint8Array, text: string): boolean => Buffer.from(bytes).includes(Buffer.from(text))

test('a private room: members with the secret chat; a page subscribed to every topic it sees, the relay, and a wrong secret read none of it', async ({ launch, pageUrl }) => {
  const relay = createRelay({ port: 0, stunPort: 0, logLevel: 'silent', privateKey: await generateKeyPair('Ed25519') })
  await relay.ready
  try {
    // every room message the relay's GossipSub decodes
    const atRelay: Array<{ topic: string, data: Uint8Array }> = []
    relay.libp2p?.services.pubsub.addEventListener('message', (e: CustomEvent<Message>) => { atRelay.push({ topic: e.detail.topic, data: e.detail.data }) })
    const [chrome, fox] = await Promise.all([launch('chromium'), launch('firefox')])
    const [pa, pb, outsider, wrong] = [await openPage(await chrome.newContext(), pageUrl), await openPage(fox, pageUrl), await openPage(await chrome.newContext(), pageUrl), await openPage(await chrome.newContext(), pageUrl)]
    const noLinks = { maxDirectPeers: 0 }
    const [A, B, E] = [await startPeer(pa, relay.addresses, noLinks), await startPeer(pb, relay.addresses, noLinks), await startPeer(outsider, relay.addresses, noLinks)]
    await startPeer(wrong, relay.addresses, noLinks)
    await Promise.all([joinRoom(pa, 'team', { secret: SECRET }), joinRoom(pb, 'team', { secret: SECRET }), joinRoom(wrong, 'team', { secret: SECRET.replace('b8', '8b') })])
    const topic: string = await pa.evaluate(() => (window as any).rooms.team.topic)
    expect(topic).toMatch(/^peerlane\/1\/private\//)
    expect(await wrong.evaluate(() => (window as any).rooms.team.topic)).not.toBe(topic)

    // the outsider subscribes to every room topic the relay announces, and keeps what arrives
    await outsider.evaluate(async () => {
      const w = window as any
      const pubsub = w.peer.libp2p.services.pubsub
      w.seen = []
      pubsub.addEventListener('message', (e: CustomEvent) => { w.seen.push({ topic: e.detail.topic, data: Array.from(e.detail.data as Uint8Array) }) })
      w.follow = setInterval(() => {
        for (const t of pubsub.topics.keys()) if (t.startsWith('peerlane/') && !pubsub.getTopics().includes(t)) pubsub.subscribe(t)
      }, 200)
    })
    await expect.poll(async () => await outsider.evaluate((t) => (window as any).peer.libp2p.services.pubsub.getTopics().includes(t), topic)).toBe(true)

    await waitForRoomPeers(pa, 'team', [B.id])
    await waitForRoomPeers(pb, 'team', [A.id])
    for (const [i, text] of TEXTS.entries()) {
      await send(i % 2 === 0 ? pa : pb, 'team', text)
      await waitForMessage(i % 2 === 0 ? pb : pa, 'team', text)
    }
    // what the outsider posts on the topic, without the key, is dropped
    await outsider.evaluate(async (t) => {
      const { RoomEnvelope } = (window as any).Peerlane
      const env = { id: 'f00d', timestamp: BigInt(Date.now()), encoding: RoomEnvelope.Encoding.TEXT, data: new TextEncoder().encode('let me in'), presence: RoomEnvelope.Presence.NONE }
      await (window as any).peer.libp2p.services.pubsub.publish(t, RoomEnvelope.encode(env))
    }, topic)
    await send(pb, 'team', 'after the outsider')
    await waitForMessage(pa, 'team', 'after the outsider')

    const seen = (await outsider.evaluate(() => (window as any).seen as Array<{ topic: string, data: number[] }>)).filter(m => m.topic === topic)
    const relayed = atRelay.filter(m => m.topic === topic)
    console.log(`private room: the outsider got ${seen.length} messages of the topic, the relay decoded ${relayed.length}`)
    expect(seen.length).toBeGreaterThanOrEqual(TEXTS.length + 1)
    expect(relayed.length).toBeGreaterThanOrEqual(TEXTS.length + 1)
    for (const data of [...seen.map(m => Uint8Array.from(m.data)), ...relayed.map(m => m.data)]) {
      for (const text of [...TEXTS, 'after the outsider']) expect(contains(data, text)).toBe(false)
    }
    for (const page of [pa, pb]) expect((await inbox(page, 'team')).some(m => m.text === 'let me in')).toBe(false)
    expect(await pa.evaluate(() => (window as any).rooms.team.peers)).not.toContain(E.id)
    expect(await inbox(wrong, 'team')).toEqual([])

    // a file shared into the room: sealed in what the outsider can fetch by its CID, plain for a member, and
    // ContentSealedError in the room of the wrong secret
    const marker = 'the vault is behind the painting'
    const ref = await pa.evaluate(async (text) => await (window as any).rooms.team.share(new Blob([text.repeat(20_000)], { type: 'text/plain' }), { name: 'plan.txt' }), marker)
    expect(ref).toMatchObject({ size: marker.length * 20_000, name: 'plan.txt', sealed: { segment: 256 * 1024 - 16 } })
    expect(await pb.evaluate(async ([r, from]) => await (await (window as any).rooms.team.fetch(r, { from: [from] })).text(), [ref, A.id] as const)).toBe(marker.repeat(20_000))
    const sealed = await outsider.evaluate(async ([r, from, text]) => {
      const bytes = new Uint8Array(await (await (window as any).peer.fetch({ cid: r.cid, size: 0 }, { from: [from] })).arrayBuffer())
      return { size: bytes.byteLength, plain: new TextDecoder().decode(bytes).includes(text) }
    }, [ref, A.id, marker] as const)
    expect(sealed).toEqual({ size: marker.length * 20_000 + 16 * 3, plain: false })
    expect(await wrong.evaluate(async ([r, from]) => await (window as any).rooms.team.fetch(r, { from: [from] }).then(() => 'opened', (err: Error) => err.name), [ref, A.id] as const)).toBe('ContentSealedError')
  } finally {
    await relay.close()
  }
})
