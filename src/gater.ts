// What a peer may dial. A browser reaches other peers only through relays, so it dials exactly its configured
// relays (and circuits through them), the federation relays one of them vouched for, for a while, and the
// addresses the app itself asked for. Everything else is refused: a LAN router or `*.localhost` name that
// a hostile peer or relay advertised, any `ws://`, any public `wss://` that is not a relay we know.
import { isPrivateIp, tryGetNetConfig } from '@libp2p/utils'
import { WebSocketsSecure } from '@multiformats/multiaddr-matcher'
import { isWebSocketAddress, relayPart, transportPart } from './address.ts'
import type { ConnectionGater } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'

/** How long vouched addresses stay dialable, and how many are kept */
export const VOUCH_DEFAULTS = {
  /** a relay's address stays dialable this long after the last answer that named it, in ms */
  ttlMs: 10 * 60_000,
  /** addresses kept at most; the oldest go first */
  max: 256
} as const

/** How far an address reaches: the public internet, a private network (LAN, VPN), this machine */
export type AddressScope = 'public' | 'private' | 'loopback'

const RANK: Record<AddressScope, number> = { public: 0, private: 1, loopback: 2 }

// names that never resolve on the public internet (RFC 6761, RFC 8375, and the suffixes routers hand out)
const PRIVATE_SUFFIXES = ['.local', '.lan', '.home', '.home.arpa', '.internal', '.intranet', '.corp', '.private', '.localdomain', '.test', '.invalid', '.example', '.arpa']

/** The scope of an address's host (for a circuit, its relay's); a name without a dot is private */
export function scopeOf (ma: Multiaddr): AddressScope {
  const config = tryGetNetConfig(relayPart(ma) ?? ma)
  if (config == null) return 'private'
  const host = config.host.toLowerCase().replace(/\.$/, '').replace(/^\[|\]$/g, '')
  if (config.type === 'ip4' || config.type === 'ip6') return ipScope(host)
  if (/^[\d.]+$/.test(host) || host.includes(':')) return ipScope(host)
  if (host === 'localhost' || host.endsWith('.localhost')) return 'loopback'
  if (!host.includes('.') || PRIVATE_SUFFIXES.some(suffix => host.endsWith(suffix))) return 'private'
  return 'public'
}

function ipScope (ip: string): AddressScope {
  if (/^127\./.test(ip) || ip === '::1' || /^::ffff:127\./.test(ip)) return 'loopback'
  return isPrivateIp(ip) !== false ? 'private' : 'public'
}

/**
 * Whether `voucher` (one of our relays) may vouch for `address`: a WebSocket address no more private than the
 * voucher, and `wss://` when the voucher is public (a public relay has no business sending us onto a LAN)
 */
export function mayVouch (voucher: Multiaddr, address: Multiaddr): boolean {
  if (!isWebSocketAddress(address)) return false
  const by = scopeOf(voucher)
  if (RANK[scopeOf(address)] > RANK[by]) return false
  return by !== 'public' || WebSocketsSecure.matches(address)
}

/** Addresses the gater lets us dial for a while: federation relays our relays named, and the app's own */
export class Vouched {
  /** transport part → when it stops being dialable */
  private readonly until = new Map<string, number>()
  private readonly now: () => number

  constructor (now: () => number = Date.now) {
    this.now = now
  }

  /**
   * Lets us dial `address` (a relay's, or a circuit's relay) for `VOUCH_DEFAULTS.ttlMs`. With a `voucher`, only
   * if `mayVouch` says so; without one the app asked for it (`connect(multiaddr)`). False when refused.
   */
  add (address: Multiaddr, voucher?: Multiaddr): boolean {
    const target = relayPart(address) ?? address
    if (voucher != null && !mayVouch(voucher, target)) return false
    const key = transportPart(target)
    this.until.delete(key)
    this.until.set(key, this.now() + VOUCH_DEFAULTS.ttlMs)
    for (const oldest of this.until.keys()) {
      if (this.until.size <= VOUCH_DEFAULTS.max) break
      this.until.delete(oldest)
    }
    return true
  }

  /** Whether `transport` (an address without its `/p2p/…`) is dialable now */
  has (transport: string): boolean {
    const until = this.until.get(transport)
    if (until == null) return false
    if (until > this.now()) return true
    this.until.delete(transport)
    return false
  }
}

/**
 * The dial side of the gater: exactly the configured relays (and circuits through them) and what `vouched`
 * holds now. (libp2p's browser default refuses `ws://` and private addresses, which a local or LAN relay
 * uses, and allows every public `wss://`.)
 */
export function dialGater (relays: Multiaddr[], vouched: Vouched): Pick<ConnectionGater, 'denyDialMultiaddr'> {
  const allowed = new Set(relays.map(transportPart))
  return {
    denyDialMultiaddr: (ma) => {
      const transport = transportPart(relayPart(ma) ?? ma)
      return !allowed.has(transport) && !vouched.has(transport)
    }
  }
}
