// /peerlane/ice/1.0.0, the relay side: a browser asks, over its authenticated connection to the relay,
// which ICE servers to give RTCPeerConnection (the relay's STUN and, with coturn, TURN urls with this
// peer's short-lived credentials, see turn.ts). One IceRequest, one IceResponse, then the relay closes
// the stream. A refused request (through a circuit without a reservation here, over the per-peer rate,
// or nothing to offer) is reset without an answer.
import { pbStream } from '@libp2p/utils'
import { ICE_PROTOCOL, IceRequest, IceResponse } from 'peerlane/shared'
import { createCredentialLimiter, CREDENTIAL_RATE_PER_PEER } from './turn.ts'
import type { RateLimit } from './rate-limit.ts'
import type { IceServers } from './turn.ts'
import type { RelayLogger } from './log.ts'
import type { CircuitRelayService } from '@libp2p/circuit-relay-v2'
import type { Connection, Libp2p, PeerId } from '@libp2p/interface'

export { ICE_PROTOCOL }
/** Inbound ICE streams per connection: a browser asks once per relay connection and on expiry */
export const ICE_MAX_INBOUND_STREAMS = 2
/** How long the whole exchange may take, in milliseconds */
const ICE_TIMEOUT = 5_000
/** An IceRequest is empty: anything longer than a few bytes is not one */
const MAX_REQUEST_BYTES = 64

/** Why a request got no answer */
export type IceRefusal = 'limited' | 'rate' | 'unavailable'

/** A request was refused; the stream is reset with this error */
export class IceRefusedError extends Error {
  static name = 'IceRefusedError'
  readonly reason: IceRefusal
  constructor (reason: IceRefusal) {
    super(`ICE servers refused: ${reason}`)
    this.name = 'IceRefusedError'
    this.reason = reason
  }
}

/** Options of {@link handleIce} */
export interface IceHandlerOptions {
  /** the servers for a peer (e.g. turn.ts `iceServersFor` with the relay's config); undefined refuses */
  iceServersFor: (peerId: PeerId) => IceServers | undefined | Promise<IceServers | undefined>
  /** answers per peer @default {@link CREDENTIAL_RATE_PER_PEER} (5 at once, then one a minute) */
  rate?: RateLimit
  /** inbound streams per connection @default {@link ICE_MAX_INBOUND_STREAMS} */
  maxInboundStreams?: number
  /** milliseconds for the whole exchange @default 5000 */
  timeout?: number
  /** called for every refusal, e.g. to count metrics */
  onRefused?: (reason: IceRefusal, peer: PeerId) => void
}

/** A node that may run circuit-relay-v2's server (then peers holding a reservation may ask through circuits too) */
export type IceNode = Libp2p<{ relay?: CircuitRelayService }>

/**
 * Whether the peer on `connection` may ask: it is connected directly (a connection without limits,
 * so not a relayed circuit) or it holds a reservation on this relay
 */
export function mayAskIce (node: Pick<IceNode, 'services'>, connection: Pick<Connection, 'limits' | 'remotePeer'>): boolean {
  return connection.limits == null || node.services.relay?.reservations.has(connection.remotePeer) === true
}

/** Registers the /peerlane/ice/1.0.0 handler on `node`; `node.unhandle(ICE_PROTOCOL)` removes it */
export async function handleIce (node: IceNode, options: IceHandlerOptions, log?: RelayLogger): Promise<void> {
  const limiter = createCredentialLimiter(options.rate ?? CREDENTIAL_RATE_PER_PEER)
  const timeout = options.timeout ?? ICE_TIMEOUT
  await node.handle(ICE_PROTOCOL, async (stream, connection) => {
    const peer = connection.remotePeer
    const refuse = (reason: IceRefusal): never => {
      options.onRefused?.(reason, peer)
      log?.debug('ice:refused', { peer: peer.toString(), reason })
      throw new IceRefusedError(reason)
    }
    const signal = AbortSignal.timeout(timeout)
    const pb = pbStream(stream, { maxDataLength: MAX_REQUEST_BYTES })
    try {
      if (!mayAskIce(node, connection)) refuse('limited')
      // counted before reading: a stream opened is a request, whatever it sends
      if (!limiter.take(peer.toString())) refuse('rate')
      await pb.read(IceRequest, { signal })
      const ice = await options.iceServersFor(peer)
      if (ice == null) return refuse('unavailable')
      await pb.write({
        servers: ice.servers.map(s => ({ urls: s.urls, username: s.username ?? '', credential: s.credential ?? '' })),
        expires: BigInt(ice.expiresAt)
      }, IceResponse, { signal })
      log?.debug('ice:answered', { peer: peer.toString(), servers: ice.servers.length })
      await stream.close({ signal })
    } catch (err: any) {
      stream.abort(err)
    }
  }, {
    maxInboundStreams: options.maxInboundStreams ?? ICE_MAX_INBOUND_STREAMS,
    // libp2p would refuse circuits before the handler; mayAskIce lets reserved peers through, others not
    runOnLimitedConnection: true
  })
}
