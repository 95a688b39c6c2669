import { generateKeyPair, publicKeyToProtobuf } from '@libp2p/crypto/keys'
import { RPC } from '@libp2p/gossipsub/message'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { describe, expect, it } from 'vitest'
import { encodeSigned, verifySigned } from './history-wire.ts'
import { signedMessage } from './test/attack.ts'
import type { PrivateKey } from '@libp2p/interface'

const TOPIC = 'peerlane/1/room/wire'

const signed = async (key: PrivateKey, data: Uint8Array): Promise<RPC.Message> => await signedMessage(key, TOPIC, data, 12345n)

describe('history frames', () => {
  it('verifies a genuine signed message and round-trips it; refuses forged, altered and malformed ones', async () => {
    const [alice, mallory] = await Promise.all([generateKeyPair('Ed25519'), generateKeyPair('Ed25519')])
    const genuine = await signed(alice, new TextEncoder().encode('hi'))
    const ok = await verifySigned(RPC.Message.encode(genuine), TOPIC)
    expect(ok?.from.toString()).toBe(peerIdFromPrivateKey(alice).toString())
    expect(new TextDecoder().decode(ok?.data)).toBe('hi')
    expect(ok?.sequenceNumber).toBe(12345n)
    // what we store and serve is the same message
    expect(RPC.Message.decode(encodeSigned(ok as any))).toEqual(RPC.Message.decode(RPC.Message.encode(genuine)))
    // and without the key (an Ed25519 PeerId holds it)
    expect(await verifySigned(RPC.Message.encode({ ...genuine, key: undefined }), TOPIC)).toBeDefined()

    const forged: Array<[string, Uint8Array]> = [
      ['altered data', RPC.Message.encode({ ...genuine, data: new TextEncoder().encode('ha') })],
      ['another room', RPC.Message.encode({ ...genuine, topic: 'peerlane/1/room/other' })],
      ['another seqno', RPC.Message.encode({ ...genuine, seqno: new Uint8Array(8) })],
      ['a short seqno', RPC.Message.encode({ ...genuine, seqno: new Uint8Array(7) })],
      ['signed by someone else as alice', RPC.Message.encode({ ...(await signed(mallory, genuine.data as Uint8Array)), from: genuine.from, key: genuine.key })],
      ['alice with mallory\'s key', RPC.Message.encode({ ...genuine, key: publicKeyToProtobuf(mallory.publicKey) })],
      ['no signature', RPC.Message.encode({ ...genuine, signature: undefined })],
      ['garbage', new Uint8Array([0xff, 0x01, 0x02, 0x03])]
    ]
    for (const [what, bytes] of forged) expect(await verifySigned(bytes, what === 'another room' ? 'peerlane/1/room/other' : TOPIC), what).toBeUndefined()
    // a genuine message of another room, served for this one
    expect(await verifySigned(RPC.Message.encode(genuine), 'peerlane/1/room/other')).toBeUndefined()
  })
})
