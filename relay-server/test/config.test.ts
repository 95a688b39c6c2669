import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { CONNECTION_HEADROOM, DEFAULTS, parseRelayArgs } from '../config.ts'

const RELAY = '/ip4/10.0.0.2/tcp/9090/ws/p2p/12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA'
const dir = mkdtempSync(join(tmpdir(), 'peerlane-config-'))
function file (name: string, content: string): string {
  const path = join(dir, name)
  writeFileSync(path, content)
  return path
}

describe('parseRelayArgs', () => {
  it('has the documented defaults', () => {
    expect(parseRelayArgs([], {})).toEqual({
      host: '127.0.0.1',
      httpHost: '127.0.0.1',
      port: 9090,
      keyFile: './relay.key',
      announce: [],
      peers: [],
      trustProxy: [],
      logLevel: 'info',
      maxReservations: 4096,
      maxReservationsPerIp: 8,
      reservationTtl: 3_600_000,
      circuitDuration: 600_000,
      circuitData: 4 * 1024 * 1024,
      maxCircuitsPerPeer: 32,
      maxCircuitsPerTarget: 64,
      maxCircuitsPerTargetPerIp: 8,
      maxConnections: 4096 + CONNECTION_HEADROOM,
      maxConnectionsPerIp: 32,
      connectionRatePerIp: 32,
      maxPendingConnections: 256,
      maxPendingConnectionsPerIp: 16,
      upgradeTimeout: 10_000,
      wsMaxPayload: 1024 * 1024,
      maxTopicsPerPeer: 32,
      maxRoomMessageSize: 64 * 1024,
      shutdownTimeout: 5_000,
      stunPort: 3478,
      turnUrls: [],
      turnTtl: 3600,
      replayWindow: 60_000,
      seenTtl: 120_000
    })
  })

  it('runs no STUN of its own by default when coturn is named (it answers STUN on 3478 itself)', () => {
    const config = parseRelayArgs(['--turn-url', 'turn:turn.example.com:3478?transport=udp', '--turn-secret-file', '/s'], {})
    expect(config).toMatchObject({ stunPort: 0, turnUrls: ['turn:turn.example.com:3478?transport=udp'], turnSecretFile: '/s' })
    expect(() => parseRelayArgs(['--turn-url', 'turn:t.example.com:3478'], {})).toThrow(/turn-secret-file/)
    expect(() => parseRelayArgs(['--turn-ttl', '10'], {})).toThrow(/turn-ttl/)
    expect(() => parseRelayArgs(['--stun-port', '70000'], {})).toThrow(/stun-port/)
  })

  it('reads every flag', () => {
    expect(parseRelayArgs([
      '--host', '0.0.0.0', '--port', '0', '--key-file', '/tmp/k', '--http-port', '9091',
      '--announce', '/dns4/relay.example.com/tcp/443/wss', '--announce', '/ip4/1.2.3.4/tcp/9090/ws',
      '--addr-file', '/tmp/a.json', '--max-reservations', '100', '--peer', RELAY, '--log-level', 'debug',
      '--tls-cert', '/c.pem', '--tls-key', '/k.pem', '--max-reservations-per-ip', '3', '--reservation-ttl', '1000',
      '--circuit-duration', '2000', '--circuit-data', '3000', '--max-circuits-per-peer', '4', '--max-connections', '5',
      '--connection-rate-per-ip', '6', '--max-pending-connections', '7', '--max-pending-connections-per-ip', '8',
      '--upgrade-timeout', '9000', '--ws-max-payload', '100000', '--shutdown-timeout', '11', '--trust-proxy', '127.0.0.1',
      '--stun-port', '3479', '--turn-url', 'turn:t.example.com:3478', '--turn-url', 'turns:t.example.com:5349?transport=tcp',
      '--turn-secret-file', '/s', '--turn-ttl', '600', '--http-host', '::1', '--max-circuits-per-target', '12',
      '--max-circuits-per-target-per-ip', '13', '--max-connections-per-ip', '14', '--max-topics-per-peer', '15',
      '--max-room-message-size', '16', '--replay-window', '2000', '--seen-ttl', '5000'
    ], {})).toEqual({
      httpHost: '::1',
      maxCircuitsPerTarget: 12,
      maxCircuitsPerTargetPerIp: 13,
      maxConnectionsPerIp: 14,
      maxTopicsPerPeer: 15,
      maxRoomMessageSize: 16,
      replayWindow: 2000,
      seenTtl: 5000,
      stunPort: 3479,
      turnUrls: ['turn:t.example.com:3478', 'turns:t.example.com:5349?transport=tcp'],
      turnSecretFile: '/s',
      turnTtl: 600,
      trustProxy: ['127.0.0.1'],
      host: '0.0.0.0',
      port: 0,
      keyFile: '/tmp/k',
      httpPort: 9091,
      announce: ['/dns4/relay.example.com/tcp/443/wss', '/ip4/1.2.3.4/tcp/9090/ws'],
      addrFile: '/tmp/a.json',
      maxReservations: 100,
      peers: [RELAY],
      logLevel: 'debug',
      tlsCert: '/c.pem',
      tlsKey: '/k.pem',
      maxReservationsPerIp: 3,
      reservationTtl: 1000,
      circuitDuration: 2000,
      circuitData: 3000,
      maxCircuitsPerPeer: 4,
      maxConnections: 5,
      connectionRatePerIp: 6,
      maxPendingConnections: 7,
      maxPendingConnectionsPerIp: 8,
      upgradeTimeout: 9000,
      wsMaxPayload: 100000,
      shutdownTimeout: 11
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
      PEERLANE_RELAY_MAX_RESERVATIONS: '50',
      PEERLANE_RELAY_PEER: RELAY,
      PEERLANE_RELAY_MAX_RESERVATIONS_PER_IP: '2',
      PEERLANE_RELAY_LOG_LEVEL: 'warn'
    }
    expect(parseRelayArgs([], env)).toMatchObject({
      host: '::1',
      port: 7000,
      keyFile: '/keys/relay.key',
      httpPort: 7001,
      announce: ['/dns4/a.example.com/tcp/443/wss', '/dns4/b.example.com/tcp/443/wss'],
      addrFile: '/run/addrs.json',
      maxReservations: 50,
      maxConnections: 50 + CONNECTION_HEADROOM,
      peers: [RELAY],
      maxReservationsPerIp: 2,
      logLevel: 'warn'
    })
    expect(parseRelayArgs(['--port', '8000', '--announce', '/ip4/5.6.7.8/tcp/1/ws'], env)).toMatchObject({
      port: 8000,
      announce: ['/ip4/5.6.7.8/tcp/1/ws'],
      httpPort: 7001
    })
  })

  it('reads a JSON config file (--config or PEERLANE_RELAY_CONFIG), below env vars and flags', () => {
    const path = file('relay.json', JSON.stringify({ port: 7100, httpPort: 7101, maxReservationsPerIp: 4, peers: [RELAY], logLevel: 'error' }))
    expect(parseRelayArgs(['--config', path], {})).toMatchObject({ port: 7100, httpPort: 7101, maxReservationsPerIp: 4, peers: [RELAY], logLevel: 'error', maxReservations: DEFAULTS.maxReservations })
    expect(parseRelayArgs([], { PEERLANE_RELAY_CONFIG: path, PEERLANE_RELAY_PORT: '7200' })).toMatchObject({ port: 7200, httpPort: 7101 })
    expect(parseRelayArgs(['--config', path, '--port', '7300'], { PEERLANE_RELAY_PORT: '7200' })).toMatchObject({ port: 7300 })
  })

  it('asks for help', () => {
    expect(parseRelayArgs(['--help'])).toEqual({ help: true })
  })

  const bad: Array<[string[], Record<string, string>, string, string?]> = [
    [['--port', 'abc'], {}, 'port'],
    [['--port', '70000'], {}, 'port'],
    [[], { PEERLANE_RELAY_PORT: '-1' }, 'port'],
    [['--http-port', '1.5'], {}, 'http-port'],
    [['--host', 'example.com'], {}, 'host'],
    [['--http-host', 'localhost'], {}, 'http-host'],
    [['--max-connections-per-ip', '0'], {}, 'max-connections-per-ip'],
    [[], { PEERLANE_RELAY_MAX_TOPICS_PER_PEER: '0' }, 'max-topics-per-peer'],
    [['--announce', 'not-a-multiaddr'], {}, 'announce'],
    [['--max-reservations', '0'], {}, 'max-reservations'],
    [['--max-reservations-per-ip', 'eight'], {}, 'max-reservations-per-ip'],
    [[], { PEERLANE_RELAY_CIRCUIT_DATA: '1e6' }, 'circuit-data'],
    [['--ws-max-payload', '1000'], {}, 'ws-max-payload'],
    [['--log-level', 'loud'], {}, 'log-level'],
    [[], { PEERLANE_RELAY_TRUST_PROXY: '127.0.0.1, proxy.local' }, 'trust-proxy'],
    [['--peer', '/ip4/10.0.0.2/tcp/9090/ws'], {}, 'peer'],
    [['--peer', 'relay-2'], {}, 'peer'],
    [['--tls-cert', '/c.pem'], {}, 'tls-key'],
    [['--tls-key', '/k.pem'], {}, 'tls-cert'],
    [['--key-file', ''], {}, 'key-file'],
    [['--config', '/nonexistent/relay.json'], {}, 'config'],
    [['--config', file('bad.json', '{ "port": 1,')], {}, 'config'],
    [['--config', file('unknown.json', '{ "prot": 1 }')], {}, 'config', '"prot"'],
    [['--config', file('badport.json', '{ "port": "eighty" }')], {}, 'port'],
    [['--config', file('badpeers.json', '{ "peers": "x" }')], {}, 'peer'],
    [['--seen-ttl', '1000', '--replay-window', '600'], {}, 'seen-ttl', 'twice'],
    [['--replay-window', '0'], {}, 'replay-window'],
    [['--bogus'], {}, 'arguments'],
    [['positional'], {}, 'arguments']
  ]
  for (const [argv, env, field, detail] of bad) {
    it(`names ${field} in ${JSON.stringify([...argv, ...Object.values(env)])}`, () => {
      try {
        parseRelayArgs(argv, env)
        expect.unreachable('bad arguments were accepted')
      } catch (err: any) {
        expect(err.name).toBe('RelayConfigError')
        expect(err.field).toBe(field)
        expect(err.message).toContain(field)
        if (detail != null) expect(err.message).toContain(detail)
      }
    })
  }
})
