// The dial gater as a table (issue 15, line 10): each row an address, what the peer knows (its configured relays,
// what was vouched for, by whom, and how long ago), and whether a dial is allowed.
import { multiaddr } from '@multiformats/multiaddr'
import { describe, expect, it } from 'vitest'
import { VOUCH_DEFAULTS, Vouched, dialGater, scopeOf } from './gater.ts'

const R1 = '12D3KooWEyoH1kYv9S8YhHxYJiGMD3zsCdh6dPiGpqQtGsBTY31P'
const R2 = '12D3KooWJWoaqZhDaoEFshF7Rh1bpY9ohihFhzcW6d69Lr2NASuq'
const X = '12D3KooWKnDdG3iXw9eTFijk3EWSunZcFi54Zka4wmtqtt6rPxc8'
const LOCAL_RELAY = `/ip4/127.0.0.1/tcp/9090/ws/p2p/${R1}`
const PUBLIC_RELAY = `/dns4/relay.example.com/tcp/443/wss/p2p/${R1}`

interface Context {
  /** the configured relays */
  relays: string[]
  /** [address, the relay that vouched for it (undefined: the app connected to it)] */
  vouched?: Array<[string, string | undefined]>
  /** ms between vouching and dialling */
  after?: number
}

const local: Context = { relays: [LOCAL_RELAY] }
const pub: Context = { relays: [PUBLIC_RELAY] }
const vouchedBy = (voucher: string, ...addrs: string[]): Context => ({ relays: [voucher], vouched: addrs.map(a => [a, voucher]) })

const rows: Array<[string, string, Context, 'allow' | 'deny']> = [
  // the configured relays, and circuits (and WebRTC signalling) through them
  ['a configured ws:// relay on loopback', LOCAL_RELAY, local, 'allow'],
  ['a circuit through it', `${LOCAL_RELAY}/p2p-circuit/p2p/${X}`, local, 'allow'],
  ['WebRTC through it', `${LOCAL_RELAY}/p2p-circuit/webrtc/p2p/${X}`, local, 'allow'],
  ['a configured wss:// relay', PUBLIC_RELAY, pub, 'allow'],
  ['the same relay on another port', `/dns4/relay.example.com/tcp/444/wss/p2p/${R1}`, pub, 'deny'],
  // everything else a peer or relay could advertise
  ['ws:// on loopback, not a relay', `/ip4/127.0.0.1/tcp/9091/ws/p2p/${X}`, local, 'deny'],
  ['ws:// on a LAN address', `/ip4/192.168.1.1/tcp/80/ws/p2p/${X}`, pub, 'deny'],
  ['wss:// to a public host that is no relay', `/dns4/peer.example.org/tcp/443/wss/p2p/${X}`, pub, 'deny'],
  ['wss:// to a *.localhost name', `/dns4/admin.localhost/tcp/443/wss/p2p/${X}`, pub, 'deny'],
  ['a circuit through a relay nobody vouched for', `/dns4/other.example.org/tcp/443/wss/p2p/${R2}/p2p-circuit/p2p/${X}`, pub, 'deny'],
  ['plain TCP', `/ip4/8.8.8.8/tcp/4001/p2p/${X}`, pub, 'deny'],
  // what a public relay may vouch for: public wss:// only
  ['a public wss:// relay vouched by a public relay', `/dns4/r2.example.org/tcp/443/wss/p2p/${R2}`, vouchedBy(PUBLIC_RELAY, `/dns4/r2.example.org/tcp/443/wss/p2p/${R2}/p2p-circuit/p2p/${X}`), 'allow'],
  ['a circuit through it', `/dns4/r2.example.org/tcp/443/wss/p2p/${R2}/p2p-circuit/webrtc/p2p/${X}`, vouchedBy(PUBLIC_RELAY, `/dns4/r2.example.org/tcp/443/wss/p2p/${R2}`), 'allow'],
  ['…once its vouch expired', `/dns4/r2.example.org/tcp/443/wss/p2p/${R2}`, { ...vouchedBy(PUBLIC_RELAY, `/dns4/r2.example.org/tcp/443/wss/p2p/${R2}`), after: VOUCH_DEFAULTS.ttlMs + 1 }, 'deny'],
  ['…just before it expired', `/dns4/r2.example.org/tcp/443/wss/p2p/${R2}`, { ...vouchedBy(PUBLIC_RELAY, `/dns4/r2.example.org/tcp/443/wss/p2p/${R2}`), after: VOUCH_DEFAULTS.ttlMs - 1 }, 'allow'],
  ['ws:// vouched by a public relay', `/dns4/r2.example.org/tcp/80/ws/p2p/${R2}`, vouchedBy(PUBLIC_RELAY, `/dns4/r2.example.org/tcp/80/ws/p2p/${R2}`), 'deny'],
  ['a LAN IP vouched by a public relay', `/ip4/10.0.0.2/tcp/443/wss/p2p/${R2}`, vouchedBy(PUBLIC_RELAY, `/ip4/10.0.0.2/tcp/443/wss/p2p/${R2}`), 'deny'],
  ['loopback vouched by a public relay', `/ip4/127.0.0.1/tcp/443/wss/p2p/${R2}`, vouchedBy(PUBLIC_RELAY, `/ip4/127.0.0.1/tcp/443/wss/p2p/${R2}`), 'deny'],
  ['IPv6 loopback vouched by a public relay', `/ip6/::1/tcp/443/wss/p2p/${R2}`, vouchedBy(PUBLIC_RELAY, `/ip6/::1/tcp/443/wss/p2p/${R2}`), 'deny'],
  ['IPv6 ULA vouched by a public relay', `/ip6/fd00::1/tcp/443/wss/p2p/${R2}`, vouchedBy(PUBLIC_RELAY, `/ip6/fd00::1/tcp/443/wss/p2p/${R2}`), 'deny'],
  ['*.localhost vouched by a public relay', `/dns4/r2.localhost/tcp/443/wss/p2p/${R2}`, vouchedBy(PUBLIC_RELAY, `/dns4/r2.localhost/tcp/443/wss/p2p/${R2}`), 'deny'],
  ['localhost vouched by a public relay', `/dns/localhost/tcp/443/wss/p2p/${R2}`, vouchedBy(PUBLIC_RELAY, `/dns/localhost/tcp/443/wss/p2p/${R2}`), 'deny'],
  ['*.lan vouched by a public relay', `/dns4/nas.lan/tcp/443/wss/p2p/${R2}`, vouchedBy(PUBLIC_RELAY, `/dns4/nas.lan/tcp/443/wss/p2p/${R2}`), 'deny'],
  ['*.local vouched by a public relay', `/dns4/printer.local/tcp/443/wss/p2p/${R2}`, vouchedBy(PUBLIC_RELAY, `/dns4/printer.local/tcp/443/wss/p2p/${R2}`), 'deny'],
  ['*.home.arpa vouched by a public relay', `/dns4/router.home.arpa/tcp/443/wss/p2p/${R2}`, vouchedBy(PUBLIC_RELAY, `/dns4/router.home.arpa/tcp/443/wss/p2p/${R2}`), 'deny'],
  ['*.internal vouched by a public relay', `/dns6/db.internal/tcp/443/wss/p2p/${R2}`, vouchedBy(PUBLIC_RELAY, `/dns6/db.internal/tcp/443/wss/p2p/${R2}`), 'deny'],
  ['a one-label name vouched by a public relay', `/dns4/router/tcp/443/wss/p2p/${R2}`, vouchedBy(PUBLIC_RELAY, `/dns4/router/tcp/443/wss/p2p/${R2}`), 'deny'],
  ['an IP literal as a DNS name vouched by a public relay', `/dns4/192.168.0.1/tcp/443/wss/p2p/${R2}`, vouchedBy(PUBLIC_RELAY, `/dns4/192.168.0.1/tcp/443/wss/p2p/${R2}`), 'deny'],
  // a local (development) federation may vouch for local relays
  ['a loopback ws:// relay vouched by a loopback relay', `/ip4/127.0.0.1/tcp/9092/ws/p2p/${R2}`, vouchedBy(LOCAL_RELAY, `/ip4/127.0.0.1/tcp/9092/ws/p2p/${R2}/p2p-circuit/p2p/${X}`), 'allow'],
  ['a LAN relay vouched by a LAN relay', `/ip4/192.168.1.3/tcp/9090/ws/p2p/${R2}`, vouchedBy(`/ip4/192.168.1.2/tcp/9090/ws/p2p/${R1}`, `/ip4/192.168.1.3/tcp/9090/ws/p2p/${R2}`), 'allow'],
  ['loopback vouched by a LAN relay', `/ip4/127.0.0.1/tcp/9090/ws/p2p/${R2}`, vouchedBy(`/ip4/192.168.1.2/tcp/9090/ws/p2p/${R1}`, `/ip4/127.0.0.1/tcp/9090/ws/p2p/${R2}`), 'deny'],
  ['plain TCP vouched by a loopback relay', `/ip4/127.0.0.1/tcp/4001/p2p/${R2}`, vouchedBy(LOCAL_RELAY, `/ip4/127.0.0.1/tcp/4001/p2p/${R2}`), 'deny'],
  // what the app itself connected to
  ['a wss:// server the app connected to', `/dns4/peer.example.org/tcp/443/wss/p2p/${X}`, { relays: [PUBLIC_RELAY], vouched: [[`/dns4/peer.example.org/tcp/443/wss/p2p/${X}`, undefined]] }, 'allow'],
  ['…after the vouch expired', `/dns4/peer.example.org/tcp/443/wss/p2p/${X}`, { relays: [PUBLIC_RELAY], vouched: [[`/dns4/peer.example.org/tcp/443/wss/p2p/${X}`, undefined]], after: VOUCH_DEFAULTS.ttlMs + 1 }, 'deny']
]

describe('the dial gater', () => {
  for (const [what, address, context, expected] of rows) {
    it(`${expected}s ${what}`, () => {
      let now = 1_000_000
      const vouched = new Vouched(() => now)
      for (const [addr, voucher] of context.vouched ?? []) vouched.add(multiaddr(addr), voucher == null ? undefined : multiaddr(voucher))
      now += context.after ?? 0
      const gater = dialGater(context.relays.map(r => multiaddr(r)), vouched)
      expect(gater.denyDialMultiaddr?.(multiaddr(address)) === true ? 'deny' : 'allow').toBe(expected)
    })
  }

  it(`keeps at most ${VOUCH_DEFAULTS.max} vouched addresses, the newest`, () => {
    const vouched = new Vouched()
    const addr = (i: number): string => `/dns4/r${i}.example.org/tcp/443/wss/p2p/${R2}`
    for (let i = 0; i < VOUCH_DEFAULTS.max * 10; i++) vouched.add(multiaddr(addr(i)), multiaddr(PUBLIC_RELAY))
    expect(vouched.has(`/dns4/r${VOUCH_DEFAULTS.max * 10 - 1}.example.org/tcp/443/wss`)).toBe(true)
    expect(vouched.has('/dns4/r0.example.org/tcp/443/wss')).toBe(false)
    expect((vouched as any).until.size).toBe(VOUCH_DEFAULTS.max)
  })

  it('tells the scope of an address', () => {
    expect(scopeOf(multiaddr('/ip4/127.0.0.1/tcp/1/ws'))).toBe('loopback')
    expect(scopeOf(multiaddr('/ip4/100.64.0.1/tcp/1/ws'))).toBe('private')
    expect(scopeOf(multiaddr('/ip6/fe80::1/tcp/1/ws'))).toBe('private')
    expect(scopeOf(multiaddr('/dns4/EXAMPLE.com./tcp/1/ws'))).toBe('public')
    expect(scopeOf(multiaddr('/ip4/8.8.8.8/tcp/1/ws'))).toBe('public')
  })
})
