import { describe, expect, it } from 'vitest'
import { parseRelayArgs } from './config.ts'

describe('parseRelayArgs', () => {
  it('has the documented defaults', () => {
    expect(parseRelayArgs([], {})).toEqual({
      host: '127.0.0.1',
      port: 9090,
      keyFile: './relay.key',
      httpPort: undefined,
      announce: [],
      addrFile: undefined,
      maxReservations: 4096
    })
  })

  it('reads every flag', () => {
    expect(parseRelayArgs([
      '--host', '0.0.0.0', '--port', '0', '--key-file', '/tmp/k', '--http-port', '9091',
      '--announce', '/dns4/relay.example.com/tcp/443/wss', '--announce', '/ip4/1.2.3.4/tcp/9090/ws',
      '--addr-file', '/tmp/a.json', '--max-reservations', '100'
    ], {})).toEqual({
      host: '0.0.0.0',
      port: 0,
      keyFile: '/tmp/k',
      httpPort: 9091,
      announce: ['/dns4/relay.example.com/tcp/443/wss', '/ip4/1.2.3.4/tcp/9090/ws'],
      addrFile: '/tmp/a.json',
      maxReservations: 100
    })
  })

  it('reads PEERLANE_RELAY_* env vars, and flags win over them', () => {
    const env = {
      PEERLANE_RELAY_HOST: '::1',
      PEERLANE_RELAY_PORT: '7000',
      PEERLANE_RELAY_KEY_FILE: '/keys/relay.key',
      PEERLANE_RELAY_HTTP_PORT: '7001',
      PEERLANE_RELAY_ANNOUNCE: '/dns4/a.example.com/tcp/443/wss, /dns4/b.example.com/tcp/443/wss',
      PEERLANE_RELAY_ADDR_FILE: '/run/addrs.json',
      PEERLANE_RELAY_MAX_RESERVATIONS: '50'
    }
    expect(parseRelayArgs([], env)).toEqual({
      host: '::1',
      port: 7000,
      keyFile: '/keys/relay.key',
      httpPort: 7001,
      announce: ['/dns4/a.example.com/tcp/443/wss', '/dns4/b.example.com/tcp/443/wss'],
      addrFile: '/run/addrs.json',
      maxReservations: 50
    })
    expect(parseRelayArgs(['--port', '8000', '--announce', '/ip4/5.6.7.8/tcp/1/ws'], env)).toMatchObject({
      port: 8000,
      announce: ['/ip4/5.6.7.8/tcp/1/ws'],
      httpPort: 7001
    })
  })

  it('asks for help', () => {
    expect(parseRelayArgs(['--help'])).toEqual({ help: true })
  })

  const bad: Array<[string[], Record<string, string>, string]> = [
    [['--port', 'abc'], {}, 'port'],
    [['--port', '70000'], {}, 'port'],
    [[], { PEERLANE_RELAY_PORT: '-1' }, 'port'],
    [['--http-port', '1.5'], {}, 'http-port'],
    [['--host', 'example.com'], {}, 'host'],
    [['--announce', 'not-a-multiaddr'], {}, 'announce'],
    [['--max-reservations', '0'], {}, 'max-reservations'],
    [['--key-file', ''], {}, 'key-file'],
    [['--bogus'], {}, 'arguments'],
    [['positional'], {}, 'arguments']
  ]
  for (const [argv, env, field] of bad) {
    it(`names ${field} in ${JSON.stringify([...argv, ...Object.values(env)])}`, () => {
      try {
        parseRelayArgs(argv, env)
        expect.unreachable('bad arguments were accepted')
      } catch (err: any) {
        expect(err.name).toBe('RelayConfigError')
        expect(err.field).toBe(field)
        expect(err.message).toContain(field)
      }
    })
  }
})
