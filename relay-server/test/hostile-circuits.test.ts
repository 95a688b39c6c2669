// Circuit floods at a relay process: one peer or one IP holding every circuit a target can take, or one
// peer holding circuits to everyone. Each attacker gets its cap and no more; honest circuits still go through.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { attackedRelay, client, dialCircuit, fulfilled, stopAll } from './hostile-clients.ts'
import { asAttacker } from './hostile.ts'
import type { AttackedRelay } from './hostile-clients.ts'
import type { Libp2p } from '@libp2p/interface'

const PER_PEER = 4
const PER_TARGET = 6
const PER_TARGET_PER_IP = 3

describe('circuits per peer and per target', () => {
  let relay: AttackedRelay
  let baseline: number
  const nodes: Libp2p[] = []
  const track = <T extends Libp2p>(node: T): T => { nodes.push(node); return node }
  // a reserved peer that accepts every relayed connection it is offered (the relay's limits are tested here, not its own)
  const target = async (from?: string): Promise<Libp2p> => track(await asAttacker(async () => await client(relay.address, { reserve: true, inbound: 100 }), from ?? '127.0.0.1'))
  const attackers = async (from: string, n: number): Promise<Libp2p[]> => await asAttacker(async () => await Promise.all(Array.from({ length: n }, async () => track(await client(relay.address)))), from)

  beforeAll(async () => {
    relay = await attackedRelay(['--max-circuits-per-peer', String(PER_PEER), '--max-circuits-per-target', String(PER_TARGET),
      '--max-circuits-per-target-per-ip', String(PER_TARGET_PER_IP)])
    baseline = await relay.rss()
  }, 30_000)
  afterEach(async () => { await stopAll(nodes.splice(0)) })
  afterAll(async () => { await relay?.stop() })

  it('gives one IP at most max-circuits-per-target-per-ip circuits to a peer, while an honest peer still gets one', async () => {
    const victim = await target()
    const flood = await attackers('127.0.0.2', 2 * PER_TARGET_PER_IP)
    const results = await Promise.allSettled(flood.map(async a => await dialCircuit(a, relay.address, victim)))
    expect(fulfilled(results)).toBe(PER_TARGET_PER_IP)
    expect(await relay.metric('peerlane_relay_circuits_refused_total{reason="per_target_per_ip"}')).toBe(PER_TARGET_PER_IP)

    const honest = track(await client(relay.address))
    const circuit = await dialCircuit(honest, relay.address, victim)
    expect(circuit.remotePeer.equals(victim.peerId)).toBe(true)
    // the attackers' circuits are all still open: the honest one got in beside them, not in their place
    expect(flood.filter(a => a.getConnections(victim.peerId).length > 0)).toHaveLength(PER_TARGET_PER_IP)
    expect((await relay.rss()) - baseline).toBeLessThan(100 * 1024 * 1024)
  }, 60_000)

  it('gives one peer at most max-circuits-per-peer circuits, whatever their targets; its last target is still reachable', async () => {
    const targets = await Promise.all(Array.from({ length: PER_PEER + 1 }, async () => await target('127.0.0.3')))
    const [attacker] = await attackers('127.0.0.2', 1)
    const results = []
    for (const t of targets) results.push(await Promise.allSettled([dialCircuit(attacker, relay.address, t)]).then(r => r[0]))
    expect(fulfilled(results)).toBe(PER_PEER)
    expect(results.at(-1)?.status).toBe('rejected')
    expect(await relay.metric('peerlane_relay_circuits_refused_total{reason="per_peer"}')).toBe(1)

    const honest = track(await client(relay.address))
    expect((await dialCircuit(honest, relay.address, targets[PER_PEER])).remotePeer.equals(targets[PER_PEER].peerId)).toBe(true)
  }, 60_000)

  it('gives a peer at most max-circuits-per-target circuits from all sources, and frees one when a circuit closes', async () => {
    const victim = await target()
    const first = await attackers('127.0.0.4', PER_TARGET_PER_IP)
    const second = await attackers('127.0.0.5', PER_TARGET_PER_IP)
    const circuits = await Promise.all([...first, ...second].map(async a => await dialCircuit(a, relay.address, victim)))
    expect(circuits).toHaveLength(PER_TARGET)
    const [late] = await attackers('127.0.0.6', 1)
    await expect(dialCircuit(late, relay.address, victim)).rejects.toThrow()
    expect(await relay.metric('peerlane_relay_circuits_refused_total{reason="per_target"}')).toBe(1)

    await circuits[0].close()
    const honest = track(await client(relay.address))
    await expect.poll(async () => await dialCircuit(honest, relay.address, victim).then(() => true, () => false), { timeout: 10_000 }).toBe(true)
    console.log(`circuits: relay RSS ${(baseline / 1e6).toFixed(1)} MB at start, ${((await relay.rss()) / 1e6).toFixed(1)} MB after three floods`)
  }, 60_000)
})
