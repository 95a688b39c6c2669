import { describe, expect, it } from 'vitest'
import { messageEnvelope, presenceEnvelope, sealEnvelope } from './envelope.ts'
import { RoomEnvelope } from './index.ts'
import { deriveRoomKey } from './room-key.ts'
import { inbox, peer, relay, until } from './test/rooms.ts'
import type { Message } from '@libp2p/gossipsub'

const SECRET = 'a3f1c09e77b24d5e8a61f0c2b9d4e6a1'
const contains = (bytes: Uint8Array, text: string): boolean => Buffer.from(bytes).includes(Buffer.from(text))

describe('private rooms (Node peers, one relay)', () => {
  it('members read each other; the relay, an outsider on the topic and a wrong secret read nothing, and outsiders cannot post', async () => {
    const r = await relay()
    const [a, b, outsider, wrong] = [await peer(r), await peer(r), await peer(r), await peer(r)]
    const [ra, rb] = [await a.join('team', { secret: SECRET }), await b.join('team', { secret: SECRET })]
    expect(ra.topic).toBe(rb.topic)
    expect(ra.topic).not.toContain('team')
    const [gotA, gotB] = [inbox(ra), inbox(rb)]
    const rw = await wrong.join('team', { secret: SECRET.toUpperCase() })
    const gotWrong = inbox(rw)
    expect(rw.topic).not.toBe(ra.topic)

    // what the relay and an outsider subscribed to the topic see
    const seenByRelay: Uint8Array[] = []
    r.libp2p?.services.pubsub.addEventListener('message', (e: CustomEvent<Message>) => { if (e.detail.topic === ra.topic) seenByRelay.push(e.detail.data) })
    const seenByOutsider: Uint8Array[] = []
    const pubsub = outsider.libp2p.services.pubsub
    pubsub.subscribe(ra.topic)
    pubsub.addEventListener('message', (e: CustomEvent<Message>) => { if (e.detail.topic === ra.topic) seenByOutsider.push(e.detail.data) })

    await until(() => ra.peers.includes(b.id) && rb.peers.includes(a.id), 'a and b to meet')
    await ra.send('meet at the old mill')
    await until(() => gotB.some(m => m.text === 'meet at the old mill'), 'a\'s message')
    await rb.send({ reply: 'bring the map' })
    await until(() => gotA.some(m => (m.json as any)?.reply === 'bring the map'), 'b\'s answer')

    // an outsider posts on the topic: a plain envelope, and one sealed with a key of its own
    const guess = await deriveRoomKey('team', 'not the secret at all!')
    await pubsub.publish(ra.topic, RoomEnvelope.encode(messageEnvelope('let me in')))
    await pubsub.publish(ra.topic, await sealEnvelope(messageEnvelope('let me in, sealed'), guess, outsider.id))
    await pubsub.publish(ra.topic, await sealEnvelope(presenceEnvelope(RoomEnvelope.Presence.HERE), guess, outsider.id))
    await rb.send('after the outsider')
    await until(() => gotA.some(m => m.text === 'after the outsider'), 'the message after the outsider\'s')

    expect(seenByRelay.length).toBeGreaterThanOrEqual(2)
    expect(seenByOutsider.length).toBeGreaterThanOrEqual(2)
    for (const bytes of [...seenByRelay, ...seenByOutsider]) {
      for (const text of ['meet at the old mill', 'bring the map', 'after the outsider']) expect(contains(bytes, text)).toBe(false)
    }
    expect([...gotA, ...gotB].some(m => m.text?.startsWith('let me in') === true)).toBe(false)
    expect(ra.peers).not.toContain(outsider.id)
    expect(gotWrong).toEqual([])

    // history of a private room: kept sealed, and opened by a member who joins later
    const stored = (ra as any).history.entries.map((e: { message: Uint8Array }) => e.message) as Uint8Array[]
    expect(stored.length).toBeGreaterThanOrEqual(2)
    for (const bytes of stored) expect(contains(bytes, 'meet at the old mill')).toBe(false)
    const late = await peer(r)
    const gotLate = inbox(await late.join('team', { secret: SECRET }))
    await until(() => gotLate.some(m => m.text === 'after the outsider'), 'the late member to get the history')
    expect(gotLate.filter(m => m.history === true).map(m => (m.json as any)?.reply ?? m.text)).toEqual(['meet at the old mill', 'bring the map', 'after the outsider'])
  }, 60_000)
})
