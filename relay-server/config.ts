import { isIP } from 'node:net'
import { parseArgs } from 'node:util'
import { multiaddr } from '@multiformats/multiaddr'
import type { PrivateKey } from '@libp2p/interface'

/** What `createRelay` takes; every field has a CLI flag `--kebab-name` and an env var `PEERLANE_RELAY_SNAKE_NAME` */
export interface RelayConfig {
  /**
   * IP address the WebSocket listener binds.
   *
   * @default '127.0.0.1'
   */
  host?: string

  /**
   * TCP port of the WebSocket listener; 0 picks a free one.
   *
   * @default 9090
   */
  port?: number

  /**
   * Where the relay's key lives; created (mode 0600) on first run and reused, so the PeerId is stable.
   * Ignored when `privateKey` is given.
   *
   * @default './relay.key'
   */
  keyFile?: string

  /** A key to use instead of the key file (in-process relays in tests) */
  privateKey?: PrivateKey

  /**
   * Port of the HTTP server with `GET /health` and `GET /metrics`, on `host`; 0 picks a free one; unset: no HTTP server.
   */
  httpPort?: number

  /**
   * Addresses to advertise instead of the listening ones, e.g. `/dns4/relay.example.com/tcp/443/wss`
   * behind a TLS-terminating proxy.
   *
   * @default []
   */
  announce?: string[]

  /** Once listening, write the relay's multiaddrs here as a JSON array */
  addrFile?: string

  /**
   * Reservations held at once; the slot of a peer that disconnects is freed at once.
   *
   * @default 4096
   */
  maxReservations?: number
}

/** A flag or environment variable has a value the relay cannot use */
export class RelayConfigError extends Error {
  static name = 'RelayConfigError'
  readonly field: string
  constructor (field: string, message: string) {
    super(`${field}: ${message}`)
    this.name = 'RelayConfigError'
    this.field = field
  }
}

export const DEFAULTS = {
  host: '127.0.0.1',
  port: 9090,
  keyFile: './relay.key',
  maxReservations: 4096
} as const

export const USAGE = `Usage: peerlane-relay [options]

Options (each also an env var PEERLANE_RELAY_<NAME>, e.g. PEERLANE_RELAY_HTTP_PORT=9091):
  --host <ip>               address to listen on (default ${DEFAULTS.host})
  --port <n>                WebSocket port, 0 = a free port (default ${DEFAULTS.port})
  --key-file <path>         relay key, created with mode 0600 on first run (default ${DEFAULTS.keyFile})
  --http-port <n>           serve GET /health and GET /metrics on this port (default: off)
  --announce <multiaddr>    address to advertise instead of the listening ones (repeatable;
                            env: comma-separated)
  --addr-file <path>        write the relay's multiaddrs there as JSON once listening
  --max-reservations <n>    reservations held at once (default ${DEFAULTS.maxReservations})
  --help                    print this
`

const OPTIONS = {
  host: { type: 'string' },
  port: { type: 'string' },
  'key-file': { type: 'string' },
  'http-port': { type: 'string' },
  announce: { type: 'string', multiple: true },
  'addr-file': { type: 'string' },
  'max-reservations': { type: 'string' },
  help: { type: 'boolean' }
} as const

/** Reads flags (which win) and `PEERLANE_RELAY_*` env vars into a validated config; `help` asks for the usage text */
export function parseRelayArgs (argv: string[], env: Record<string, string | undefined> = {}): RelayConfig & { help?: boolean } {
  let values: Record<string, string | string[] | boolean | undefined>
  try {
    values = parseArgs({ args: argv, options: OPTIONS, strict: true, allowPositionals: false }).values
  } catch (err: any) {
    throw new RelayConfigError('arguments', err.message)
  }
  if (values.help === true) return { help: true }

  const pick = (flag: string): string | undefined => {
    const value = values[flag]
    if (typeof value === 'string') return value
    return env[`PEERLANE_RELAY_${flag.toUpperCase().replaceAll('-', '_')}`]
  }
  const announceEnv = env.PEERLANE_RELAY_ANNOUNCE?.split(',').map(s => s.trim()).filter(Boolean)

  return validateRelayConfig({
    host: pick('host'),
    port: toInt('port', pick('port')),
    keyFile: pick('key-file'),
    httpPort: toInt('http-port', pick('http-port')),
    announce: (values.announce as string[] | undefined) ?? announceEnv,
    addrFile: pick('addr-file'),
    maxReservations: toInt('max-reservations', pick('max-reservations'))
  })
}

/** Fills in defaults and checks every field, naming the first bad one */
export function validateRelayConfig (config: RelayConfig): RelayConfig {
  const host = config.host ?? DEFAULTS.host
  if (isIP(host) === 0) throw new RelayConfigError('host', `${JSON.stringify(host)} is not an IPv4 or IPv6 address`)
  const port = config.port ?? DEFAULTS.port
  checkPort('port', port)
  if (config.httpPort != null) checkPort('http-port', config.httpPort)
  const maxReservations = config.maxReservations ?? DEFAULTS.maxReservations
  if (!Number.isInteger(maxReservations) || maxReservations < 1) {
    throw new RelayConfigError('max-reservations', `${JSON.stringify(maxReservations)} is not a whole number ≥ 1`)
  }
  const announce = config.announce ?? []
  for (const value of announce) {
    try {
      multiaddr(value)
    } catch (err: any) {
      throw new RelayConfigError('announce', `${JSON.stringify(value)} is not a multiaddr (${err.message})`)
    }
  }
  const keyFile = config.keyFile ?? DEFAULTS.keyFile
  if (keyFile === '') throw new RelayConfigError('key-file', 'must not be empty')
  return { ...config, host, port, keyFile, announce, maxReservations }
}

function toInt (field: string, value: string | undefined): number | undefined {
  if (value == null) return undefined
  if (!/^\d+$/.test(value.trim())) throw new RelayConfigError(field, `${JSON.stringify(value)} is not a whole number`)
  return Number(value)
}

function checkPort (field: string, port: number): void {
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new RelayConfigError(field, `${JSON.stringify(port)} is not a port (0-65535)`)
  }
}
