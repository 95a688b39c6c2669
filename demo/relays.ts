// Which relays the chat dials. The page's own configuration (relay.json, served beside it: by demo/start.js in
// development, by whoever deploys the static build) lists the allowed relays. An invite link's `?relay=` only
// picks among them: a link from a stranger must not send the visitor to a relay the stranger runs (it would
// learn who talks to whom and when, and could withhold or delay every message).
import { multiaddr } from '@multiformats/multiaddr'

/** `?relay=` values beyond this many are refused */
export const MAX_URL_RELAYS = 3

export interface RefusedRelay {
  address: string
  reason: string
}

export interface RelayChoice {
  /** what the page dials */
  relays: string[]
  /** `?relay=` values not used, each with why */
  refused: RefusedRelay[]
}

/** The canonical text of a multiaddr string, or undefined if it is not one */
function canonical (address: string): string | undefined {
  if (!address.startsWith('/')) return undefined
  try {
    return multiaddr(address).toString()
  } catch {
    return undefined
  }
}

/** Whether the address names this machine (127.0.0.0/8, ::1, localhost) */
function isLoopback (address: string): boolean {
  const [, proto, host] = address.split('/')
  if (proto === 'ip4') return host.startsWith('127.')
  if (proto === 'ip6') return host === '::1'
  if (proto === 'dns' || proto === 'dns4' || proto === 'dns6') return host === 'localhost'
  return false
}

/** `wss`, `ws` or undefined: the WebSocket the relay address asks for (`/tls/ws` is `wss`) */
function webSocketKind (address: string): 'ws' | 'wss' | undefined {
  const parts = address.split('/')
  if (parts.includes('wss') || (parts.includes('tls') && parts.includes('ws'))) return 'wss'
  if (parts.includes('ws')) return 'ws'
  return undefined
}

/**
 * The relays to dial: the configured ones, or the `?relay=` values that are among them (at most
 * `MAX_URL_RELAYS`, `wss`, or `ws` to a loopback address). Every other `?relay=` value is refused, with the
 * reason, and not dialled; if none is left the configured relays are used.
 */
export function chooseRelays (configured: readonly string[], fromUrl: readonly string[]): RelayChoice {
  const allowed = new Set(configured.map(a => canonical(a.trim())).filter(a => a != null))
  const relays: string[] = []
  const refused: RefusedRelay[] = []
  for (const raw of fromUrl) {
    const address = raw.trim().slice(0, 512)
    const ma = canonical(address)
    const kind = ma == null ? undefined : webSocketKind(ma)
    if (ma == null) refused.push({ address, reason: 'not a multiaddr' })
    else if (kind == null) refused.push({ address, reason: 'not a WebSocket (wss://) address' })
    else if (kind === 'ws' && !isLoopback(ma)) refused.push({ address, reason: 'ws:// (unencrypted) is only for a relay on this machine; use wss://' })
    else if (!allowed.has(ma)) refused.push({ address, reason: 'not one of this page\'s configured relays (relay.json)' })
    else if (relays.includes(ma)) continue
    else if (relays.length >= MAX_URL_RELAYS) refused.push({ address, reason: `more than ${MAX_URL_RELAYS} relays` })
    else relays.push(ma)
  }
  return { relays: relays.length > 0 ? relays : [...configured], refused }
}
