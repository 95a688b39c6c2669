// What a link to another peer is made of: for a WebRTC link, the ICE candidate pair the browser chose
// (from RTCPeerConnection.getStats()), its round-trip time and bytes; for others, the transport alone.
import { ProtocolError } from '@libp2p/interface'
import { transportOf } from './address.ts'
import type { Transport } from './address.ts'
import type { Connection } from '@libp2p/interface'

/** An ICE candidate's type: a local address, one a STUN server saw (srflx), one the peer saw (prflx), or a TURN relay */
export type CandidateType = 'host' | 'srflx' | 'prflx' | 'relay'

/**
 * How data reaches a peer: `'direct'` (WebRTC between addresses the peers have or learnt from each other:
 * host and peer-reflexive candidates), `'stun'` (WebRTC through a NAT mapping a STUN server found: a srflx
 * candidate), `'turn'` (WebRTC through a TURN server), `'relayed'` (a circuit through a Peerlane relay),
 * `'websocket'` (our own connection to a relay), `'unknown'` (a WebRTC link whose browser has not reported
 * the candidate pair it chose)
 */
export type Route = 'direct' | 'stun' | 'turn' | 'relayed' | 'websocket' | 'unknown'

/** One link, as `peer.stats()` describes it */
export interface LinkStats {
  /** the other peer's PeerId */
  peerId: string
  transport: Transport
  route: Route
  /** the chosen ICE candidate pair's types (WebRTC only) */
  local?: CandidateType
  remote?: CandidateType
  /** `'udp'` or `'tcp'`: the chosen pair's protocol (with TURN, the one to the TURN server) */
  protocol?: string
  /** the chosen pair's current round-trip time, in ms (WebRTC only) */
  rtt?: number
  /** bytes sent and received on the chosen pair (WebRTC only) */
  bytesSent?: number
  bytesReceived?: number
}

/** The RTCPeerConnection behind a WebRTC connection (@libp2p/webrtc keeps it on the connection's maConn and muxer) */
export function peerConnectionOf (conn: Connection): RTCPeerConnection | undefined {
  const c = conn as any
  const pc = c.maConn?.peerConnection ?? c.muxer?.peerConnection
  return typeof pc?.getStats === 'function' ? pc : undefined
}

/** The stats of one connection */
export async function linkStats (conn: Connection): Promise<LinkStats> {
  const transport = transportOf(conn)
  const base = { peerId: conn.remotePeer.toString(), transport }
  if (transport !== 'webrtc') return { ...base, route: transport === 'relay' ? 'relayed' : 'websocket' }
  const pc = peerConnectionOf(conn)
  if (pc == null) return { ...base, route: 'unknown' }
  let report = await pc.getStats()
  let pair = selectedPair(report)
  // right after the link opens a browser may not have reported the pair it chose yet
  for (let i = 0; pair == null && i < 10; i++) {
    await new Promise(resolve => setTimeout(resolve, 100))
    report = await pc.getStats()
    pair = selectedPair(report)
  }
  if (pair == null) return { ...base, route: 'unknown' }
  const local = report.get(pair.localCandidateId)
  const remote = report.get(pair.remoteCandidateId)
  const types = [local?.candidateType, remote?.candidateType] as Array<CandidateType | undefined>
  const route: Route = types.includes('relay') ? 'turn' : types.includes('srflx') ? 'stun' : 'direct'
  return {
    ...base,
    route,
    local: types[0],
    remote: types[1],
    protocol: local?.relayProtocol ?? local?.protocol,
    rtt: typeof pair.currentRoundTripTime === 'number' ? pair.currentRoundTripTime * 1000 : undefined,
    bytesSent: pair.bytesSent,
    bytesReceived: pair.bytesReceived
  }
}

/** The candidate pair ICE uses now: the transport's selectedCandidatePairId (Chromium), else the `selected` or nominated succeeded pair (Firefox) */
function selectedPair (report: RTCStatsReport): any {
  let fallback: any
  for (const stat of report.values()) {
    if (stat.type === 'transport' && stat.selectedCandidatePairId != null) return report.get(stat.selectedCandidatePairId)
    if (stat.type === 'candidate-pair' && (stat.selected === true || (stat.nominated === true && stat.state === 'succeeded'))) fallback ??= stat
  }
  return fallback
}

/** libp2p's ping protocol (@libp2p/ping's client dials by PeerId, which opens a second circuit when the only connection is a limited one) */
export const PING_PROTOCOL = '/ipfs/ping/1.0.0'
const PING_LENGTH = 32

/** The round-trip time of one libp2p ping over `conn`, in ms */
export async function pingOver (conn: Connection, options: { signal?: AbortSignal } = {}): Promise<number> {
  const stream = await conn.newStream(PING_PROTOCOL, { signal: options.signal, runOnLimitedConnection: true })
  const data = crypto.getRandomValues(new Uint8Array(PING_LENGTH))
  const received: Uint8Array[] = []
  let length = 0
  try {
    const start = performance.now()
    const echoed = new Promise<number>((resolve, reject) => {
      stream.addEventListener('message', evt => {
        const chunk = evt.data.subarray()
        received.push(chunk)
        length += chunk.byteLength
        if (length >= PING_LENGTH) resolve(performance.now() - start)
      })
      stream.addEventListener('close', () => { reject(new ProtocolError(`ping stream closed after ${length} of ${PING_LENGTH} bytes`)) }, { once: true })
      options.signal?.addEventListener('abort', () => { reject(options.signal?.reason) }, { once: true })
    })
    stream.send(data)
    const rtt = await echoed
    const echo = new Uint8Array(length)
    let at = 0
    for (const chunk of received) { echo.set(chunk, at); at += chunk.byteLength }
    if (length !== PING_LENGTH || echo.some((b, i) => b !== data[i])) throw new ProtocolError('ping: the echo differs from what was sent')
    return rtt
  } catch (err: any) {
    stream.abort(err)
    throw err
  } finally {
    if (stream.status === 'open') await stream.close().catch(() => {})
  }
}
