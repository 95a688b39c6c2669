// distance: ready and connect with the relay a round-trip time D away (bench/delay-proxy.ts in front of the relay
// and of the raw baseline's signalling server), at D = 0 and D = DELAY ms, next to the stock js-libp2p and raw
// WebRTC baselines; and the relay round trips on each critical path, counted from the wire at D = DELAY.
import { describeLevels, levels, roundTrips, startDelayProxy, untilIdle } from '../delay-proxy.ts'
import { call, closePages, log, openPage, row, withReadyPages } from '../shared.ts'
import type { DelayProxy } from '../delay-proxy.ts'
import type { Context, Env } from '../shared.ts'
import type { Figure, Row } from '../stats.ts'
import type { Page } from '@playwright/test'

/** The round-trip time of the far setting, ms */
export const DELAY = 40
const DISTANCES = [0, DELAY]

/** What one timed call returns: ms, and its [start, end] in epoch ms */
interface Timed { ms: number, at: [number, number] }

/** One subject of the figure at both distances: ms at each, and the round trips counted at D = DELAY */
interface Subject { ms: Record<number, Row>, trips: Row }

function subject (name: string, role: Row['role']): Subject {
  return { ms: Object.fromEntries(DISTANCES.map(d => [d, row(`${name}, D = ${d} ms`, d === 0 ? role : 'related')])), trips: row(name, role) }
}

export async function distance (ctx: Context): Promise<Figure[]> {
  const env = await ctx.env()
  log('distance')
  const relayPort = Number(/\/tcp\/(\d+)\//.exec(env.relay.address)?.[1])
  const signallingPort = Number(new URL(env.signallingUrl).port)
  const relayProxy = await startDelayProxy({ host: '127.0.0.1', port: relayPort, rttMs: 0 })
  const signallingProxy = await startDelayProxy({ host: '127.0.0.1', port: signallingPort, rttMs: 0 })
  const far: Env = {
    ...env,
    relay: Object.assign(Object.create(Object.getPrototypeOf(env.relay)), env.relay, { address: env.relay.address.replace(`/tcp/${relayPort}/`, `/tcp/${relayProxy.port}/`) }),
    signallingUrl: `ws://127.0.0.1:${signallingProxy.port}`
  }
  const setDistance = (d: number): void => { relayProxy.rttMs = d; signallingProxy.rttMs = d }

  const ready = { peerlane: subject('Peerlane createPeer', 'subject'), stock: subject('stock js-libp2p (transport:listening)', 'baseline') }
  const connect = {
    peerlane: subject('Peerlane connect(peerId, { allowRelayed: false }) → direct', 'subject'),
    stock: subject('stock js-libp2p dial …/p2p-circuit/webrtc', 'baseline'),
    raw: subject('raw RTCPeerConnection, WebSocket signalling', 'baseline'),
    usable: subject('Peerlane connect(peerId) → usable (relayed)', 'related')
  }

  /** Records a timed call's ms at distance `d`, and at D = DELAY its round trips through `proxies` */
  const record = (s: Subject, d: number, proxies: DelayProxy[], result: Timed): void => {
    s.ms[d].samples.push(result.ms)
    if (d !== DELAY) return
    const flights = proxies.flatMap(p => p.flights())
    s.trips.samples.push(roundTrips(flights, result.at[0], result.at[1], 3 * DELAY).roundTrips)
    // PEERLANE_BENCH_LEVELS=1: what crossed the proxy, level by level (where the round trips go)
    if (process.env.PEERLANE_BENCH_LEVELS != null) log(`${s.trips.name}:\n${describeLevels(untilIdle(levels(flights, result.at[0], result.at[1]), 3 * DELAY))}`)
  }
  const failed = (s: Subject, d: number, err: any): void => {
    s.ms[d].failures++
    if (d === DELAY) s.trips.failures++
    log(`${s.trips.name}, D = ${d}: run failed: ${String(err?.message ?? err).split('\n')[0]}`)
  }

  const readyOnce = async (d: number, bundle: 'peerlane' | 'stock', sampled: boolean): Promise<void> => {
    const s = ready[bundle]
    const page = await openPage(far, env.browsers.chromiumA, bundle)
    try {
      relayProxy.clear()
      const result = await call<Timed>(page, `${bundle}Ready`, { relay: far.relay.address, on: 'transport:listening' })
      if (sampled) record(s, d, [relayProxy], result)
      await call(page, `${bundle}Stop`, {}, 10_000).catch(() => {})
    } catch (err) {
      if (sampled) failed(s, d, err)
    } finally {
      await closePages(page)
    }
  }

  const connectOnce = async (d: number, which: keyof typeof connect, sampled: boolean): Promise<void> => {
    const s = connect[which]
    try {
      if (which === 'raw') { await rawOnce(far, relayProxy, signallingProxy, d, s, sampled, record); return }
      const bundle = which === 'stock' ? 'stock' : 'peerlane'
      await withReadyPages(far, bundle, async (pa, pb, a) => {
        await new Promise(resolve => setTimeout(resolve, 4 * DELAY)) // start-up traffic (identify, pushes) settles
        relayProxy.clear()
        const name = which === 'usable' ? 'peerlaneConnectUsable' : `${bundle}Connect`
        const result = await call<Timed>(pb, name, { relay: far.relay.address, peerId: a })
        if (sampled) record(s, d, [relayProxy], result)
        void pa
      }, { on: 'transport:listening' })
    } catch (err) {
      if (sampled) failed(s, d, err)
    }
  }

  try {
    for (const d of DISTANCES) {
      setDistance(d)
      log(`distance: D = ${d} ms`)
      // one warm-up of each, then interleaved runs
      for (const bundle of ['peerlane', 'stock'] as const) await readyOnce(d, bundle, false)
      for (const which of Object.keys(connect) as Array<keyof typeof connect>) await connectOnce(d, which, false)
      for (let i = 0; i < env.options.runs; i++) {
        const order = [
          async () => readyOnce(d, 'peerlane', true), async () => readyOnce(d, 'stock', true),
          ...(Object.keys(connect) as Array<keyof typeof connect>).map(which => async () => connectOnce(d, which, true))
        ]
        for (let j = 0; j < order.length; j++) await order[(i + j) % order.length]()
      }
    }
  } finally {
    await relayProxy.close()
    await signallingProxy.close()
  }
  return figures(ready, connect)
}

/** The raw pair through the proxied signalling server: the answering page listens, the other offers */
async function rawOnce (env: Env, relayProxy: DelayProxy, signallingProxy: DelayProxy, d: number, s: Subject, sampled: boolean,
  record: (s: Subject, d: number, proxies: DelayProxy[], result: Timed) => void): Promise<void> {
  const pages: Page[] = await Promise.all([openPage(env, env.browsers.chromiumA, 'none'), openPage(env, env.browsers.chromiumB, 'none')])
  const a = `a-${Math.random().toString(16).slice(2)}`
  try {
    await call(pages[0], 'rawListen', { signalling: env.signallingUrl, id: a })
    await new Promise(resolve => setTimeout(resolve, 2 * DELAY))
    signallingProxy.clear()
    relayProxy.clear()
    const result = await call<Timed>(pages[1], 'rawConnect', { signalling: env.signallingUrl, id: `b-${a}`, target: a })
    if (sampled) record(s, d, [signallingProxy], result)
    await Promise.all(pages.map(async p => call(p, 'rawClose', {}, 10_000).catch(() => {})))
  } finally {
    await closePages(...pages)
  }
}

/** Growth from D = 0 to D = DELAY, in units of D (medians): one derived sample */
function growth (s: Subject): Row {
  const median = (r: Row): number => [...r.samples].sort((x, y) => x - y)[Math.floor(r.samples.length / 2)] ?? NaN
  const g = (median(s.ms[DELAY]) - median(s.ms[0])) / DELAY
  return { ...row(`${s.trips.name}: (ms at D = ${DELAY} − ms at D = 0) / D`, 'related'), samples: Number.isFinite(g) ? [g] : [] }
}

function figures (ready: Record<string, Subject>, connect: Record<string, Subject>): Figure[] {
  const note = `D = the round-trip time between each page and the relay (a delay proxy, ${DELAY / 2} ms each way); a message from one page to the other through the relay costs D`
  const tripsNote = 'relay round trips: sequential half trips through the proxy / 2, counted from the wire (bench/delay-proxy.ts), up to the first pause of 3 D (ICE and DTLS go around the relay); the relay\'s STUN (UDP) is not behind the proxy, so gathering a server-reflexive candidate costs nothing here'
  return [
    {
      id: 'distance.ready',
      title: 'distance, ready: createPeer → reservation in Chromium, the relay D away',
      unit: 'ms',
      better: 'lower',
      rows: [...Object.values(ready).flatMap(s => DISTANCES.map(d => s.ms[d]))],
      targets: [{ kind: 'median', value: 150, text: '≤ 150 ms median at D = 0' }],
      notes: [note]
    },
    {
      id: 'distance.ready.trips',
      title: `distance, ready: relay round trips on createPeer's critical path (D = ${DELAY} ms)`,
      unit: 'D',
      better: 'lower',
      rows: [...Object.values(ready).map(s => s.trips), ...Object.values(ready).map(growth)],
      targets: [{ kind: 'median', value: 3, text: '≤ 3 D' }],
      notes: [tripsNote, 'the floor: WebSocket upgrade (1), Noise XX (1.5) with the reservation request in its last message (0.5)']
    },
    {
      id: 'distance.connect',
      title: 'distance, connect: → direct WebRTC between two Chromium processes, the relay D away',
      unit: 'ms',
      better: 'lower',
      rows: [...Object.values(connect).flatMap(s => DISTANCES.map(d => s.ms[d]))],
      notes: [note]
    },
    {
      id: 'distance.connect.trips',
      title: `distance, connect: relay round trips on the critical path (D = ${DELAY} ms)`,
      unit: 'D',
      better: 'lower',
      rows: [...Object.values(connect).map(s => s.trips), ...Object.values(connect).map(growth)],
      targets: [{ kind: 'median', value: 3, text: '≤ 3 D (connect → direct)' }],
      notes: [tripsNote]
    }
  ]
}
