import { describe, expect, it } from 'vitest'
import { ENVELOPE_VERSION, messageEnvelope, nextSeq, openEnvelope, presenceEnvelope, sealEnvelope } from './envelope.ts'
import { RoomEnvelope } from './pb/room.ts'
import { deriveRoomKey, PRIVATE_TOPIC_PREFIX } from './room-key.ts'

const SECRET = 'correct horse battery staple'

describe('RoomEnvelope version 2', () => {
  it('carries version 2 and an increasing sequence number; a version 1 envelope still opens', async () => {
    const env = messageEnvelope('hello')
    expect(env.version).toBe(ENVELOPE_VERSION)
    expect(Number(env.seq)).toBeGreaterThanOrEqual(Number(env.timestamp) * 1000)
    const seqs = Array.from({ length: 5000 }, () => nextSeq())
    expect(seqs.every((s, i) => i === 0 || s > seqs[i - 1])).toBe(true)
    const opened = await openEnvelope('author', await sealEnvelope(env, undefined, 'author'), 1024)
    expect(opened).toMatchObject({ seq: Number(env.seq), timestamp: Number(env.timestamp), body: { id: env.id, text: 'hello', from: 'author' } })

    const v1 = RoomEnvelope.encode({ id: 'x1', timestamp: 5n, encoding: RoomEnvelope.Encoding.TEXT, data: new TextEncoder().encode('old') })
    expect(await openEnvelope('author', v1, 1024)).toMatchObject({ seq: 0, timestamp: 5, body: { text: 'old' } })
    // version 2 without a sequence number, or sealed in a public room: malformed
    expect(await openEnvelope('author', RoomEnvelope.encode({ ...env, seq: 0n }), 1024)).toBeUndefined()
    expect(await openEnvelope('author', RoomEnvelope.encode({ ...env, sealed: new Uint8Array(40) }), 1024)).toBeUndefined()
  })

  it('private rooms: a topic and key from the secret and name; contents sealed, bound to the topic and author', async () => {
    const key = await deriveRoomKey('team', SECRET)
    expect(key.topic.startsWith(PRIVATE_TOPIC_PREFIX)).toBe(true)
    expect((await deriveRoomKey('team', SECRET)).topic).toBe(key.topic)
    expect((await deriveRoomKey('team', SECRET + '!')).topic).not.toBe(key.topic)
    expect((await deriveRoomKey('other', SECRET)).topic).not.toBe(key.topic)
    await expect(deriveRoomKey('team', 'short')).rejects.toMatchObject({ name: 'InvalidConfigError', field: 'secret' })

    const text = 'the plan is on page 7'
    const env = messageEnvelope(text)
    const sealed = await sealEnvelope(env, key, 'alice')
    expect(Buffer.from(sealed).includes(Buffer.from(text))).toBe(false)
    expect(Buffer.from(sealed).includes(Buffer.from(env.id))).toBe(false)
    const outer = RoomEnvelope.decode(sealed)
    expect(outer).toMatchObject({ id: '', version: ENVELOPE_VERSION, seq: env.seq, timestamp: env.timestamp })
    expect(outer.data.byteLength).toBe(0)
    expect(await openEnvelope('alice', sealed, 1024, key)).toMatchObject({ body: { id: env.id, text, from: 'alice' } })

    // another key, another author (the AAD), a plain envelope in the private room: all refused
    expect(await openEnvelope('alice', sealed, 1024, await deriveRoomKey('team', SECRET + '!'))).toBeUndefined()
    expect(await openEnvelope('mallory', sealed, 1024, key)).toBeUndefined()
    expect(await openEnvelope('alice', RoomEnvelope.encode(env), 1024, key)).toBeUndefined()
    const beacon = await sealEnvelope(presenceEnvelope(RoomEnvelope.Presence.LEAVE), key, 'alice')
    expect(await openEnvelope('alice', beacon, 1024, key)).toMatchObject({ body: { presence: RoomEnvelope.Presence.LEAVE } })
  })
})
