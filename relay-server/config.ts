import { readFileSync } from 'node:fs'
import { isIP } from 'node:net'
import { parseArgs } from 'node:util'
import { multiaddr } from '@multiformats/multiaddr'
import { validateTurnUrl } from './turn.ts'
import type { PrivateKey } from '@libp2p/interface'

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent'
export const LOG_LEVELS: LogLevel[] = ['debug', 'info', 'warn', 'error', 'silent']

/**
 * What `createRelay` takes. Every field has a CLI flag `--kebab-name`, an env var
 * `PEERLANE_RELAY_SNAKE_NAME` and a key of the same (camelCase) name in the JSON config file.
 * Precedence: flag > env var > config file > default.
 */
export interface RelayConfig {
  /** IP address the WebSocket listener binds. @default '127.0.0.1' */
  host?: string
  /** TCP port of the WebSocket listener; 0 picks a free one. @default 9090 */
  port?: number
  /** Where the relay's key lives; created (mode 0600) on first run and reused. Ignored when `privateKey` is given. @default './relay.key' */
  keyFile?: string
  /** A key to use instead of the key file (in-process relays in tests) */
  privateKey?: PrivateKey
  /** Port of the HTTP server with `/health`, `/ready` and `/metrics`; 0 picks a free one; unset: no HTTP server */
  httpPort?: number
  /**
   * IP address the HTTP server binds, independent of `host`: `/metrics` is for the host and Prometheus, so it
   * stays on loopback unless exposed deliberately. @default '127.0.0.1'
   */
  httpHost?: string
  /** Addresses to advertise instead of the listening ones, e.g. `/dns4/relay.example.com/tcp/443/wss` behind a TLS proxy */
  announce?: string[]
  /** Once listening, write the relay's multiaddrs here as a JSON array */
  addrFile?: string
  /** PEM certificate file: the relay itself serves `wss` (`/tls/ws`); needs `tlsKey` */
  tlsCert?: string
  /** PEM private key file of `tlsCert` */
  tlsKey?: string
  /** Other relays of the federation, each a multiaddr ending in `/p2p/<PeerId>` */
  peers?: string[]
  /**
   * IPs of reverse proxies in front of the relay: for WebSockets from them, the client IP is taken from
   * `X-Forwarded-For`, so the per-IP limits (and logs) see clients rather than the proxy. @default []
   */
  trustProxy?: string[]
  /** Log level of the JSON log lines on stdout. @default 'info' */
  logLevel?: LogLevel
  /**
   * UDP port of the relay's own STUN server (on `host`), whose address the relay gives its peers for WebRTC;
   * 0 = off. @default 3478, or 0 when `turnUrls` are set (coturn answers STUN on the same port then)
   */
  stunPort?: number
  /** coturn's urls to give peers, e.g. `turn:turn.example.com:3478?transport=udp` (flag `--turn-url`, repeatable) */
  turnUrls?: string[]
  /** File holding coturn's `static-auth-secret` (`use-auth-secret`); required with `turnUrls` */
  turnSecretFile?: string
  /** Lifetime of the TURN credentials handed to a peer (seconds). @default 3600 */
  turnTtl?: number

  /** Reservations held at once; the slot of a peer that disconnects is freed at once. @default 4096 */
  maxReservations?: number
  /** Reservations held at once by peers connecting from one IP address. @default 8 */
  maxReservationsPerIp?: number
  /** How long a reservation lasts before the client must refresh it (ms). @default 3600000 */
  reservationTtl?: number
  /** How long one relayed circuit may stay open (ms). @default 600000 */
  circuitDuration?: number
  /** Bytes one relayed circuit may carry, both directions together. @default 4194304 */
  circuitData?: number
  /** Relayed circuits open at once from one peer (all its connections together). @default 32 */
  maxCircuitsPerPeer?: number
  /** Relayed circuits open at once to one peer (from all sources together). @default 64 */
  maxCircuitsPerTarget?: number
  /** Relayed circuits open at once to one peer from one source IP (IPv6: one /64). @default 8 */
  maxCircuitsPerTargetPerIp?: number
  /** Open connections at once; the federation's relays (`peers`, known by PeerId) are not counted and always get in. @default maxReservations + 512 */
  maxConnections?: number
  /** Open connections at once from one IP address (IPv6: one /64), pending ones included. @default 32 */
  maxConnectionsPerIp?: number
  /** New inbound connections per second from one IP address. @default 32 */
  connectionRatePerIp?: number
  /** Inbound connections still upgrading (WebSocket, Noise, Yamux) at once, in total. @default 256 */
  maxPendingConnections?: number
  /** Inbound connections still upgrading at once from one IP address (slowloris). @default 16 */
  maxPendingConnectionsPerIp?: number
  /** Time an inbound connection has to finish its WebSocket handshake and upgrade (ms). @default 10000 */
  upgradeTimeout?: number
  /** Largest WebSocket message the relay accepts (bytes). @default 1048576 */
  wsMaxPayload?: number
  /**
   * Room topics one peer can make the relay carry; only peers holding a reservation make it carry any.
   * @default 32
   */
  maxTopicsPerPeer?: number
  /**
   * Largest room message payload the relay forwards (bytes; the SDK's `maxMessageSize`, whose default is the
   * same): larger ones, and anything that is not a room envelope, are dropped, not forwarded. @default 65536
   */
  maxRoomMessageSize?: number
  /** How long a graceful shutdown may take before the process exits anyway (ms). @default 5000 */
  shutdownTimeout?: number
  /**
   * A room message whose envelope timestamp is further than this from the relay's clock (ms) is not
   * forwarded: replay protection, as members do it. @default 60000
   */
  replayWindow?: number
  /** How long GossipSub remembers a message it has seen (ms); at least twice `replayWindow`. @default 120000 */
  seenTtl?: number
}

/** A flag, env var or config-file value the relay cannot use; `field` is the flag's name */
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
  httpHost: '127.0.0.1',
  port: 9090,
  keyFile: './relay.key',
  logLevel: 'info' as LogLevel,
  maxReservations: 4096,
  maxReservationsPerIp: 8,
  reservationTtl: 60 * 60_000,
  circuitDuration: 10 * 60_000,
  circuitData: 4 * 1024 * 1024,
  maxCircuitsPerPeer: 32,
  maxCircuitsPerTarget: 64,
  maxCircuitsPerTargetPerIp: 8,
  maxConnectionsPerIp: 32,
  connectionRatePerIp: 32,
  maxPendingConnections: 256,
  maxPendingConnectionsPerIp: 16,
  upgradeTimeout: 10_000,
  wsMaxPayload: 1024 * 1024,
  maxTopicsPerPeer: 32,
  maxRoomMessageSize: 64 * 1024,
  shutdownTimeout: 5_000,
  turnTtl: 3600,
  replayWindow: 60_000,
  seenTtl: 120_000
}

/** The STUN port when none is configured: the usual one, unless coturn (turnUrls) runs beside the relay */
export const DEFAULT_STUN_PORT = 3478

/** The extra connections allowed beyond one per reservation (circuits, federation, dialling browsers) */
export const CONNECTION_HEADROOM = 512

export type ResolvedRelayConfig = RelayConfig & Required<Omit<RelayConfig, 'privateKey' | 'httpPort' | 'addrFile' | 'tlsCert' | 'tlsKey' | 'turnSecretFile'>>

type Kind = 'string' | 'int' | 'list' | 'level'
/** Every setting: its flag (kebab-case) and kind; the config-file key is the camelCase field */
const FIELDS: Record<Exclude<keyof RelayConfig, 'privateKey'>, Kind> = {
  host: 'string',
  port: 'int',
  keyFile: 'string',
  httpPort: 'int',
  httpHost: 'string',
  announce: 'list',
  addrFile: 'string',
  tlsCert: 'string',
  tlsKey: 'string',
  peers: 'list',
  trustProxy: 'list',
  logLevel: 'level',
  stunPort: 'int',
  turnUrls: 'list',
  turnSecretFile: 'string',
  turnTtl: 'int',
  maxReservations: 'int',
  maxReservationsPerIp: 'int',
  reservationTtl: 'int',
  circuitDuration: 'int',
  circuitData: 'int',
  maxCircuitsPerPeer: 'int',
  maxCircuitsPerTarget: 'int',
  maxCircuitsPerTargetPerIp: 'int',
  maxConnections: 'int',
  maxConnectionsPerIp: 'int',
  connectionRatePerIp: 'int',
  maxPendingConnections: 'int',
  maxPendingConnectionsPerIp: 'int',
  upgradeTimeout: 'int',
  wsMaxPayload: 'int',
  maxTopicsPerPeer: 'int',
  maxRoomMessageSize: 'int',
  shutdownTimeout: 'int',
  replayWindow: 'int',
  seenTtl: 'int'
}
type Field = keyof typeof FIELDS

/** `maxReservationsPerIp` → `max-reservations-per-ip`; `peers` → `peer` (the flag is repeated) */
export function flagName (field: string): string {
  if (field === 'peers') return 'peer'
  if (field === 'turnUrls') return 'turn-url'
  return field.replace(/[A-Z]/g, c => `-${c.toLowerCase()}`)
}
function envName (field: string): string {
  return `PEERLANE_RELAY_${flagName(field).toUpperCase().replaceAll('-', '_')}`
}

const OPTIONS = {
  config: { type: 'string' },
  help: { type: 'boolean' },
  ...Object.fromEntries(Object.entries(FIELDS).map(([field, kind]) => [flagName(field), kind === 'list' ? { type: 'string', multiple: true } : { type: 'string' }]))
} as const

/**
 * Reads flags (which win), `PEERLANE_RELAY_*` env vars and the JSON file named by `--config` /
 * `PEERLANE_RELAY_CONFIG` into a validated config; `help` asks for the usage text.
 * Throws `RelayConfigError` naming the first bad field.
 */
export function parseRelayArgs (argv: string[], env: Record<string, string | undefined> = {}): ResolvedRelayConfig & { help?: boolean } {
  let values: Record<string, string | string[] | boolean | undefined>
  try {
    values = parseArgs({ args: argv, options: OPTIONS as any, strict: true, allowPositionals: false }).values as typeof values
  } catch (err: any) {
    throw new RelayConfigError('arguments', err.message)
  }
  if (values.help === true) return { help: true } as any

  const configPath = (values.config as string | undefined) ?? env.PEERLANE_RELAY_CONFIG
  const file = configPath == null ? {} : readConfigFile(configPath)

  const config: Record<string, unknown> = {}
  for (const [field, kind] of Object.entries(FIELDS) as Array<[Field, Kind]>) {
    const flag = values[flagName(field)] as string | string[] | undefined
    const fromEnv = env[envName(field)]
    let value: unknown
    if (flag != null) value = flag
    else if (fromEnv != null) value = kind === 'list' ? fromEnv.split(',').map(s => s.trim()).filter(Boolean) : fromEnv
    else value = file[field]
    if (value == null) continue
    if (kind === 'int') value = toInt(flagName(field), value)
    config[field] = value
  }
  return validateRelayConfig(config as RelayConfig)
}

/** Reads the JSON config file: an object whose keys are RelayConfig fields */
export function readConfigFile (path: string): Partial<Record<Field, unknown>> {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (err: any) {
    throw new RelayConfigError('config', `cannot read ${path} (${err.code ?? err.message})`)
  }
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (err: any) {
    throw new RelayConfigError('config', `${path} is not JSON (${err.message})`)
  }
  if (json == null || typeof json !== 'object' || Array.isArray(json)) throw new RelayConfigError('config', `${path} must hold a JSON object`)
  for (const key of Object.keys(json)) {
    if (!(key in FIELDS)) throw new RelayConfigError('config', `${path}: unknown key ${JSON.stringify(key)} (keys are camelCase, e.g. "httpPort")`)
  }
  return json as Partial<Record<Field, unknown>>
}

/** Fills in defaults and checks every field, naming the first bad one (by its flag name) */
export function validateRelayConfig (config: RelayConfig): ResolvedRelayConfig {
  const c: Record<string, any> = { ...config }
  for (const [field, kind] of Object.entries(FIELDS) as Array<[Field, Kind]>) {
    const name = flagName(field)
    const value = c[field]
    if (value == null) continue
    if (kind === 'string' && (typeof value !== 'string' || value === '')) throw new RelayConfigError(name, `${JSON.stringify(value)} must be a non-empty string`)
    if (kind === 'list' && (!Array.isArray(value) || value.some(v => typeof v !== 'string'))) throw new RelayConfigError(name, `${JSON.stringify(value)} must be a list of strings`)
    if (kind === 'int' && (!Number.isSafeInteger(value) || value < 0)) throw new RelayConfigError(name, `${JSON.stringify(value)} is not a whole number`)
  }

  const out: Record<string, any> = { ...DEFAULTS, ...Object.fromEntries(Object.entries(c).filter(([, v]) => v != null)) }
  if (isIP(out.host) === 0) throw new RelayConfigError('host', `${JSON.stringify(out.host)} is not an IPv4 or IPv6 address`)
  if (isIP(out.httpHost) === 0) throw new RelayConfigError('http-host', `${JSON.stringify(out.httpHost)} is not an IPv4 or IPv6 address`)
  checkPort('port', out.port)
  if (out.httpPort != null) checkPort('http-port', out.httpPort)
  out.turnUrls ??= []
  for (const url of out.turnUrls) {
    try {
      validateTurnUrl(url)
    } catch (err: any) {
      throw new RelayConfigError('turn-url', err.message)
    }
  }
  out.stunPort ??= out.turnUrls.length > 0 ? 0 : DEFAULT_STUN_PORT
  checkPort('stun-port', out.stunPort)
  if (out.turnUrls.length > 0 && out.turnSecretFile == null) throw new RelayConfigError('turn-secret-file', 'is required with --turn-url: the relay signs each peer\'s TURN credentials with coturn\'s static-auth-secret')
  if (out.turnTtl < 60) throw new RelayConfigError('turn-ttl', `${out.turnTtl} is below 60 seconds: peers refresh credentials a minute before they expire`)
  if (!LOG_LEVELS.includes(out.logLevel)) throw new RelayConfigError('log-level', `${JSON.stringify(out.logLevel)} is not one of ${LOG_LEVELS.join(', ')}`)
  for (const field of ['maxReservations', 'maxReservationsPerIp', 'reservationTtl', 'circuitDuration', 'circuitData', 'maxCircuitsPerPeer', 'maxCircuitsPerTarget', 'maxCircuitsPerTargetPerIp', 'maxConnectionsPerIp', 'connectionRatePerIp', 'maxPendingConnections', 'maxPendingConnectionsPerIp', 'upgradeTimeout', 'maxTopicsPerPeer', 'maxRoomMessageSize', 'shutdownTimeout', 'replayWindow'] as const) {
    if (out[field] < 1) throw new RelayConfigError(flagName(field), `${JSON.stringify(out[field])} must be at least 1`)
  }
  if (config.seenTtl == null) out.seenTtl = Math.max(DEFAULTS.seenTtl, 2 * out.replayWindow)
  if (out.seenTtl < 2 * out.replayWindow) throw new RelayConfigError('seen-ttl', `${out.seenTtl} is below twice --replay-window (${2 * out.replayWindow}): a replay the seen cache forgot must be outside the window`)
  if (out.wsMaxPayload < 64 * 1024) throw new RelayConfigError('ws-max-payload', `${out.wsMaxPayload} is below 65536: Noise frames alone are up to 64 KiB`)
  out.maxConnections ??= out.maxReservations + CONNECTION_HEADROOM
  if (out.maxConnections < 1) throw new RelayConfigError('max-connections', `${JSON.stringify(out.maxConnections)} must be at least 1`)

  out.announce ??= []
  for (const value of out.announce) checkMultiaddr('announce', value)
  out.peers ??= []
  for (const value of out.peers) {
    const ma = checkMultiaddr('peer', value)
    if (ma.getComponents().at(-1)?.name !== 'p2p') throw new RelayConfigError('peer', `${JSON.stringify(value)} must end in /p2p/<relay PeerId>`)
  }
  out.trustProxy ??= []
  for (const ip of out.trustProxy) {
    if (isIP(ip) === 0) throw new RelayConfigError('trust-proxy', `${JSON.stringify(ip)} is not an IPv4 or IPv6 address`)
  }
  if ((out.tlsCert == null) !== (out.tlsKey == null)) {
    throw new RelayConfigError(out.tlsCert == null ? 'tls-cert' : 'tls-key', 'tls-cert and tls-key go together: give both, or neither (plain ws, e.g. behind a TLS proxy)')
  }
  return out as ResolvedRelayConfig
}

function checkMultiaddr (field: string, value: string): ReturnType<typeof multiaddr> {
  try {
    return multiaddr(value)
  } catch (err: any) {
    throw new RelayConfigError(field, `${JSON.stringify(value)} is not a multiaddr (${err.message})`)
  }
}

function toInt (field: string, value: unknown): number {
  if (typeof value === 'number') return value
  if (typeof value !== 'string' || !/^\d+$/.test(value.trim())) throw new RelayConfigError(field, `${JSON.stringify(value)} is not a whole number`)
  return Number(value)
}

function checkPort (field: string, port: number): void {
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new RelayConfigError(field, `${JSON.stringify(port)} is not a port (0-65535)`)
  }
}
