/**
 * `peerlane-relay`: the Peerlane relay as a library. `createRelay(config)` starts one in-process and
 * returns `{ ready, addresses, peerId, close }`; the `peerlane-relay` command runs the same from flags.
 *
 * @packageDocumentation
 */
// relay.ts first: it loads Node's WebSocket polyfill before anything from libp2p
export { createRelay, RELAY_PING_INTERVAL } from './relay.ts'
export type { Relay, RelayNode } from './relay.ts'
export { RelayConfigError, parseRelayArgs, validateRelayConfig, DEFAULTS } from './config.ts'
export { USAGE } from './usage.ts'
export type { RelayConfig, ResolvedRelayConfig, LogLevel } from './config.ts'
export { STREAM_LIMITS } from './limits.ts'
export { forwardedClient } from './proxy.ts'
export { RelayKeyError } from './key-file.ts'
export { createLogger } from './log.ts'
export type { RelayLogger } from './log.ts'
