// The browsers of a NAT try: launched inside a host's namespace in their default settings (browsers.ts), and
// pages that record every RTCPeerConnection they make.
import { chromium, firefox } from '@playwright/test'
import { CHROMIUM_ARGS, chromiumExecutable, firefoxExecutable, firefoxLaunchOptions } from '../browsers.ts'
import type { Lab } from './lab.ts'
import type { Browser, BrowserContext, Page } from '@playwright/test'

export type BrowserKind = 'chromium' | 'firefox'

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

/** A browser inside `host`'s namespace, in its default settings */
export async function launchBrowser (lab: Lab, kind: BrowserKind, host: string): Promise<Browser> {
  if (kind === 'chromium') return await chromium.launch({ executablePath: lab.wrapper(host, chromiumExecutable()), args: labChromiumArgs(lab.serverAddress) })
  const options = firefoxLaunchOptions()
  // Debian's firefox-esr is driven over WebDriver BiDi (a WebSocket, which the wrapper brings out of the
  // namespace); Playwright's own Firefox build over a pipe, like Chromium
  if (options.channel === 'moz-firefox') return await firefox.launch({ ...options, executablePath: lab.wrapper(host, options.executablePath!, { bidi: true }) })
  return await firefox.launch({ executablePath: lab.wrapper(host, firefoxExecutable()) })
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

/** A page from `url` in a fresh context of `browser` (kept in `contexts`), its RTCPeerConnections recorded; `host` labels its logs */
export async function openRecordedPage (browser: Browser, url: string, host: string, contexts: BrowserContext[]): Promise<Page> {
  const context = await browser.newContext()
  contexts.push(context)
  await context.addInitScript(INSTRUMENT)
  // as fixtures.ts openPage: PEERLANE_DEBUG='peerlane:*,libp2p:webrtc*' prints the page's logs
  const debug = process.env.PEERLANE_DEBUG
  if (debug != null) await context.addInitScript(`localStorage.debug = ${JSON.stringify(debug)}`)
  const page = await context.newPage()
  if (debug != null) page.on('console', m => { console.log(`${new Date().toISOString().slice(11, 23)} ${host}> ${m.text().replace(/%c|color: [#\w]+/g, '')}`) })
  page.on('pageerror', err => { console.error(`[${host} page error] ${err.message}`) })
  await page.goto(url)
  return page
}

/** A page's RTCPeerConnections now (see INSTRUMENT), with the selected candidate pair of each connected one */
export async function attempts (page: Page): Promise<Attempt[]> {
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
export async function directEvents (page: Page, peerId: string): Promise<number[]> {
  return await page.evaluate((id) => (window as any).events.filter((e: any) => e.type === 'connection:direct' && e.detail.peerId === id).map((e: any) => e.wallClock), peerId)
}

/** Whether `page` holds an open WebRTC connection to `peerId` */
export async function hasWebRTC (page: Page, peerId: string): Promise<boolean> {
  return await page.evaluate((id) => (window as any).peer.libp2p.getConnections()
    .some((c: any) => c.remotePeer.toString() === id && c.status === 'open' && c.limits == null && /\/webrtc(\/|$)/.test(c.remoteAddr.toString())), peerId)
}
