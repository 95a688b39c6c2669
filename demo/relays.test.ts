import { describe, expect, it } from 'vitest'
import { chooseRelays, MAX_URL_RELAYS } from './relays.ts'

const ID = '12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN'
const local = `/ip4/127.0.0.1/tcp/9090/ws/p2p/${ID}`
const remote = (n: number): string => `/dns4/relay${n}.example.com/tcp/443/wss/p2p/${ID}`

describe('chooseRelays', () => {
  it('uses the configured relays without ?relay=', () => {
    expect(chooseRelays([local, remote(1)], [])).toEqual({ relays: [local, remote(1)], refused: [] })
  })

  it('lets ?relay= pick among the configured relays', () => {
    expect(chooseRelays([local, remote(1), remote(2)], [remote(2)])).toEqual({ relays: [remote(2)], refused: [] })
  })

  it('refuses a relay that is not configured, and dials the configured ones instead', () => {
    const choice = chooseRelays([local], [remote(9)])
    expect(choice.relays).toEqual([local])
    expect(choice.refused).toEqual([{ address: remote(9), reason: expect.stringMatching(/not one of this page's configured relays/) }])
  })

  it('refuses ws:// to another machine, even when configured, and what is not a WebSocket multiaddr', () => {
    const plain = `/ip4/192.168.1.5/tcp/9090/ws/p2p/${ID}`
    const choice = chooseRelays([plain, local], [plain, `/ip4/127.0.0.1/tcp/9090/p2p/${ID}`, 'wss://relay.example.com', local])
    expect(choice.relays).toEqual([local])
    expect(choice.refused.map(r => r.reason)).toEqual([
      expect.stringMatching(/only for a relay on this machine/),
      expect.stringMatching(/not a WebSocket/),
      'not a multiaddr'
    ])
  })

  it(`takes at most ${MAX_URL_RELAYS} from the URL`, () => {
    const configured = [1, 2, 3, 4, 5].map(remote)
    const choice = chooseRelays(configured, configured)
    expect(choice.relays).toEqual(configured.slice(0, MAX_URL_RELAYS))
    expect(choice.refused).toHaveLength(2)
    expect(choice.refused[0].reason).toMatch(/more than 3/)
  })

  it('accepts /tls/ws as wss and compares canonical multiaddrs', () => {
    const tls = `/dns4/relay.example.com/tcp/443/tls/ws/p2p/${ID}`
    expect(chooseRelays([tls], [` ${tls} `]).relays).toEqual([tls])
  })
})
