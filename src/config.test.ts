import { generateKeyPair } from '@libp2p/crypto/keys'
import { describe, expect, it } from 'vitest'
import { resolveConfig } from './config.ts'
import type { PeerOptions } from './config.ts'

const RELAY = '/ip4/127.0.0.1/tcp/9090/ws/p2p/12D3KooWEyoH1kYv9S8YhHxYJiGMD3zsCdh6dPiGpqQtGsBTY31P'
const RELAY2 = '/dns4/relay.example.com/tcp/443/wss/p2p/12D3KooWKVr1jFAzEnq1mpU27MpWrcEPhkvNxFhmGPg7RsbujAb9'

function rejects (options: unknown, name: string, text: string): void {
  try {
    resolveConfig(options as PeerOptions)
    expect.unreachable('resolveConfig accepted bad options')
  } catch (err: any) {
    expect(err.name).toBe(name)
    expect(err.message).toContain(text)
  }
}

describe('resolveConfig', () => {
  it('fills in the documented defaults', () => {
    const config = resolveConfig({ relays: [RELAY] })
    expect(config).toMatchObject({
      identity: 'memory', // no IndexedDB in Node
      identityName: 'default',
      whenIdentityInUse: 'ephemeral',
      iceServers: [],
      maxReservations: 1,
      timeout: 15_000
    })
    expect([...config.relayIds]).toEqual(['12D3KooWEyoH1kYv9S8YhHxYJiGMD3zsCdh6dPiGpqQtGsBTY31P'])
  })

  it('reserves on two relays by default when given two or more, never on more than it has', () => {
    expect(resolveConfig({ relays: [RELAY, RELAY2] }).maxReservations).toBe(2)
    expect(resolveConfig({ relays: [RELAY], maxReservations: 5 }).maxReservations).toBe(1)
  })

  it('accepts a PrivateKey as identity', async () => {
    const key = await generateKeyPair('Ed25519')
    expect(resolveConfig({ relays: [RELAY], identity: key }).identity).toBe(key)
  })

  it('names a relay that is not a multiaddr', () => {
    rejects({ relays: [RELAY, 'relay.example.com:443'] }, 'InvalidAddressError', '"relay.example.com:443"')
    rejects({ relays: ['/ip4/1.2.3.4/tcp/notaport/ws'] }, 'InvalidAddressError', '/ip4/1.2.3.4/tcp/notaport/ws')
    rejects({ relays: [42] }, 'InvalidAddressError', '"42"')
  })

  it('names a relay without a PeerId or without WebSockets', () => {
    rejects({ relays: ['/ip4/127.0.0.1/tcp/9090/ws'] }, 'InvalidAddressError', 'no /p2p/<relay PeerId>')
    rejects({ relays: ['/ip4/127.0.0.1/tcp/9090/p2p/12D3KooWEyoH1kYv9S8YhHxYJiGMD3zsCdh6dPiGpqQtGsBTY31P'] }, 'InvalidAddressError', 'relays[0]')
  })

  it('names every other bad option', () => {
    rejects(undefined, 'InvalidConfigError', 'options')
    rejects({}, 'InvalidConfigError', 'relays')
    rejects({ relays: [] }, 'InvalidConfigError', 'relays')
    rejects({ relays: RELAY }, 'InvalidConfigError', 'relays')
    rejects({ relays: [RELAY], identity: 'localStorage' }, 'InvalidConfigError', 'identity')
    rejects({ relays: [RELAY], identityName: '' }, 'InvalidConfigError', 'identityName')
    rejects({ relays: [RELAY], whenIdentityInUse: 'steal' }, 'InvalidConfigError', 'whenIdentityInUse')
    rejects({ relays: [RELAY], iceServers: ['stun:stun.example.com'] }, 'InvalidConfigError', 'iceServers')
    rejects({ relays: [RELAY], maxReservations: 0 }, 'InvalidConfigError', 'maxReservations')
    rejects({ relays: [RELAY], maxDirectPeers: -1 }, 'InvalidConfigError', 'maxDirectPeers')
    rejects({ relays: [RELAY], rtcConfiguration: [] }, 'InvalidConfigError', 'rtcConfiguration')
    rejects({ relays: [RELAY], timeout: -1 }, 'InvalidConfigError', 'timeout')
  })
})
