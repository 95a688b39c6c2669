import { isWebSocketAddress, lastPeerId, parseMultiaddr } from './address.ts'
import { InvalidAddressError, InvalidConfigError } from './errors.ts'
import type { IdentityInUsePolicy, IdentityOption, Protection } from './identity.ts'
import type { Multiaddr } from '@multiformats/multiaddr'

/** Default `replayWindow` (ms); REPLAY_DEFAULTS (replay.ts) has it with the rest of replay protection */
export const REPLAY_WINDOW = 60_000
/** Default `seenTTL` (ms): GossipSub's own default, twice the default window */
export const SEEN_TTL = 120_000

/** Options for `createPeer` */
export interface PeerOptions {
  /**
   * Relay multiaddrs, each ending in `/p2p/<relay PeerId>` and using `/ws` or `/wss`.
   * The peer connects to them and reserves a slot so that others can reach it.
   */
  relays: string[]

  /**
   * Where the key lives.
   *
   * @default 'indexeddb' in browsers, 'memory' where IndexedDB does not exist (Node)
   */
  identity?: IdentityOption

  /**
   * The IndexedDB entry the identity is stored under; give each app on one origin its own name
   * if they should be different peers.
   *
   * @default 'default'
   */
  identityName?: string

  /**
   * Encrypts the stored key at rest: `'device'` (a non-extractable WebCrypto key kept in IndexedDB wraps it)
   * or `{ passphrase }` (PBKDF2-SHA256, 600,000 iterations, AES-GCM; asked for at every start). A stored key
   * is re-sealed when this changes, never turned back into clear text.
   *
   * @default undefined (stored in clear, like libp2p's own keychain without a password)
   */
  protect?: Protection

  /**
   * What a second tab of the same origin gets while the first runs with the stored identity:
   * `'ephemeral'` a fresh in-memory key (the page works, under another PeerId), `'wait'` waits until
   * the other tab stops, `'error'` rejects with `IdentityInUseError`.
   *
   * @default 'ephemeral'
   */
  whenIdentityInUse?: IdentityInUsePolicy

  /**
   * More ICE servers for WebRTC, after those our relays offer (see `relayIceServers`). No third-party STUN
   * server learns about your users unless the app names one here.
   *
   * @default []
   */
  iceServers?: RTCIceServer[]

  /**
   * Ask each relay for its ICE servers (its own STUN server, and TURN through coturn with short-lived
   * credentials where the relay has it), over the connection to it. `false`: only `iceServers` are used.
   *
   * @default true
   */
  relayIceServers?: boolean

  /**
   * Anything else for the RTCPeerConnections WebRTC links use, e.g. `{ iceTransportPolicy: 'relay' }` to
   * allow only TURN. `iceServers` above wins over an `iceServers` given here.
   *
   * @default {}
   */
  rtcConfiguration?: RTCConfiguration

  /**
   * On how many of the configured relays to hold a reservation at once.
   *
   * @default 2 (or 1 when a single relay is configured)
   */
  maxReservations?: number

  /**
   * How many room members to link to directly (WebRTC) at most; beyond that GossipSub carries room
   * messages through the relay and other members.
   *
   * @default 8
   */
  maxDirectPeers?: number

  /**
   * How long `createPeer` waits for the first reservation before it rejects with `RelayUnavailableError`.
   *
   * @default 15000
   */
  timeout?: number

  /** Where shared and fetched content is kept, and the limits of sharing it (`peer.share` / `peer.fetch`) */
  content?: ContentOptions

  /**
   * Replay protection: a live room message whose timestamp is further than this from our clock (ms) is
   * dropped, and so is one behind its author's newer messages (README › Rooms on the wire). Room history
   * is exempt. At most half of `seenTTL`.
   *
   * @default 60000
   */
  replayWindow?: number

  /**
   * How long GossipSub remembers the id of a message it has seen, and drops copies of it (ms). At least
   * twice `replayWindow`, so that a copy it has forgotten is outside the window.
   *
   * @default 120000 (GossipSub's own default)
   */
  seenTTL?: number

  /** Aborts `createPeer`; the half-started node is stopped */
  signal?: AbortSignal
}

/** Options for the content store (`createPeer({ content })`) */
export interface ContentOptions {
  /**
   * Where blocks are stored: `'indexeddb'` (a browser: database `peerlane-blocks:<identityName>`), `'memory'`,
   * or `{ directory }` (Node: one file per block, blockstore-fs).
   *
   * @default 'indexeddb' in browsers, 'memory' elsewhere
   */
  store?: 'indexeddb' | 'memory' | { directory: string }
  /**
   * Bytes of blocks the store may hold. Past it, the least recently used content that is not being shared or
   * fetched right now is evicted; when that is not enough, `share`/`fetch` reject with `StorageQuotaError`.
   *
   * @default 1073741824 (1 GiB)
   */
  quota?: number
  /**
   * Size of the blocks `share` cuts content into (UnixFS leaves), at most 1 MiB. Blocks fetched from others
   * may be up to 1 MiB whatever this says.
   *
   * @default 262144 (256 KiB)
   */
  blockSize?: number
  /**
   * Blocks `fetch` asks one holder for at once.
   *
   * @default 16
   */
  maxBlocksInFlight?: number
  /**
   * Bytes per second this peer serves to one other peer (Bitswap blocks); a peer that asks for more waits.
   *
   * @default 67108864 (64 MiB/s)
   */
  maxServeRate?: number
}

/** The largest block Peerlane cuts or accepts: Bitswap peers agree on blocks of at most 1 MiB (messages of 4 MiB) */
export const MAX_BLOCK_SIZE = 1024 * 1024

/** The validated form of `ContentOptions` */
export interface ContentConfig {
  store: 'indexeddb' | 'memory' | { directory: string }
  quota: number
  blockSize: number
  maxBlocksInFlight: number
  maxServeRate: number
}

/** The validated form of `PeerOptions` */
export interface PeerConfig {
  relays: Multiaddr[]
  relayIds: Set<string>
  identity: IdentityOption
  identityName: string
  protect?: Protection
  whenIdentityInUse: IdentityInUsePolicy
  iceServers: RTCIceServer[]
  relayIceServers: boolean
  rtcConfiguration: RTCConfiguration
  maxReservations: number
  maxDirectPeers: number
  timeout: number
  content: ContentConfig
  replayWindow: number
  seenTTL: number
}

const POLICIES: IdentityInUsePolicy[] = ['ephemeral', 'wait', 'error']

/** Checks every option and fills in defaults; throws `InvalidConfigError` / `InvalidAddressError` naming the bad value */
export function resolveConfig (options: PeerOptions): PeerConfig {
  if (options == null || typeof options !== 'object') {
    throw new InvalidConfigError('options', 'createPeer needs an options object with at least `relays`')
  }
  const { relays } = options
  if (!Array.isArray(relays) || relays.length === 0) {
    throw new InvalidConfigError('relays', 'must be a non-empty array of relay multiaddr strings')
  }
  const relayAddrs = relays.map((value, i) => {
    const ma = parseMultiaddr(value)
    if (!isWebSocketAddress(ma)) {
      throw new InvalidAddressError(value, `(relays[${i}]) is not a WebSocket address: a relay address uses /ws or /wss and ends in /p2p/<relay PeerId>`)
    }
    if (lastPeerId(ma) == null) {
      throw new InvalidAddressError(value, `(relays[${i}]) has no /p2p/<relay PeerId> at its end: the relay's PeerId is needed to build circuit addresses`)
    }
    return ma
  })

  const inBrowser = typeof indexedDB !== 'undefined'
  const identity = options.identity ?? (inBrowser ? 'indexeddb' : 'memory')
  if (identity !== 'indexeddb' && identity !== 'memory' && (typeof identity !== 'object' || typeof identity.sign !== 'function')) {
    throw new InvalidConfigError('identity', `must be 'indexeddb', 'memory' or a libp2p PrivateKey, got ${JSON.stringify(identity)}`)
  }

  const identityName = options.identityName ?? 'default'
  if (typeof identityName !== 'string' || identityName === '') {
    throw new InvalidConfigError('identityName', `must be a non-empty string, got ${JSON.stringify(identityName)}`)
  }

  const protect = options.protect
  if (protect != null && protect !== 'device' && (typeof protect !== 'object' || typeof protect.passphrase !== 'string' || protect.passphrase === '')) {
    throw new InvalidConfigError('protect', "must be 'device' or { passphrase: '<a non-empty string>' }")
  }

  const whenIdentityInUse = options.whenIdentityInUse ?? 'ephemeral'
  if (!POLICIES.includes(whenIdentityInUse)) {
    throw new InvalidConfigError('whenIdentityInUse', `must be one of ${POLICIES.join(', ')}, got ${JSON.stringify(whenIdentityInUse)}`)
  }

  const iceServers = options.iceServers ?? []
  if (!Array.isArray(iceServers) || iceServers.some(s => s == null || typeof s !== 'object' || s.urls == null)) {
    throw new InvalidConfigError('iceServers', 'must be an array of RTCIceServer objects ({ urls, username?, credential? })')
  }

  const relayIceServers = options.relayIceServers ?? true
  if (typeof relayIceServers !== 'boolean') {
    throw new InvalidConfigError('relayIceServers', `must be true or false, got ${JSON.stringify(relayIceServers)}`)
  }

  const rtcConfiguration = options.rtcConfiguration ?? {}
  if (rtcConfiguration == null || typeof rtcConfiguration !== 'object' || Array.isArray(rtcConfiguration)) {
    throw new InvalidConfigError('rtcConfiguration', 'must be an RTCConfiguration object')
  }

  const maxReservations = options.maxReservations ?? Math.min(2, relayAddrs.length)
  if (!Number.isInteger(maxReservations) || maxReservations < 1) {
    throw new InvalidConfigError('maxReservations', `must be a whole number ≥ 1, got ${JSON.stringify(maxReservations)}`)
  }

  const maxDirectPeers = options.maxDirectPeers ?? 8
  if (!Number.isInteger(maxDirectPeers) || maxDirectPeers < 0) {
    throw new InvalidConfigError('maxDirectPeers', `must be a whole number ≥ 0, got ${JSON.stringify(maxDirectPeers)}`)
  }

  const timeout = options.timeout ?? 15_000
  if (typeof timeout !== 'number' || !(timeout > 0)) {
    throw new InvalidConfigError('timeout', `must be a positive number of milliseconds, got ${JSON.stringify(timeout)}`)
  }

  const content = resolveContent(options.content ?? {}, inBrowser)

  const replayWindow = options.replayWindow ?? REPLAY_WINDOW
  if (typeof replayWindow !== 'number' || !(replayWindow > 0)) {
    throw new InvalidConfigError('replayWindow', `must be a positive number of milliseconds, got ${JSON.stringify(replayWindow)}`)
  }
  const seenTTL = options.seenTTL ?? Math.max(SEEN_TTL, 2 * replayWindow)
  if (typeof seenTTL !== 'number' || !(seenTTL >= 2 * replayWindow)) {
    throw new InvalidConfigError('seenTTL', `must be at least twice replayWindow (${2 * replayWindow} ms), so that a copy GossipSub forgot is outside the window; got ${JSON.stringify(seenTTL)}`)
  }

  return {
    content,
    relays: relayAddrs,
    relayIds: new Set(relayAddrs.map(ma => lastPeerId(ma) as string)),
    identity,
    identityName,
    protect,
    whenIdentityInUse,
    iceServers,
    relayIceServers,
    rtcConfiguration,
    maxReservations: Math.min(maxReservations, relayAddrs.length),
    maxDirectPeers,
    timeout,
    replayWindow,
    seenTTL
  }
}

function resolveContent (options: ContentOptions, inBrowser: boolean): ContentConfig {
  if (options == null || typeof options !== 'object') throw new InvalidConfigError('content', 'must be an object of content options')
  const store = options.store ?? (inBrowser ? 'indexeddb' : 'memory')
  if (store !== 'indexeddb' && store !== 'memory' && (typeof store !== 'object' || typeof store.directory !== 'string' || store.directory === '')) {
    throw new InvalidConfigError('content.store', `must be 'indexeddb', 'memory' or { directory: '<a path>' }, got ${JSON.stringify(store)}`)
  }
  const whole = (field: keyof ContentOptions, value: number, min: number, max = Number.MAX_SAFE_INTEGER): number => {
    if (!Number.isInteger(value) || value < min || value > max) {
      throw new InvalidConfigError(`content.${field}`, `must be a whole number from ${min} to ${max}, got ${JSON.stringify(value)}`)
    }
    return value
  }
  return {
    store,
    quota: whole('quota', options.quota ?? 1024 ** 3, 0),
    blockSize: whole('blockSize', options.blockSize ?? 256 * 1024, 1024, MAX_BLOCK_SIZE),
    maxBlocksInFlight: whole('maxBlocksInFlight', options.maxBlocksInFlight ?? 16, 1, 1024),
    maxServeRate: whole('maxServeRate', options.maxServeRate ?? 64 * 1024 * 1024, 64 * 1024)
  }
}
