/**
 * `peerlane/shared`: the pieces of Peerlane's wire protocols that its relay (and any other tool that
 * speaks to Peerlane peers) shares with the SDK. Importing it installs the Node polyfills first, as the
 * SDK does.
 *
 * @packageDocumentation
 */
import './polyfills.ts'

export { NodeWebSocket } from './polyfills.ts'
export { fastMsgId } from './gossip.ts'
export { libp2pLogger } from './logger.ts'
export { lastPeerId, relayPart } from './address.ts'
export { FIND_PEER_PROTOCOL } from './routing.ts'
export { FindPeerRequest, FindPeerResponse } from './pb/routing.ts'
export { ROOM_TOPIC_PREFIX, roomTopic } from './envelope.ts'
export { RoomEnvelope } from './pb/room.ts'
export { ICE_PROTOCOL } from './ice.ts'
export { IceRequest, IceResponse } from './pb/ice.ts'
