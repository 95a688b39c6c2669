// connect: peer.connect(peerId) → direct WebRTC between two Chromium processes, next to the stock js-libp2p dial
// and a raw RTCPeerConnection pair; and the stock dial's phases (connect.phases), from libp2p's progress events.
import { addPhases, call, log, row, warmUpOrSample, withRawPages, withReadyPages } from '../shared.ts'
import type { Context } from '../shared.ts'
import type { Figure, Row } from '../stats.ts'

export async function connect (ctx: Context): Promise<Figure[]> {
  const env = await ctx.env()
  log('connect')
  const peerlane = row('Peerlane peer.connect(peerId)', 'subject')
  const stock = row('stock js-libp2p dial …/p2p-circuit/webrtc')
  const raw = row('raw RTCPeerConnection, WebSocket signalling')
  const figure: Figure = {
    id: 'connect',
    title: 'connect: → direct WebRTC between two Chromium processes',
    unit: 'ms',
    better: 'lower',
    rows: [peerlane, stock, raw],
    targets: [
      { kind: 'median', value: 120, text: '≤ 120 ms median' },
      { kind: 'ratio', baseline: raw.name, value: 1.3, text: '≤ 1.3× raw (medians)' }
    ]
  }
  const phases: Figure = {
    id: 'connect.phases',
    title: 'connect, phases: stock js-libp2p WebRTC dial, ms from the start at which each step began (libp2p progress events)',
    unit: 'ms',
    better: 'lower',
    breakdown: true,
    rows: [],
    notes: ['webrtc:dial-relay → webrtc:open-signaling-stream is the relayed connection (HOP/STOP, Noise, Yamux over the circuit); from there SDP and ICE go over it']
  }
  // connect() as apps call it: usable once the relayed circuit is up, direct once WebRTC is (in the background)
  const usable = row('Peerlane peer.connect(peerId) → usable (resolves, and a request right after it is answered)', 'subject')
  const direct = row('Peerlane peer.connect(peerId) → direct (connection:direct)', 'subject')
  const usableFigure: Figure = {
    id: 'connect.usable',
    title: 'connect (default, relayed first): → usable and → direct, two default-settings Chromium, the relay\'s STUN',
    unit: 'ms',
    better: 'lower',
    rows: [usable, direct],
    targets: [
      { kind: 'median', row: usable.name, value: 1000, text: 'usable ≤ 1 s median' },
      { kind: 'median', row: direct.name, value: 1000, text: 'direct ≤ 1 s median' }
    ]
  }
  const usableOnce = async (sampled: boolean): Promise<void> => {
    await withReadyPages(env, 'peerlane', async (_pa, pb, a) => {
      const result = await call(pb, 'peerlaneConnectUsable', { peerId: a }).catch((err: Error) => { if (sampled) { usable.failures++; direct.failures++ } log(`connect.usable failed: ${err.message}`) })
      if (sampled && result != null) { usable.samples.push(result.ms); direct.samples.push(result.direct) }
    }, { on: 'transport:listening' })
  }
  const libp2p = async (subject: Row | undefined, bundle: 'peerlane' | 'stock'): Promise<void> => {
    await withReadyPages(env, bundle, async (_pa, pb, a) => {
      await warmUpOrSample(subject, async () => {
        const result = await call(pb, `${bundle}Connect`, { relay: env.relay.address, peerId: a })
        if (subject != null && result.phases != null) addPhases(phases, result.phases)
        return result.ms
      })
    }, { on: 'transport:listening' })
  }
  const rawOnce = async (subject: Row | undefined): Promise<void> => {
    await withRawPages(env, async (_pa, _pb, rawConnect) => { await warmUpOrSample(subject, rawConnect) })
  }
  await libp2p(undefined, 'peerlane')
  await libp2p(undefined, 'stock')
  await rawOnce(undefined)
  await usableOnce(false)
  for (let i = 0; i < env.options.runs; i++) {
    const order = [async () => libp2p(peerlane, 'peerlane'), async () => libp2p(stock, 'stock'), async () => rawOnce(raw), async () => usableOnce(true)]
    for (let j = 0; j < order.length; j++) await order[(i + j) % order.length]()
  }
  return [figure, phases, usableFigure]
}
