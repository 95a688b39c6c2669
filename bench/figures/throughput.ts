// throughput: --bytes in --chunk writes from one Chromium page to another over their direct WebRTC link, through
// peer.openStream and through a libp2p stream on the same link, next to a raw RTCDataChannel.
import { call, log, row, sample, withLinkedPeers, withRawPair } from '../shared.ts'
import type { Context } from '../shared.ts'
import type { Figure } from '../stats.ts'

export async function throughput (ctx: Context): Promise<Figure[]> {
  const env = await ctx.env()
  log('stream throughput')
  const total = env.options.bytes
  const chunk = env.options.chunk
  const mib = total / (1024 * 1024)
  const toMiBs = (ms: number): number => mib / (ms / 1000)
  const peerlane = row('Peerlane peer.openStream (web streams)', 'subject')
  const libp2p = row('libp2p stream on Peerlane\'s WebRTC link (peer.libp2p)')
  const raw = row(`raw RTCDataChannel, ${chunk / 1024} KiB messages`)
  const figure: Figure = {
    id: 'throughput',
    title: `stream throughput: ${mib} MiB in ${chunk / 1024} KiB writes, Chromium → Chromium over direct WebRTC`,
    unit: 'MiB/s',
    better: 'higher',
    rows: [peerlane, libp2p, raw],
    targets: [{ kind: 'ratio', baseline: raw.name, value: 0.8, text: '≥ 80% of raw (medians)' }],
    notes: ['timed from the first write until the receiver acknowledges the last byte']
  }
  const rounds = Math.max(2, Math.ceil(env.options.runs / 2))
  for (let round = 0; round < rounds; round++) {
    await withLinkedPeers(env, async (pa, pb, a) => {
      await call(pa, 'peerlaneHandleSink', { expect: total })
      await call(pa, 'peerlaneHandleStreamSink', { expect: total })
      await sample(peerlane, async () => toMiBs((await call(pb, 'peerlaneStream', { peerId: a, total, chunk }, 120_000)).ms))
      await sample(peerlane, async () => toMiBs((await call(pb, 'peerlaneStream', { peerId: a, total, chunk }, 120_000)).ms))
      await sample(libp2p, async () => toMiBs((await call(pb, 'peerlaneLibp2pStream', { peerId: a, total, chunk }, 120_000)).ms))
      await sample(libp2p, async () => toMiBs((await call(pb, 'peerlaneLibp2pStream', { peerId: a, total, chunk }, 120_000)).ms))
    }).catch(err => { libp2p.failures++; log(`stream round failed: ${err.message}`) })
    await withRawPair(env, async (_pa, pb) => {
      await sample(raw, async () => toMiBs((await call(pb, 'rawThroughput', { total, chunk }, 120_000)).ms))
      await sample(raw, async () => toMiBs((await call(pb, 'rawThroughput', { total, chunk }, 120_000)).ms))
    }).catch(err => { raw.failures++; log(`raw throughput round failed: ${err.message}`) })
  }
  return [figure]
}
