// The public shape of a peer: what `createPeer` resolves to, its events, and what `info()` tells.
import type { ConnectionInfo, ConnectOptions } from './connect.ts'
import type { ContentRef, FetchOptions, ShareOptions } from './content.ts'
import type { IdentitySource } from './identity.ts'
import type { PeerNode } from './node.ts'
import type { RelayEvents, RelayStatus } from './relays.ts'
import type { HandleOptions, OpenStreamOptions, ProtocolOptions, RequestHandler, RequestOptions, StreamHandler } from './request.ts'
import type { Room, RoomOptions } from './room-api.ts'
import type { LinkStats } from './stats.ts'
import type { PeerStream } from './stream.ts'
import type { TypedEventTarget } from 'main-event'

/** The events of a `Peer`: `peer.addEventListener(type, e => e.detail)` */
export interface PeerEvents extends RelayEvents {
  /** the first connection to a peer opened */
  'peer:connect': CustomEvent<{ peerId: string }>
  /** the last connection to a peer closed */
  'peer:disconnect': CustomEvent<{ peerId: string }>
  /** a direct (WebRTC) connection to a peer opened */
  'connection:direct': CustomEvent<ConnectionInfo>
}

/** What identify told us about another peer */
export interface PeerInfo {
  /** the peer's PeerId */
  peerId: string
  /** e.g. `peerlane/0.1.0 browser/…`, or another libp2p implementation's */
  agentVersion?: string
  /** the libp2p protocol version it reports in identify, e.g. `ipfs/0.1.0` */
  protocolVersion?: string
  /** every protocol id it handles, e.g. `/app/chat/2.0.0` */
  protocols: string[]
  /** addresses it can be dialled at */
  addresses: string[]
}

/** A running peer: create one with `createPeer` */
export interface Peer extends TypedEventTarget<PeerEvents> {
  /** this peer's PeerId, `12D3KooW…` */
  readonly id: string
  /** where the key came from; `'ephemeral'` means another tab holds the stored identity */
  readonly identity: IdentitySource
  /** the underlying libp2p node: the escape hatch for anything Peerlane does not wrap */
  readonly libp2p: PeerNode
  /** addresses others can dial us at, including `…/p2p-circuit/webrtc/p2p/<id>` for direct WebRTC */
  readonly addresses: string[]
  /** the configured relays and our state with each */
  readonly relays: RelayStatus[]
  /**
   * Connects to a peer, by bare PeerId or by multiaddr. A PeerId is looked up through the relays we
   * share with it: a direct WebRTC link is tried first, then (unless `allowRelayed: false`) a relayed one.
   */
  connect: (target: string, options?: ConnectOptions) => Promise<ConnectionInfo>
  /** Every connected peer (relays included), each described by its best connection */
  connections: () => ConnectionInfo[]
  /**
   * How each connected peer is reached (its best connection): the route (direct · STUN · TURN · relayed),
   * and for WebRTC the chosen ICE candidate pair, its round-trip time and bytes each way. With `peerId`, that peer only.
   */
  stats: (peerId?: string, options?: { signal?: AbortSignal }) => Promise<LinkStats[]>
  /**
   * Joins a room (a GossipSub topic with presence and history). The peer links directly (WebRTC) to the
   * members it finds there, up to `maxDirectPeers`; until then messages travel through the relay. With
   * `{ secret }` the room is private (its topic and key derived from the secret). Joining a room joined
   * already (same name and secret) resolves to the same `Room`.
   */
  join: (name: string, options?: RoomOptions) => Promise<Room>
  /**
   * Answers requests for `protocol` (e.g. `/myapp/echo/1.0.0`) with `handler`. With `{ versions }` it speaks
   * every version given, and the handler learns which one the caller chose from `context.version`.
   */
  handle: (protocol: string, handler: RequestHandler, options?: HandleOptions) => Promise<void>
  /** Serves byte streams for `protocol`: `handler({ readable, writable, … }, { from, protocol, version })` */
  handleStream: (protocol: string, handler: StreamHandler, options?: ProtocolOptions) => Promise<void>
  /** Stops answering `protocol` (every version registered for it) */
  unhandle: (protocol: string) => Promise<void>
  /** Sends a request to a peer (connecting first if need be) and resolves to its answer */
  request: (peerId: string, protocol: string, data: Uint8Array | string, options?: RequestOptions) => Promise<Uint8Array>
  /**
   * Opens a byte stream to a peer (connecting first if need be): web `readable` / `writable` streams with
   * backpressure, for transfers too large for a request or a room message.
   */
  openStream: (peerId: string, protocol: string, options?: OpenStreamOptions) => Promise<PeerStream>
  /** Round-trip time to a peer in ms (libp2p ping over the best connection, connecting first if need be) */
  ping: (peerId: string, options?: { signal?: AbortSignal }) => Promise<number>
  /** What identify told us about a connected peer: its agent version and the protocols it speaks (asked again when nothing is known yet) */
  info: (peerId: string, options?: { signal?: AbortSignal }) => Promise<PeerInfo>
  /**
   * Shares content: cuts it into blocks (UnixFS, 256 KiB), stores them (IndexedDB in a page) and serves them to
   * peers that ask (Bitswap). Resolves to its ref (the root CID, size, name, type) to give to others.
   */
  share: (source: Blob | ReadableStream<Uint8Array>, options?: ShareOptions) => Promise<ContentRef>
  /**
   * Fetches content by its ref from whoever holds it (the peers in `from`, room members, connected peers),
   * several holders at once, every block checked against its hash and stored: an aborted fetch resumes with
   * the blocks it has. Resolves to a Blob, or with `as: 'stream'` a ReadableStream. Afterwards this peer holds it too.
   */
  fetch: ((ref: ContentRef, options: FetchOptions & { as: 'stream' }) => Promise<ReadableStream<Uint8Array>>) & ((ref: ContentRef, options?: FetchOptions) => Promise<Blob>)
  /** Stops holding content (a ref or its CID): its blocks are deleted unless other held content uses them */
  unshare: (ref: ContentRef | string, options?: { signal?: AbortSignal }) => Promise<void>
  /**
   * This peer's key as a JSON text sealed with `passphrase` (PBKDF2-SHA256 600,000 iterations, AES-GCM),
   * for `importIdentity` in another browser. Whoever has the text and the passphrase can act as this peer.
   */
  exportIdentity: (options: { passphrase: string }) => Promise<string>
  /** Leaves every room and stops the node; the stored identity is free for another tab afterwards */
  stop: () => Promise<void>
}
