// NAT traversal scenarios for real browsers in the NAT lab (lab.ts), shared by nat.spec.ts (`npm test`: each
// scenario once per browser pair) and its on-demand runner (`npm run test:nat -- --tries N`, nat-run.js: N tries
// of each, and a table): the browser pairs, the groups of hosts (one lab each), and what each scenario expects.
import { SETTLE_WAIT_MS } from './env.ts'
import { connected } from './result.ts'
import type { BrowserKind } from './browser.ts'
import type { HostOptions } from './network.ts'
import type { LinkStats, TryResult } from './result.ts'

/** Two browsers: `a` runs on the scenario's host a and dials, `b` on host b */
export interface Pair { name: string, a: BrowserKind, b: BrowserKind }

/** In this order each pair keeps one browser of the one before (NatEnv keeps only the current pair's) */
export const PAIRS: Pair[] = [
  { name: 'Chromium↔Chromium', a: 'chromium', b: 'chromium' },
  { name: 'Firefox↔Chromium', a: 'firefox', b: 'chromium' },
  { name: 'Firefox↔Firefox', a: 'firefox', b: 'firefox' }
]

export interface Group {
  name: string
  hosts: Record<string, HostOptions>
  /** coturn (started from the shipped turnserver.conf) on 3478, and the relay hands out TURN over UDP and TCP */
  turn: boolean
}

// The routers are home routers: their input firewall drops unsolicited packets (HostOptions.unsolicited). Without
// it (the lab's default), two cone NATs never link directly: ICE's first check from each side reaches the other
// router before that router's host has sent anything there; the router's own stack takes it and conntrack keeps
// an entry whose reply tuple is the very mapping the host's own checks would get, so these leave on another
// port, which the first side's router (filtering by address and port) drops. Measured in the routers' conntrack
// tables (PEERLANE_NAT_CONNTRACK=1 prints them): both sides remapped, in all three attempts. The 'labcone' hosts
// keep that default, for scenario 1b.
const cone = { nat: 'cone', unsolicited: 'drop' } as const
const symmetric = { nat: 'symmetric', unsolicited: 'drop' } as const
const blocked = { nat: 'block-udp', unsolicited: 'drop' } as const

export const GROUPS = {
  /** the relay advertises coturn's STUN and TURN over UDP and TCP, as relay-server/deploy/compose.yaml runs them */
  turn: {
    name: 'relay with coturn (STUN, TURN over UDP and TCP)',
    turn: true,
    hosts: { cone1: cone, cone2: cone, labcone1: { nat: 'cone' }, labcone2: { nat: 'cone' }, sym1: symmetric, sym2: symmetric, blocked }
  },
  /** the relay's own STUN server only */
  stun: {
    name: 'relay with its own STUN, no TURN',
    turn: false,
    hosts: { cone1: cone, cone2: cone, blocked, office1: { ...cone, lan: 'office' }, office2: { ...cone, lan: 'office' } }
  }
} satisfies Record<string, Group>

export interface Scenario {
  id: string
  title: string
  group: keyof typeof GROUPS
  a: string
  b: string
  /** createPeer options of both peers */
  peer?: Record<string, unknown>
  /** a direct link is expected: wait for it (the SDK retries); otherwise for A's first attempt to fail, and the links to settle */
  direct: boolean
  /** the expected path, for the table */
  expected: string
  /** how `r` differs from the expected path (empty: it took it) */
  problems: (r: TryResult) => string[]
}

/** The link on both sides must be `route` and pass `more`; and usable both ways */
function routeIs (r: TryResult, route: string, more: (s: LinkStats, side: 'a' | 'b') => string[] = () => []): string[] {
  if (r.error != null) return [r.error]
  const out: string[] = []
  for (const side of ['a', 'b'] as const) {
    const s = r[side]?.stats
    if (s?.route !== route) out.push(`${side}: route ${s?.route ?? 'none'}, not ${route}`)
    else out.push(...more(s, side).map(p => `${side}: ${p}`))
    if (r[side]?.request !== true) out.push(`${side}: no request over the link: ${r[side]?.request}`)
  }
  return out
}

/** A direct link: connect() resolved over the relayed circuit first (usable at once), then WebRTC connected on A */
function directProblems (r: TryResult): string[] {
  const out: string[] = []
  if (r.connect?.transport !== 'relay') out.push(`connect() gave ${r.connect?.transport}, not relay`)
  if (r.request !== true) out.push(`no request after connect(): ${r.request}`)
  if (r.directMs == null) out.push('no WebRTC link came up')
  return out
}

const SRFLX = ['srflx', 'prflx']
/** both candidates NAT-mapped ones (STUN's srflx, or a peer-reflexive one a check came from), over UDP */
const viaMappings = (s: LinkStats): string[] => [
  ...(SRFLX.includes(s.local ?? '') && SRFLX.includes(s.remote ?? '') ? [] : [`pair ${s.local}/${s.remote}`]),
  ...(s.protocol === 'udp' ? [] : [`protocol ${s.protocol}`])
]

/**
 * The relayed circuit: connect() resolved with it while no WebRTC attempt had finished yet (so before one could
 * have), it carries requests both ways, A's WebRTC attempt failed and, once the links settled, the circuit is
 * each side's link
 */
function relayedProblems (r: TryResult): string[] {
  if (r.error != null) return [r.error]
  const out = routeIs(r, 'relayed')
  if (r.connect?.transport !== 'relay') out.push(`connect() gave ${r.connect?.transport}, not relay`)
  if (r.finishedAtConnect !== 0) out.push(`${r.finishedAtConnect} WebRTC attempt(s) had finished when connect() resolved`)
  if (r.request !== true) out.push(`no request over the relayed link: ${r.request}`)
  if (connected(r.a) || connected(r.b)) out.push('a WebRTC link came up')
  if (!(r.a?.attempts ?? []).some(a => ['failed', 'closed'].includes(a.state))) out.push('no failed WebRTC attempt on a')
  if (r.settleMs == null) out.push(`WebRTC still open ${SETTLE_WAIT_MS / 1000} s after the attempt failed`)
  return out
}

export const SCENARIOS: Scenario[] = [
  {
    id: '1',
    title: 'both behind cone NATs: direct through the STUN mappings',
    group: 'turn',
    a: 'cone1',
    b: 'cone2',
    direct: true,
    expected: 'stun (srflx/srflx or prflx, udp)',
    problems: r => [...directProblems(r), ...routeIs(r, 'stun', viaMappings)]
  },
  {
    // the measured reason is above `cone`; TURN's permissions are per IP address, not per port, so the remapped
    // checks get through the relay, and the side behind the allocation sees them as peer-reflexive
    id: '1b',
    title: 'both behind the lab\'s plain cone NATs (their stack takes unsolicited packets): TURN',
    group: 'turn',
    a: 'labcone1',
    b: 'labcone2',
    direct: true,
    expected: 'turn',
    problems: r => [...directProblems(r), ...routeIs(r, 'turn')]
  },
  {
    // no direct link: A's check to B's STUN mapping leaves A's symmetric NAT from a new port, which B's router,
    // filtering by address and port, drops; B's check to the port A's NAT showed STUN is dropped by A's router
    id: '2',
    title: 'symmetric NAT and cone NAT: TURN',
    group: 'turn',
    a: 'sym1',
    b: 'cone2',
    direct: true,
    expected: 'turn',
    problems: r => [...directProblems(r), ...routeIs(r, 'turn')]
  },
  {
    id: '3',
    title: 'both behind symmetric NATs: TURN',
    group: 'turn',
    a: 'sym1',
    b: 'sym2',
    direct: true,
    expected: 'turn',
    problems: r => [...directProblems(r), ...routeIs(r, 'turn')]
  },
  {
    id: '4a',
    title: 'UDP blocked at one router: TURN over TCP',
    group: 'turn',
    a: 'blocked',
    b: 'cone2',
    direct: true,
    expected: 'turn (a: relay over tcp)',
    problems: r => [...directProblems(r), ...routeIs(r, 'turn', (s, side) =>
      side === 'a' && (s.local !== 'relay' || s.protocol !== 'tcp') ? [`pair ${s.local}/${s.remote} over ${s.protocol}, not relay over tcp`] : [])]
  },
  {
    id: '4b',
    title: 'UDP blocked at one router, no TURN: the relayed circuit, at once',
    group: 'stun',
    a: 'blocked',
    b: 'cone2',
    direct: false,
    expected: 'relayed',
    problems: relayedProblems
  },
  {
    // The hosts share one public address, and the router does not hairpin, so their STUN mappings cannot reach
    // each other: only the LAN path works. Each side's host candidate is a random .local name (mDNS
    // obfuscation); the browsers resolve each other's with their own mDNS client and responder, multicast over
    // the LAN bridge (Chromium: only because labChromiumArgs lets .local names through its resolver rules).
    // A side that gets the other's first check before its own lookup answers learns the address from that
    // check instead: a peer-reflexive remote candidate, which is still the LAN path (no other one exists here;
    // peer.stats() calls that pair route 'stun', as it counts every prflx pair as NAT traversal).
    id: '5',
    title: 'one LAN, no NAT between them: direct over the LAN, no TURN candidate',
    group: 'stun',
    a: 'office1',
    b: 'office2',
    direct: true,
    expected: 'host/host (or host/prflx)',
    problems: r => [...directProblems(r), ...(['a', 'b'] as const).flatMap(side => {
      const s = r[side]?.stats
      const ok = s?.transport === 'webrtc' && s.local === 'host' && ['host', 'prflx'].includes(s.remote ?? '') && s.protocol === 'udp'
      return [
        ...(ok ? [] : [`${side}: ${s?.transport} ${s?.local}/${s?.remote} ${s?.protocol}, not host/host or host/prflx over udp`]),
        ...(r[side]?.attempts.some(a => a.local.some(c => / typ relay /.test(c))) === true ? [`${side}: gathered a TURN candidate`] : []),
        ...(r[side]?.request === true ? [] : [`${side}: no request over the link: ${r[side]?.request}`])
      ]
    })]
  },
  {
    id: '6',
    title: 'no STUN, no TURN (relayIceServers: false): the relayed circuit, at once',
    group: 'stun',
    a: 'cone1',
    b: 'cone2',
    peer: { relayIceServers: false },
    direct: false,
    expected: 'relayed',
    problems: r => {
      const out = relayedProblems(r)
      const servers = [...(r.a?.attempts ?? []), ...(r.b?.attempts ?? [])].flatMap(a => a.servers)
      if (servers.length > 0) out.push(`ICE servers given with relayIceServers: false: ${servers.join(' ')}`)
      return out
    }
  }
]
