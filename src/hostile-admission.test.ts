// Hostile authors in a room (Node peers, an in-process relay): thousands of made-up authors cannot make a
// member track or link to more than the room's member cap, nor faster than its admission rate.
import { generateKeyPair } from '@libp2p/crypto/keys'
import { describe, expect, it } from 'vitest'
import { presenceEnvelope } from './envelope.ts'
import { RoomEnvelope } from './index.ts'
import { inbox, peer, relay, signedMessage, stockNode, until } from './test/rooms.ts'

const FAKE_AUTHORS = 500
/** each made-up author beacons this many times, once a second, as a member would */
const ROUNDS = 8

describe('room admission', () => {
  it(`${FAKE_AUTHORS} made-up authors: members admit at most maxMembers, at the admission rate, and honest members still talk and join`, async () => {
    const r = await relay()
    const options = { maxMembers: 25, admissionRate: 5 }
    const [a, b] = [await peer(r), await peer(r)]
    const [ra, rb] = [await a.join('crowd', options), await b.join('crowd', options)]
    const gotB = inbox(rb)
    await until(() => ra.peers.includes(b.id) && rb.peers.includes(a.id), 'a and b to meet')
    let joins = 0
    let most = 0
    ra.addEventListener('peer:join', () => { joins++; most = Math.max(most, ra.peers.length) })

    // one connection speaks for hundreds of authors: a HERE beacon each, signed by its own key, every second
    const attacker = await stockNode(r.addresses[0])
    attacker.pubsub.subscribe(ra.topic)
    const keys = await Promise.all(Array.from({ length: FAKE_AUTHORS }, async () => await generateKeyPair('Ed25519')))
    const started = Date.now()
    await until(() => attacker.pubsub.getSubscribers(ra.topic).length > 0, 'the relay to carry the topic for the attacker')
    for (let round = 0; round < ROUNDS; round++) {
      const next = Date.now() + 1_000
      for (let i = 0; i < keys.length; i += 100) {
        const batch = await Promise.all(keys.slice(i, i + 100).map(async key => await signedMessage(key, ra.topic, RoomEnvelope.encode(presenceEnvelope(RoomEnvelope.Presence.HERE)))))
        expect(attacker.send(r.peerId, batch)).toBe(true)
      }
      if (round === 2) await ra.send('still here')
      await new Promise(resolve => setTimeout(resolve, Math.max(0, next - Date.now())))
    }
    await until(() => gotB.some(m => m.text === 'still here'), 'an honest message during the flood')
    const elapsed = (Date.now() - started) / 1000
    console.log(`admission: ${joins} of ${FAKE_AUTHORS} fake authors admitted in ${elapsed.toFixed(1)} s, at most ${most} members`)
    expect(most).toBeLessThanOrEqual(options.maxMembers)
    expect(joins).toBeGreaterThanOrEqual(options.maxMembers - 1)
    expect(joins).toBeLessThanOrEqual(options.admissionRate * (elapsed + 1))
    expect((ra as any).replay.size).toBeLessThanOrEqual(options.maxMembers)

    // the made-up authors say nothing more and time out; an honest newcomer gets in
    const c = await peer(r)
    const rc = await c.join('crowd', options)
    await until(() => ra.peers.includes(c.id) && rc.peers.includes(a.id), 'an honest newcomer to be admitted', 30_000)
  }, 90_000)
})
