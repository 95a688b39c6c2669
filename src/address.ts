import { peerIdFromString } from '@libp2p/peer-id'
import { CODE_P2P, multiaddr } from '@multiformats/multiaddr'
import { Circuit, WebRTC, WebSockets, WebSocketsSecure } from '@multiformats/multiaddr-matcher'
import { InvalidAddressError } from './errors.ts'
import type { Connection, PeerId } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'

/** How a connection reaches its peer, as users see it */
export type Transport = 'webrtc' | 'relay' | 'websockets'

/** Parses a multiaddr string, or throws `InvalidAddressError` naming it */
export function parseMultiaddr (value: unknown): Multiaddr {
  if (typeof value !== 'string' || !value.startsWith('/')) {
    throw new InvalidAddressError(value, 'is not a multiaddr (it must be a string starting with "/")')
  }
  try {
    return multiaddr(value)
  } catch (err: any) {
    throw new InvalidAddressError(value, `is not a valid multiaddr: ${err.message}`, { cause: err })
  }
}

/** Parses a PeerId string, or throws `InvalidAddressError` naming it */
export function parsePeerId (value: unknown): PeerId {
  try {
    return peerIdFromString(String(value))
  } catch (err: any) {
    throw new InvalidAddressError(value, 'is neither a multiaddr nor a PeerId', { cause: err })
  }
}

/** The PeerId in the last `/p2p/…` component, if any */
export function lastPeerId (ma: Multiaddr): string | undefined {
  return ma.getComponents().findLast(c => c.code === CODE_P2P)?.value
}

/** For `/…relay…/p2p/R/p2p-circuit/…`, the relay's own address `/…relay…/p2p/R`; otherwise undefined */
export function relayPart (ma: Multiaddr): Multiaddr | undefined {
  const text = ma.toString()
  const at = text.indexOf('/p2p-circuit')
  return at > 0 ? multiaddr(text.slice(0, at)) : undefined
}

/** The address without its `/p2p/…` suffix: what the connection gater compares */
export function transportPart (ma: Multiaddr): string {
  return ma.decapsulateCode(CODE_P2P).toString()
}

/** Whether a relay address can be dialled from a browser (ws or wss) */
export function isWebSocketAddress (ma: Multiaddr): boolean {
  return WebSockets.exactMatch(ma) || WebSocketsSecure.exactMatch(ma)
}

/** Classifies a connection: a direct WebRTC link, a relayed circuit, or a plain WebSocket (to a relay) */
export function transportOf (conn: Pick<Connection, 'remoteAddr' | 'limits'>): Transport {
  if (conn.limits == null && WebRTC.matches(conn.remoteAddr)) return 'webrtc'
  if (conn.limits != null || Circuit.matches(conn.remoteAddr)) return 'relay'
  return 'websockets'
}

/** Direct means no relay sits in the data path */
export function isDirect (conn: Pick<Connection, 'remoteAddr' | 'limits'>): boolean {
  return transportOf(conn) !== 'relay'
}
