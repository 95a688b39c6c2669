// One lab per scenario group (scenarios.ts), and a try in it. A scenario group is one lab: its hosts, each behind
// its own router unless they share a LAN; the relay (and coturn) in the public namespace; a static site inside
// each host on the host's own 127.0.0.1, so that every page is a secure context. Browsers run inside the hosts'
// namespaces, in their default settings (browsers.ts). A try opens a fresh context on each side, creates both
// peers on the relay, and A connects to B.
import { randomBytes } from 'node:crypto'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { startPeer } from '../peer-page.ts'
import { ROOT } from '../support.ts'
import { attempts, directEvents, hasWebRTC, launchBrowser, openRecordedPage } from './browser.ts'
import { createLab } from './lab.ts'
import type { Lab } from './lab.ts'
import type { HostOptions } from './network.ts'
import type { Side, TryResult } from './result.ts'
import type { Group, Pair, Scenario } from './scenarios.ts'
import type { Browser, BrowserContext, Page } from '@playwright/test'

/** How long a try waits for a direct link (the SDK's background attempts retry after ~5 s and ~10 s) */
const DIRECT_WAIT_MS = 45_000
/** ... or, where none is expected, for A's first WebRTC attempt to fail (libp2p's dial timeout is 10 s) */
const ATTEMPT_WAIT_MS = 30_000
/** ... and then for that attempt's RTCPeerConnections to close (a dead connection, see spuriousDirect, lives until its streams time out) */
export const SETTLE_WAIT_MS = 30_000
const RELAY_PORT = 9090
const COTURN_PORT = 3478
const RELAY_CLI = join(ROOT, 'relay-server/bin/peerlane-relay.js')
const ECHO = '/nat/echo/1.0.0'

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
        browser = await launchBrowser(this.lab, kind, host)
        this.browsers.set(key, browser)
      }
      return browser
    }))
    return [ba, bb]
  }

  /** One try of `scenario` with `pair`: fresh contexts on both sides, A connects to B, and what came of it */
  async try (scenario: Scenario, pair: Pair): Promise<TryResult> {
    const [browserA, browserB] = await this.browsersFor(pair, scenario.a, scenario.b)
    const contexts: BrowserContext[] = []
    const result: TryResult = {}
    try {
      const [pa, pb] = await Promise.all([
        openRecordedPage(browserA, this.sites.get(scenario.a)!, scenario.a, contexts),
        openRecordedPage(browserB, this.sites.get(scenario.b)!, scenario.b, contexts)
      ])
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
