/**
 * Peerlane: a web page becomes a peer. A persistent identity, a reservation on a relay so others can
 * reach it, direct WebRTC links to other browsers, rooms and requests, on js-libp2p.
 *
 * @example
 * ```ts
 * import { createPeer } from 'peerlane'
 * const peer = await createPeer({ relays: ['/dns4/relay.example.com/tcp/443/wss/p2p/12D3KooW…'] })
 * const room = await peer.join('lobby')
 * room.addEventListener('message', e => console.log(e.detail.from, e.detail.text))
 * await room.send('hello')
 * ```
 *
 * Or with one script tag: `dist/peerlane.min.js` defines `window.Peerlane` with the same exports.
 *
 * ```html
 * <script src="peerlane.min.js"></script>
 * <script type="module">
 *   const peer = await Peerlane.createPeer({ relays: ['/dns4/relay.example.com/tcp/443/wss/p2p/12D3KooW…'] })
 *   const room = await peer.join('lobby')
 *   room.addEventListener('message', e => console.log(e.detail.from, e.detail.text))
 *   await room.send('hello')
 * </script>
 * ```
 *
 * @packageDocumentation
 */
import './polyfills.ts'

export { createPeer } from './peer.ts'
export type { Peer, PeerEvents, PeerInfo } from './peer-api.ts'
export type { ContentOptions, PeerOptions } from './config.ts'
export { importIdentity } from './identity.ts'
export type { IdentityInUsePolicy, IdentityOption, IdentitySource, ImportIdentityOptions, Protection } from './identity.ts'
export { PBKDF2_ITERATIONS } from './protection.ts'
export { RECONNECT_DEFAULTS } from './relays.ts'
export type { RelayEvents, RelayStatus } from './relays.ts'
export type { ConnectionInfo, ConnectOptions } from './connect.ts'
export type { CandidateType, LinkStats, Route } from './stats.ts'
export { MESH_DEFAULTS } from './links.ts'
export { roomTopic } from './envelope.ts'
export type { RoomMessage } from './envelope.ts'
export { HEARTBEAT_MS, MEMBER_TIMEOUT_MS, DISCONNECT_GRACE_MS, HIDDEN_MEMBER_TIMEOUT_MS } from './presence.ts'
export type { HistoryOptions, Room, RoomEvents, RoomOptions, RoomValidator } from './room-api.ts'
export { HISTORY_DEFAULTS } from './history.ts'
export { HISTORY_PROTOCOL } from './history-wire.ts'
export { ADMISSION_DEFAULTS } from './presence.ts'
export { REPLAY_DEFAULTS } from './replay.ts'
export { ENVELOPE_VERSION } from './envelope.ts'
export { HistoryRequest, HistoryResponse } from './pb/history.ts'
export type { HandleOptions, OpenStreamOptions, ProtocolOptions, RequestContext, RequestHandler, RequestOptions, StreamHandler } from './request.ts'
export type { PeerStream } from './stream.ts'
export { SAFE_CONTENT_TYPES, safeContentType } from './content.ts'
export type { ContentProgress, ContentRef, FetchOptions, ShareOptions } from './content.ts'
export { GUARD_DEFAULTS } from './guard.ts'
export { VERSION } from './version.ts'
export type { Transport } from './address.ts'
export type { PeerNode, PeerServices } from './node.ts'
export { RoomEnvelope } from './pb/room.ts'
export * from './errors.ts'
