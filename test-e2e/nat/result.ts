// What one try of a NAT scenario yields (env.ts NatEnv.try), and what it says about the link.
import type { Attempt } from './browser.ts'

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

/** Whether any of the side's WebRTC attempts connected */
export function connected (side?: Side): boolean {
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

/** A side's link in a few words: `srflx/prflx udp`, `relayed`, ... */
export function pairLabel (s?: LinkStats): string {
  if (s == null) return 'none'
  if (s.transport !== 'webrtc') return s.route
  return `${s.local ?? '?'}/${s.remote ?? '?'} ${s.protocol ?? '?'}`
}
