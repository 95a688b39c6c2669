// What the relay's per-IP limits count by. The key itself is the STUN responder's (stun.ts), so that every
// per-IP limit of the relay, STUN's included, groups addresses the same way.
import { sourceAddress } from './stun.ts'
import type { Multiaddr } from '@multiformats/multiaddr'

/** The IP of an /ip4 or /ip6 multiaddr */
export function hostOf (ma: Multiaddr): string | undefined {
  const c = ma.getComponents()[0]
  return c?.name === 'ip4' || c?.name === 'ip6' ? c.value : undefined
}

/**
 * What every per-IP limit counts by: the IPv4 address (an IPv4-mapped IPv6 one too), or the IPv6 /64,
 * since one host or household gets a whole /64 and could otherwise escape each limit 2^64 times over.
 * Undefined for anything that is not an IP address.
 */
export function ipKey (ip: string): string | undefined {
  return sourceAddress(ip)?.key
}

/** {@link ipKey} of an /ip4 or /ip6 multiaddr's address */
export function ipKeyOf (ma: Multiaddr): string | undefined {
  const host = hostOf(ma)
  return host == null ? undefined : ipKey(host)
}
