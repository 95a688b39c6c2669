// latency: room message one-way latency between two Chromium pages over direct WebRTC, next to a raw
// RTCDataChannel ping/pong; and the same room through the relay, with WebRTC off.
import { call, log, row, sample, withLinkedPeers, withRawPair, withRelayedPeers } from '../shared.ts'
import type { Context } from '../shared.ts'
import type { Figure } from '../stats.ts'

const MESSAGE_SIZE = 64

export async function latency (ctx: Context): Promise<Figure[]> {
  const env = await ctx.env()
  log('room latency')
  const { messages } = env.options
  const peerlane = row('Peerlane room.send → message event', 'subject')
  const raw = row('raw RTCDataChannel send → message event')
  const relayed = row('Peerlane through the relay (no WebRTC)', 'related')
  const rounds = Math.max(2, Math.ceil(env.options.runs / 2))
  const figure: Figure = {
    id: 'latency',
    title: `room message one-way latency, ${MESSAGE_SIZE}-byte text, Chromium ↔ Chromium over direct WebRTC (round trip / 2)`,
    unit: 'ms',
    better: 'lower',
    rows: [peerlane, raw, relayed],
    targets: [
      { kind: 'median', value: 1, text: '≤ 1 ms median' },
      { kind: 'ratio', baseline: raw.name, value: 1.5, text: '≤ 1.5× raw (medians)' }
    ],
    notes: [`${rounds} rounds (each a fresh pair of peers) of ${messages} sequential messages, after 5 warm-up messages; n counts messages`,
      'steady state: measured once the relay stands by (neither peer sends it the room\'s messages, README › Rooms › Relays on standby)']
  }
  for (let round = 0; round < rounds; round++) {
    await withLinkedPeers(env, async (pa, pb, a, b) => {
      await Promise.all([call(pa, 'peerlaneJoin', { room: 'bench', echo: false }), call(pb, 'peerlaneJoin', { room: 'bench', echo: true })])
      await Promise.all([call(pa, 'peerlaneWaitForMember', { peerId: b }), call(pb, 'peerlaneWaitForMember', { peerId: a })])
      const relay = env.relay.address.split('/p2p/').pop()
      await Promise.all([pa, pb].map(async p => await call(p, 'peerlaneWaitForStandby', { relay })))
      await call(pa, 'peerlaneRoomLatency', { count: 5, size: MESSAGE_SIZE }).catch(() => {})
      await sample(peerlane, async () => await call(pa, 'peerlaneRoomLatency', { count: messages, size: MESSAGE_SIZE }, 120_000))
    }).catch(err => { peerlane.failures++; log(`latency round failed: ${err.message}`) })
    await withRawPair(env, async (_pa, pb) => {
      await call(pb, 'rawLatency', { count: 5, size: MESSAGE_SIZE }).catch(() => {})
      await sample(raw, async () => await call(pb, 'rawLatency', { count: messages, size: MESSAGE_SIZE }, 120_000))
    }).catch(err => { raw.failures++; log(`raw latency round failed: ${err.message}`) })
    await withRelayedPeers(env, async (pa, pb, a, b) => {
      await Promise.all([call(pa, 'peerlaneJoin', { room: 'bench', echo: false }), call(pb, 'peerlaneJoin', { room: 'bench', echo: true })])
      await Promise.all([call(pa, 'peerlaneWaitForMember', { peerId: b }), call(pb, 'peerlaneWaitForMember', { peerId: a })])
      await call(pa, 'peerlaneRoomLatency', { count: 5, size: MESSAGE_SIZE }).catch(() => {})
      await sample(relayed, async () => await call(pa, 'peerlaneRoomLatency', { count: messages, size: MESSAGE_SIZE }, 120_000))
    }).catch(err => { relayed.failures++; log(`relayed latency round failed: ${err.message}`) })
  }
  return [figure]
}
