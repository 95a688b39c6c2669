// heal: a direct link under a room is killed (its RTCPeerConnection closed under libp2p, as a network change
// or an ICE failure would): ms until a direct WebRTC link to the same member is open again.
import { call, log, row, sample, withLinkedPeers } from '../shared.ts'
import type { Context } from '../shared.ts'
import type { Figure } from '../stats.ts'

export async function heal (ctx: Context): Promise<Figure[]> {
  const env = await ctx.env()
  log('heal')
  const healed = row('Peerlane: RTCPeerConnection closed → direct link again', 'subject')
  const figure: Figure = {
    id: 'heal',
    title: 'heal: a killed direct link between two room members (Chromium, default settings), until it is back',
    unit: 'ms',
    better: 'lower',
    rows: [healed],
    targets: [{ kind: 'median', value: 3000, text: '≤ 3 s median' }],
    notes: ['the page with the lower PeerId redials at once; the other waits (MESH_DEFAULTS.followerDelayMs) unless the first does not']
  }
  for (let i = 0; i < env.options.runs; i++) {
    await withLinkedPeers(env, async (pa, pb, a, b) => {
      await Promise.all([call(pa, 'peerlaneJoin', { room: 'bench', echo: false }), call(pb, 'peerlaneJoin', { room: 'bench', echo: false })])
      await Promise.all([call(pa, 'peerlaneWaitForMember', { peerId: b }), call(pb, 'peerlaneWaitForMember', { peerId: a })])
      // alternate which side sees its link die: the lower PeerId heals at once, the higher after the follower delay
      const [page, other] = i % 2 === 0 ? [pa, b] : [pb, a]
      await sample(healed, async () => (await call(page, 'peerlaneHeal', { peerId: other }, 40_000)).ms)
    }).catch(err => { healed.failures++; log(`heal round failed: ${err.message}`) })
  }
  return [figure]
}
