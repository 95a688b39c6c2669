import { generateKeyPair } from '@libp2p/crypto/keys'
import { describe, expect, it } from 'vitest'
import { forgeThree, inbox, peer, recordRoom, relay, serveForged, until } from './test/rooms.ts'
import type { RoomOptions } from './index.ts'

describe('room history (Node peers, one relay)', () => {
  it('a member who joins later gets what was said, oldest first, marked as history, once', async () => {
    const r = await relay()
    const [a, b, c] = [await peer(r), await peer(r), await peer(r)]
    const [ra, rb] = [await a.join('h'), await b.join('h')]
    const [gotA, gotB] = [inbox(ra), inbox(rb)]
    await until(() => ra.peers.includes(b.id) && rb.peers.includes(a.id), 'a and b to meet')
    // a conversation: each speaks once the other's last message arrived
    for (let i = 0; i < 10; i++) {
      await (i % 2 === 0 ? ra : rb).send(`m${i}`)
      await until(() => (i % 2 === 0 ? gotB : gotA).some(m => m.text === `m${i}`), `m${i} to arrive`)
    }

    const rc = await c.join('h')
    const gotC = inbox(rc)
    await until(() => gotC.length >= 10, 'c to get the 10 earlier messages')
    expect(gotC.map(m => m.text)).toEqual(Array.from({ length: 10 }, (_, i) => `m${i}`))
    expect(gotC.every(m => m.history === true)).toBe(true)
    expect(gotC.map(m => m.from)).toEqual(Array.from({ length: 10 }, (_, i) => i % 2 === 0 ? a.id : b.id))

    await ra.send('live')
    await until(() => gotC.some(m => m.text === 'live'), 'a live message')
    expect(gotC.find(m => m.text === 'live')?.history).toBeUndefined()
    expect(gotC).toHaveLength(11)
  }, 60_000)

  it('a member serving forged or altered messages is struck for each (muted after three), and none is delivered', async () => {
    const r = await relay()
    const [a, d, c] = [await peer(r), await peer(r), await peer(r)]
    // a keeps no history, so c has only d to ask
    const noHistory: RoomOptions = { history: false }
    const [ra, rd] = [await a.join('forged', noHistory), await d.join('forged')]
    const recorded = recordRoom(d.libp2p.services.pubsub, rd.topic)
    const gotD = inbox(rd)
    await until(() => ra.peers.includes(d.id), 'a and d to meet')
    for (let i = 0; i < 6; i++) await ra.send(`genuine ${i}`)
    await until(() => gotD.length === 6, 'd to get them')
    const mallory = await generateKeyPair('Ed25519')
    const forging = await serveForged(d.libp2p, () => forgeThree(recorded, mallory))

    const rc = await c.join('forged')
    const gotC = inbox(rc)
    await until(() => forging.asked === 1 && gotC.length === 3, 'c to get the three genuine ones from d')
    expect(gotC.map(m => m.text)).toEqual(['genuine 0', 'genuine 2', 'genuine 4'])
    expect(gotC.every(m => m.history === true && m.from === a.id)).toBe(true)
    // struck three times: muted, so c drops d's beacons, and d leaves c's room while a still has it
    const guard = (c as any).parts.guard
    // the last forgery comes after the last genuine message
    await until(() => guard.isMuted(d.id) === true, 'c to mute d')
    expect(guard.isMuted(a.id)).toBe(false)
    await until(() => !rc.peers.includes(d.id) && rc.peers.includes(a.id), 'c to drop d')
    expect(ra.peers).toContain(d.id)
  }, 60_000)

  it('history: false keeps nothing, serves nothing and asks nobody', async () => {
    const r = await relay()
    const [a, b] = [await peer(r), await peer(r)]
    const ra = await a.join('quiet', { history: false })
    const asked = await serveForged(a.libp2p, () => [])
    await ra.send('before b')
    const rb = await b.join('quiet', { history: false })
    const gotB = inbox(rb)
    await until(() => rb.peers.includes(a.id), 'b to see a')
    await ra.send('live')
    await until(() => gotB.some(m => m.text === 'live'), 'the live message')
    // 'before b' may reach b too, as GossipSub gossips its last seconds of messages to newcomers: live, then
    expect(gotB.filter(m => m.history === true)).toEqual([])
    expect(asked.asked).toBe(0)
  }, 60_000)
})
