// NAT traversal scenarios for real browsers in the NAT lab (nat/lab.ts), shared by nat.spec.ts (`npm test`: each
// scenario once per browser pair) and its on-demand runner (`npm run test:nat -- --tries N`, nat-run.js: N tries
// of each, and a table).
//
// A scenario group is one lab: its hosts, each behind its own router unless they share a LAN; the relay (and
// coturn) in the public namespace; a static site inside each host on the host's own 127.0.0.1, so that every
// page is a secure context. Browsers run inside the hosts' namespaces, in their default settings (browsers.ts).
// A try opens a fresh context on each side, creates both peers on the relay, and A connects to B.
import { randomBytes } from 'node:crypto'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { chromium, firefox } from '@playwright/test'
import { CHROMIUM_ARGS, chromiumExecutable, firefoxExecutable, firefoxLaunchOptions } from './browsers.ts'
import { createLab } from './nat/lab.ts'
import { startPeer } from './peer-page.ts'
import { ROOT } from './support.ts'
import type { Lab } from './nat/lab.ts'
import type { HostOptions } from './nat/network.ts'
import type { Browser, BrowserContext, Page } from '@playwright/test'

export type BrowserKind = 'chromium' | 'firefox'

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

/** How long a try waits for a direct link (the SDK's background attempts retry after ~5 s and ~10 s) */
const DIRECT_WAIT_MS = 45_000
/** ... or, where none is expected, for A's first WebRTC attempt to fail (libp2p's dial timeout is 10 s) */
const ATTEMPT_WAIT_MS = 30_000
/** ... and then for that attempt's RTCPeerConnections to close (a dead connection, see spuriousDirect, lives until its streams time out) */
const SETTLE_WAIT_MS = 30_000
const RELAY_PORT = 9090
const COTURN_PORT = 3478
const RELAY_CLI = join(ROOT, 'relay-server/bin/peerlane-relay.js')
const ECHO = '/nat/echo/1.0.0'

/** peer.stats()'s entry (src/stats.ts LinkStats) */
export interface LinkStats {
  peerId: string
  transport: string
  route: string
  local?: string
  remote?: string
  protocol?: string
  rtt?: number
}

/** One RTCPeerConnection the page made: its states, ICE servers, candidates each way and, if connected, the chosen pair */
export interface Attempt {
  states: string[]
  state: string
  servers: string[]
  local: string[]
  remote: string[]
  pair?: { local: Candidate, remote: Candidate }
}

/** A candidate as getStats() shows it (Chromium shows no host or peer-reflexive address, Firefox a .local name or "(redacted)") */
export interface Candidate { type: string, address?: string, port?: number, protocol?: string, relayProtocol?: string }

/** What one side ended with */
export interface Side {
  peerId: string
  /** peer.stats(other) */
  stats?: LinkStats
  attempts: Attempt[]
  /** `connection:direct` events for the other peer */
  directEvents: number
  /** a request to the other peer over the link, once the try is over */
  request?: true | string
}

export interface TryResult {
  /** connect()'s answer */
  connect?: { peerId: string, direct: boolean, transport: string }
  /** connect() called → resolved; the link is usable then (a request over it follows) */
  connectMs?: number
  /** WebRTC attempts on A that had finished (connected, failed or closed) when connect() resolved */
  finishedAtConnect?: number
  /** the request from A over the link connect() gave, right after it resolved */
  request?: true | string
  /** connect() called → connection:direct on A, for a WebRTC link that did connect */
  directMs?: number
  /** where no direct link is expected: A's failed attempt → its RTCPeerConnections closed on both sides, no WebRTC connection left */
  settleMs?: number
  a?: Side
  b?: Side
  error?: string
}

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

/** Whether any of the side's WebRTC attempts connected */
function connected (side?: Side): boolean {
  return (side?.attempts ?? []).some(a => a.states.includes('connected'))
}

/**
 * `connection:direct` events for a WebRTC connection whose RTCPeerConnection never connected (a side whose
 * attempts all failed): @libp2p/webrtc's readCandidatesUntilConnected (private-to-private/util.js) returns
 * normally when ICE fails or the signalling stream is reset before the signal aborts, and libp2p upgrades the
 * dead RTCPeerConnection into an open connection, which lives until its first streams time out
 */
export function spuriousDirect (side?: Side): number {
  return connected(side) ? 0 : side?.directEvents ?? 0
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

/**
 * CHROMIUM_ARGS, with the lab's public address let through their `--host-resolver-rules=MAP * ~NOTFOUND`: the
 * rules map IP literals too, so without it the page could not open its WebSocket to ws://198.18.0.1 at all
 * (measured: fetch fails, with the EXCLUDE it gets through). CHROMIUM_ARGS already excludes *.local, which
 * Chromium's lookups of the other peer's mDNS candidates go through (without it two Chromiums on one LAN never
 * resolve each other: three attempts, no check ever sent; with it, host/host at once). Neither exclusion lets the
 * browser out of the lab.
 */
export function labChromiumArgs (serverAddress: string): string[] {
  return CHROMIUM_ARGS.map(arg => arg.startsWith('--host-resolver-rules=') ? `${arg} , EXCLUDE ${serverAddress}` : arg)
}

/**
 * Records every RTCPeerConnection the page makes (window.__nat) without changing what it does: its states, ICE
 * servers and the candidates each way, so a try can tell a failed WebRTC attempt and what was offered
 */
const INSTRUMENT = `(() => {
  const Native = window.RTCPeerConnection
  window.__nat = []
  if (typeof Native !== 'function') return
  window.RTCPeerConnection = class extends Native {
    constructor (config, ...rest) {
      super(config, ...rest)
      const rec = { pc: this, states: [], servers: (config?.iceServers ?? []).flatMap(s => [].concat(s.urls)), local: [], remote: [] }
      window.__nat.push(rec)
      this.addEventListener('connectionstatechange', () => rec.states.push(this.connectionState))
      this.addEventListener('icecandidate', e => { if (e.candidate?.candidate) rec.local.push(e.candidate.candidate) })
    }
    addIceCandidate (candidate, ...rest) {
      if (candidate?.candidate) window.__nat.find(r => r.pc === this)?.remote.push(candidate.candidate)
      return super.addIceCandidate(candidate, ...rest)
    }
  }
})()`

/** A page's RTCPeerConnections now (see INSTRUMENT), with the selected candidate pair of each connected one */
async function attempts (page: Page): Promise<Attempt[]> {
  return await page.evaluate(async () => {
    const candidate = (c: any): Candidate | undefined => c == null ? undefined : { type: c.candidateType, address: c.address ?? c.ip, port: c.port, protocol: c.protocol, relayProtocol: c.relayProtocol }
    return await Promise.all(((window as any).__nat as any[]).map(async rec => {
      const pc: RTCPeerConnection = rec.pc
      const state = pc.signalingState === 'closed' ? 'closed' : pc.connectionState
      let pair
      if (state === 'connected') {
        const report = await pc.getStats()
        let chosen: any
        for (const s of report.values()) {
          if (s.type === 'transport' && s.selectedCandidatePairId != null) chosen = report.get(s.selectedCandidatePairId)
          if (chosen == null && s.type === 'candidate-pair' && (s.selected === true || (s.nominated === true && s.state === 'succeeded'))) chosen = s
        }
        if (chosen != null) pair = { local: candidate(report.get(chosen.localCandidateId))!, remote: candidate(report.get(chosen.remoteCandidateId))! }
      }
      return { states: rec.states, state, servers: rec.servers, local: rec.local, remote: rec.remote, pair }
    }))
  })
}

/** connection:direct events on `page` for `peerId`, as wall-clock times */
async function directEvents (page: Page, peerId: string): Promise<number[]> {
  return await page.evaluate((id) => (window as any).events.filter((e: any) => e.type === 'connection:direct' && e.detail.peerId === id).map((e: any) => e.wallClock), peerId)
}

/** Whether `page` holds an open WebRTC connection to `peerId` */
async function hasWebRTC (page: Page, peerId: string): Promise<boolean> {
  return await page.evaluate((id) => (window as any).peer.libp2p.getConnections()
    .some((c: any) => c.remotePeer.toString() === id && c.status === 'open' && c.limits == null && /\/webrtc(\/|$)/.test(c.remoteAddr.toString())), peerId)
}

/** A request to `peerId`'s echo handler: true, or what went wrong */
async function echo (page: Page, peerId: string, text: string): Promise<true | string> {
  return await page.evaluate(async ({ id, text, protocol }) => await (window as any).peer.request(id, protocol, text, { signal: AbortSignal.timeout(15_000) })
    .then((answer: Uint8Array) => new TextDecoder().decode(answer) === text || 'wrong answer', (err: Error) => `${err.name}: ${err.message}`), { id: peerId, text, protocol: ECHO })
}

async function poll (until: () => Promise<boolean>, timeoutMs: number, everyMs = 250): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (await until()) return true
    if (Date.now() > deadline) return false
    await new Promise(resolve => setTimeout(resolve, everyMs))
  }
}

/** One group's lab: its hosts, the relay, coturn, a site in each host, and the current pair's browsers */
export class NatEnv {
  readonly group: Group
  relayAddress = ''
  relayOutput = ''
  private readonly lab: Lab
  private readonly sites = new Map<string, string>()
  private readonly browsers = new Map<string, Browser>()

  private constructor (group: Group, lab: Lab) {
    this.group = group
    this.lab = lab
  }

  /** Makes the group's lab; close() removes all of it */
  static async start (group: Group): Promise<NatEnv> {
    const env = new NatEnv(group, await createLab())
    try {
      await env.setup()
    } catch (err) {
      await env.close()
      throw err
    }
    return env
  }

  private async setup (): Promise<void> {
    const { lab, group } = this
    await Promise.all(Object.entries(group.hosts).map(async ([name, opts]) => {
      await lab.addHost(name, opts)
      const site = await lab.staticSite(name, { root: ROOT, folders: ['dist', 'test-e2e'] })
      this.sites.set(name, `http://127.0.0.1:${site.port}/test-e2e/page.html`)
    }))
    const server = lab.serverAddress
    const args = ['--host', server, '--port', String(RELAY_PORT), '--key-file', join(lab.dir, 'relay.key'),
      '--addr-file', join(lab.dir, 'relay-addrs.json'), '--log-level', 'warn']
    if (group.turn) {
      const secret = randomBytes(24).toString('hex')
      const secretFile = join(lab.dir, 'turn-secret')
      await writeFile(secretFile, secret, { mode: 0o600 })
      await lab.startCoturn({ ports: [COTURN_PORT], authSecret: secret, conf: join(ROOT, 'relay-server/deploy/turnserver.conf') })
      // no --stun-port: with --turn-url the relay advertises coturn's STUN (same host and port) instead of its own
      args.push('--turn-url', `turn:${server}:${COTURN_PORT}?transport=udp`, '--turn-url', `turn:${server}:${COTURN_PORT}?transport=tcp`,
        '--turn-secret-file', secretFile)
    } else {
      args.push('--stun-port', String(COTURN_PORT))
    }
    const relay = lab.spawn('pub', process.execPath, [RELAY_CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    const keep = (s: string): void => { this.relayOutput = (this.relayOutput + s).slice(-8000) }
    relay.stdout!.setEncoding('utf8').on('data', keep)
    relay.stderr!.setEncoding('utf8').on('data', keep)
    const up = await poll(async () => {
      if (relay.exitCode != null) throw new Error(`the relay exited (${relay.exitCode}): ${this.relayOutput}`)
      const addrs = await readFile(join(lab.dir, 'relay-addrs.json'), 'utf8').then(JSON.parse).catch(() => []) as string[]
      this.relayAddress = addrs.find(a => a.startsWith(`/ip4/${server}/`)) ?? ''
      return this.relayAddress !== ''
    }, 20_000, 100)
    if (!up) throw new Error(`the relay did not start within 20 s: ${this.relayOutput}`)
  }

  /** The browsers of `pair` on hosts a and b, launched in parallel; the others this env holds are closed */
  private async browsersFor (pair: Pair, a: string, b: string): Promise<[Browser, Browser]> {
    const want = [`${pair.a}@${a}`, `${pair.b}@${b}`]
    await Promise.all([...this.browsers].filter(([key]) => !want.includes(key)).map(async ([key, browser]) => {
      this.browsers.delete(key)
      await browser.close().catch(() => {})
    }))
    const [ba, bb] = await Promise.all(([[pair.a, a], [pair.b, b]] as const).map(async ([kind, host]) => {
      const key = `${kind}@${host}`
      let browser = this.browsers.get(key)
      if (browser == null || !browser.isConnected()) {
        browser = await this.launch(kind, host)
        this.browsers.set(key, browser)
      }
      return browser
    }))
    return [ba, bb]
  }

  /** A browser inside `host`'s namespace, in its default settings */
  private async launch (kind: BrowserKind, host: string): Promise<Browser> {
    if (kind === 'chromium') return await chromium.launch({ executablePath: this.lab.wrapper(host, chromiumExecutable()), args: labChromiumArgs(this.lab.serverAddress) })
    const options = firefoxLaunchOptions()
    // Debian's firefox-esr is driven over WebDriver BiDi (a WebSocket, which the wrapper brings out of the
    // namespace); Playwright's own Firefox build over a pipe, like Chromium
    if (options.channel === 'moz-firefox') return await firefox.launch({ ...options, executablePath: this.lab.wrapper(host, options.executablePath!, { bidi: true }) })
    return await firefox.launch({ executablePath: this.lab.wrapper(host, firefoxExecutable()) })
  }

  /** A page from `host`'s own site in a fresh context of `browser`, its RTCPeerConnections recorded */
  private async open (browser: Browser, host: string, contexts: BrowserContext[]): Promise<Page> {
    const context = await browser.newContext()
    contexts.push(context)
    await context.addInitScript(INSTRUMENT)
    // as fixtures.ts openPage: PEERLANE_DEBUG='peerlane:*,libp2p:webrtc*' prints the page's logs
    const debug = process.env.PEERLANE_DEBUG
    if (debug != null) await context.addInitScript(`localStorage.debug = ${JSON.stringify(debug)}`)
    const page = await context.newPage()
    if (debug != null) page.on('console', m => { console.log(`${new Date().toISOString().slice(11, 23)} ${host}> ${m.text().replace(/%c|color: [#\w]+/g, '')}`) })
    page.on('pageerror', err => { console.error(`[${host} page error] ${err.message}`) })
    await page.goto(this.sites.get(host)!)
    return page
  }

  /** One try of `scenario` with `pair`: fresh contexts on both sides, A connects to B, and what came of it */
  async try (scenario: Scenario, pair: Pair): Promise<TryResult> {
    const [browserA, browserB] = await this.browsersFor(pair, scenario.a, scenario.b)
    const contexts: BrowserContext[] = []
    const result: TryResult = {}
    try {
      const [pa, pb] = await Promise.all([this.open(browserA, scenario.a, contexts), this.open(browserB, scenario.b, contexts)])
      const [A, B] = await Promise.all([pa, pb].map(async page => {
        const peer = await startPeer(page, [this.relayAddress], scenario.peer)
        await page.evaluate(async (protocol) => { await (window as any).peer.handle(protocol, (data: Uint8Array) => data) }, ECHO)
        return peer
      }))

      const done = await pa.evaluate(async ({ id, protocol }) => {
        const w = window as any
        const finished = (): number => (w.__nat as any[]).filter(r => r.states.includes('connected') || r.pc.signalingState === 'closed' ||
          ['failed', 'closed'].includes(r.pc.connectionState)).length
        const start = Date.now()
        const t0 = performance.now()
        const info = await w.peer.connect(id, { signal: AbortSignal.timeout(30_000) })
        const ms = performance.now() - t0
        const finishedAtConnect = finished()
        // a request, not peer.ping(): libp2p's ping dials by PeerId, and such a dial never reuses a relayed circuit
        const request = await w.peer.request(id, protocol, 'hello', { signal: AbortSignal.timeout(15_000) })
          .then((answer: Uint8Array) => new TextDecoder().decode(answer) === 'hello' || 'wrong answer', (err: Error) => `${err.name}: ${err.message}`)
        return { info, ms, finishedAtConnect, request, start }
      }, { id: B.id, protocol: ECHO })
      Object.assign(result, { connect: done.info, connectMs: Math.round(done.ms), finishedAtConnect: done.finishedAtConnect, request: done.request })

      const realDirect = async (page: Page, peerId: string): Promise<number | undefined> =>
        (await attempts(page)).some(a => a.states.includes('connected')) ? (await directEvents(page, peerId))[0] : undefined
      if (scenario.direct) {
        await poll(async () => await realDirect(pa, B.id) != null, DIRECT_WAIT_MS)
        const at = await realDirect(pa, B.id)
        if (at != null) {
          result.directMs = at - done.start
          await poll(async () => await realDirect(pb, A.id) != null, 5_000) // B's side opens as A's does
        }
      } else {
        await poll(async () => (await attempts(pa)).some(a => a.states.includes('connected') || ['failed', 'closed'].includes(a.state)), ATTEMPT_WAIT_MS)
        // settled: the RTCPeerConnections of that first attempt closed (a dead one that libp2p upgraded closes with its
        // connection) and no WebRTC connection left. Later attempts (the SDK retries after ~5 s, ~10 s, ~20 s) are not
        // waited for: the dead connection of the first lives ~9 s, and a retry's comes only once that retry fails
        const failed = Date.now()
        const [firstA, firstB] = await Promise.all([attempts(pa), attempts(pb)]).then(([x, y]) => [x.length, y.length])
        const settled = async (page: Page, peerId: string, first: number): Promise<boolean> =>
          (await attempts(page)).slice(0, first).every(a => a.state === 'closed') && !await hasWebRTC(page, peerId)
        if (await poll(async () => await settled(pa, B.id, firstA) && await settled(pb, A.id, firstB), SETTLE_WAIT_MS)) result.settleMs = Date.now() - failed
      }
      if (process.env.PEERLANE_NAT_CONNTRACK != null) await this.printConntrack([scenario.a, scenario.b])

      const side = async (page: Page, self: string, other: string): Promise<Side> => {
        const [stats, recorded, direct] = await Promise.all([
          page.evaluate(async (id) => (await (window as any).peer.stats(id))[0], other), attempts(page), directEvents(page, other)])
        return { peerId: self, stats, attempts: recorded, directEvents: direct.length }
      }
      ;[result.a, result.b] = await Promise.all([side(pa, A.id, B.id), side(pb, B.id, A.id)])
      ;[result.a.request, result.b.request] = await Promise.all([echo(pa, B.id, 'from a'), echo(pb, A.id, 'from b')])
    } catch (err: any) {
      result.error = String(err.message ?? err).split('\n').slice(0, 3).join(' ')
    } finally {
      await Promise.all(contexts.map(async c => await c.close().catch(() => {})))
    }
    return result
  }

  /** The UDP entries of the hosts' routers' conntrack tables (how the cone finding above was measured) */
  private async printConntrack (hosts: string[]): Promise<void> {
    for (const host of hosts) {
      const lan = (this.group.hosts[host] as HostOptions).lan ?? host
      const { stdout } = await this.lab.exec(`router:${lan}`, 'cat', ['/proc/net/nf_conntrack'])
      console.log(`conntrack of ${host}'s router:\n${stdout.split('\n').filter(l => / udp /.test(l)).map(l => l.replace(/\s+/g, ' ')).join('\n')}`)
    }
  }

  async close (): Promise<void> {
    await Promise.all([...this.browsers.values()].map(async b => await b.close().catch(() => {})))
    this.browsers.clear()
    await this.lab.close()
  }
}

/** A side's link in a few words: `srflx/prflx udp`, `relayed`, ... */
export function pairLabel (s?: LinkStats): string {
  if (s == null) return 'none'
  if (s.transport !== 'webrtc') return s.route
  return `${s.local ?? '?'}/${s.remote ?? '?'} ${s.protocol ?? '?'}`
}

/** One line of the runner's table */
export interface Row {
  scenario: string
  pair: string
  tries: number
  /** tries that took the expected path */
  expected: number
  /** the expected path */
  path: string
  /** the most common winning pair, A's view ‖ B's view, and how often */
  winning: string
  /** median ms: connect() → resolved (usable); connect() → connection:direct, of the tries that linked directly */
  connectMedian?: number
  directMedian?: number
  /** tries with a spurious connection:direct (see spuriousDirect) on a / on b */
  spurious: [number, number]
  /** each try's problems (none: it took the expected path) */
  problems: string[][]
}

function median (values: number[]): number | undefined {
  if (values.length === 0) return undefined
  const s = [...values].sort((x, y) => x - y)
  const mid = Math.floor(s.length / 2)
  return s.length % 2 === 1 ? s[mid] : Math.round((s[mid - 1] + s[mid]) / 2)
}

/** The table row of `results` (one per try) */
export function summarize (scenario: Scenario, pair: Pair, results: TryResult[]): Row {
  const problems = results.map(r => scenario.problems(r))
  const labels = new Map<string, number>()
  for (const r of results) {
    const label = r.error != null ? 'error' : `${pairLabel(r.a?.stats)} ‖ ${pairLabel(r.b?.stats)}`
    labels.set(label, (labels.get(label) ?? 0) + 1)
  }
  const [label, count] = [...labels].sort((x, y) => y[1] - x[1])[0] ?? ['none', 0]
  return {
    scenario: `${scenario.id}. ${scenario.title}`,
    pair: pair.name,
    tries: results.length,
    expected: problems.filter(p => p.length === 0).length,
    path: scenario.expected,
    winning: `${label} (${count}/${results.length})`,
    connectMedian: median(results.flatMap(r => r.connectMs ?? [])),
    directMedian: median(results.flatMap(r => r.directMs ?? [])),
    spurious: [results.filter(r => spuriousDirect(r.a) > 0).length, results.filter(r => spuriousDirect(r.b) > 0).length],
    problems
  }
}
