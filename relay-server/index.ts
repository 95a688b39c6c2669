/**
 * `peerlane-relay`: the Peerlane relay as a library. `createRelay(config)` starts one in-process and
 * returns `{ ready, addresses, peerId, close }`; the `peerlane-relay` command runs the same from flags.
 *
 * @packageDocumentation
 */
export * from './relay.ts'
