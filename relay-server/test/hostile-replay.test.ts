// Replays through a real relay process: a recorded room message published again after the relay's seen
// cache forgot it is outside its replay window, and the relay does not forward it (`--replay-window` and
// `--seen-ttl` short here). An observer without any check of its own counts what the relay forwards.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { RPC } from '@libp2p/gossipsub/message'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { messageEnvelope, presenceEnvelope, roomTopic } from '../../src/envelope.ts'
import { encodeSigned } from '../../src/history-wire.ts'
import { RoomEnvelope } from '../../src/pb/room.ts'
import { createPeer } from '../../src/index.ts'
import { stockNode, until } from '../../src/test/rooms.ts'
import { listening, runRelay } from './relay-process.ts'
import type { Message } from '@libp2p/gossipsub'
import type { ChildProcess } from 'node:child_process'

const WINDOW = 1_500
const SEEN_TTL = 3_000
const TOPIC = roomTopic('replayed')

describe('a relay process and replayed room messages', () => {
  let dir: string
  let child: ChildProcess
  let address: string
  let http: string

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'peerlane-replay-'))
    const addrFile = join(dir, 'addrs.json')
    const relay = runRelay(['--port', '0', '--http-port', '0', '--key-file', join(dir, 'k'), '--addr-file', addrFile, '--replay-window', String(WINDOW), '--seen-ttl', String(SEEN_TTL)])
    child = relay.child
    const started = await listening(relay, addrFile)
    address = started.addrs[0]
    http = started.http
  }, 30_000)

  afterAll(async () => {
    child?.kill('SIGKILL')
    await rm(dir, { recursive: true, force: true })
  })

  const stale = async (): Promise<number> => {
    const text = await (await fetch(`${http}/metrics`)).text()
    return Number(/peerlane_relay_room_messages_stale_total (\d+)/.exec(text)?.[1] ?? 0)
  }

  it('drops LEAVE, HERE and chat messages replayed after its window; forwards fresh ones', async () => {
    const relayId = address.split('/p2p/')[1]
    // a member holding a reservation: the relay carries a room for such members only
    const member = await createPeer({ relays: [address], identity: 'memory', maxDirectPeers: 0 })
    await member.join('replayed', { history: false })
    // the author, an observer that checks nothing (and forgets fast), and an attacker that records
    const author = await stockNode(address)
    const observer = await stockNode(address, { seenTTL: 500 })
    const attacker = await stockNode(address, { seenTTL: 500 })
    // what the author sent (the member's beacons left out)
    const byAuthor = (msg: Message): boolean => msg.topic === TOPIC && msg.type === 'signed' && msg.from.equals(author.node.peerId)
    const seen: string[] = []
    observer.pubsub.addEventListener('message', (e: CustomEvent<Message>) => { if (byAuthor(e.detail)) seen.push(RoomEnvelope.decode(e.detail.data).id) })
    const recorded: RPC.Message[] = []
    attacker.pubsub.addEventListener('message', (e: CustomEvent<Message>) => {
      if (byAuthor(e.detail) && e.detail.type === 'signed') recorded.push(RPC.Message.decode(encodeSigned(e.detail)))
    })
    for (const node of [author, observer, attacker]) node.pubsub.subscribe(TOPIC)
    await until(() => [author, observer, attacker].every(n => n.pubsub.getSubscribers(TOPIC).length > 0), 'the relay to carry the room')

    const envelopes = [messageEnvelope('hello'), presenceEnvelope(RoomEnvelope.Presence.HERE), presenceEnvelope(RoomEnvelope.Presence.LEAVE)]
    for (const env of envelopes) await author.pubsub.publish(TOPIC, RoomEnvelope.encode(env))
    await until(() => seen.length === 3 && recorded.length === 3, 'the observer and the attacker to get all three')
    expect(seen).toEqual(envelopes.map(e => e.id))

    // after the relay's seen cache forgot them (and so did the observer's): published again, exactly as signed
    await new Promise(resolve => setTimeout(resolve, SEEN_TTL + 1_500))
    const before = await stale()
    expect(attacker.send(relayId, recorded)).toBe(true)
    // a fresh message after them shows the path is open: when it arrives, the replays would have too
    const fresh = messageEnvelope('fresh')
    await author.pubsub.publish(TOPIC, RoomEnvelope.encode(fresh))
    await until(() => seen.includes(fresh.id), 'the fresh message')
    expect(seen).toEqual([...envelopes.map(e => e.id), fresh.id])
    await until(async () => await stale() >= before + 3, 'the relay to count the three replays', 10_000)
    await member.stop()
  }, 60_000)
})
