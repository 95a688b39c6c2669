import { lpStream } from '@libp2p/utils'
import { InvalidMessageError, MessageTooLargeError, RemoteError } from './errors.ts'
import { RequestResult } from './pb/request.ts'
import { protocolIds, versionOf } from './protocols.ts'
import { toPeerStream } from './stream.ts'
import type { PeerNode } from './node.ts'
import type { PeerStream } from './stream.ts'
import type { Connection, Stream } from '@libp2p/interface'

/** What a handler learns about the call */
export interface RequestContext {
  /** the caller's PeerId */
  from: string
  /** the protocol id negotiated, e.g. `/app/chat/2.0.0` */
  protocol: string
  /** the version negotiated, when the handler was registered with `versions` */
  version?: string
  /** aborted when the handler runs past its `timeout` or the peer stops */
  signal: AbortSignal
}

/** Answers one request; what it returns (bytes or a string) is sent back, what it throws reaches the caller as a `RemoteError` */
export type RequestHandler = (data: Uint8Array, context: RequestContext) => Uint8Array | string | Promise<Uint8Array | string>

/** Serves one incoming byte stream */
export type StreamHandler = (stream: PeerStream, context: Omit<RequestContext, 'signal'>) => void | Promise<void>

/** How a protocol id is spoken: its versions, for `peer.handle`, `peer.request`, `peer.openStream` */
export interface ProtocolOptions {
  /**
   * Versions of the protocol to speak, e.g. `['2.0.0', '1.1.0']`: each is registered (or offered) as
   * `<protocol>/<version>`, and multistream-select settles on the highest version both sides speak.
   * Without it the protocol id is used as it is.
   */
  versions?: string[]
}

/** Options for `peer.handle` */
export interface HandleOptions extends ProtocolOptions {
  /**
   * The largest request accepted, in bytes.
   *
   * @default 1048576
   */
  maxRequestSize?: number

  /**
   * How long one request may take, from the stream opening to the answer written, in ms.
   *
   * @default 30000
   */
  timeout?: number
}

/** Options for `peer.request` */
export interface RequestOptions extends ProtocolOptions {
  /** gives up the request; the call rejects with the signal's reason */
  signal?: AbortSignal

  /**
   * The largest answer accepted, in bytes.
   *
   * @default 1048576
   */
  maxResponseSize?: number

  /**
   * Gives up after this many ms, on top of `signal`.
   *
   * @default 30000
   */
  timeout?: number
}

/** Options for `peer.openStream` */
export interface OpenStreamOptions extends ProtocolOptions {
  /** aborts opening the stream (dialling and protocol negotiation); the open stream is not tied to it */
  signal?: AbortSignal
}

const DEFAULT_MAX_SIZE = 1_048_576
const DEFAULT_TIMEOUT = 30_000
// a RequestResult adds a few bytes of protobuf framing around the payload
const RESULT_OVERHEAD = 16

/** Registers a request handler for every id of `protocol`; returns the ids registered */
export async function handleRequests (node: PeerNode, protocol: string, handler: RequestHandler, options: HandleOptions = {}): Promise<string[]> {
  const ids = protocolIds(protocol, options.versions)
  const maxDataLength = options.maxRequestSize ?? DEFAULT_MAX_SIZE
  const timeout = options.timeout ?? DEFAULT_TIMEOUT
  await node.handle(ids, async (stream, connection) => {
    const signal = AbortSignal.timeout(timeout)
    try {
      const lp = lpStream(stream, { maxDataLength })
      const request = await lp.read({ signal })
      let result: RequestResult
      try {
        const answer = await handler(request.subarray(), { ...describeCall(stream, connection, protocol, options), signal })
        result = { ok: true, data: toBytes(answer), error: '' }
      } catch (err: any) {
        result = { ok: false, data: new Uint8Array(0), error: String(err?.message ?? err) }
      }
      await lp.write(RequestResult.encode(result), { signal })
      await stream.close({ signal })
    } catch (err: any) {
      stream.abort(err)
    }
  }, { runOnLimitedConnection: true })
  return ids
}

/** Registers a stream handler for every id of `protocol`; returns the ids registered */
export async function handleStreams (node: PeerNode, protocol: string, handler: StreamHandler, options: ProtocolOptions = {}): Promise<string[]> {
  const ids = protocolIds(protocol, options.versions)
  await node.handle(ids, async (stream, connection) => {
    const call = describeCall(stream, connection, protocol, options)
    try {
      await handler(toPeerStream(stream, call.from, call.version), call)
    } catch (err: any) {
      stream.abort(err)
    }
  }, { runOnLimitedConnection: true })
  return ids
}

/** Sends `data` to `protocol` on an open connection and resolves to the answer's bytes */
export async function request (connection: Connection, protocol: string, data: Uint8Array | string, options: RequestOptions = {}): Promise<Uint8Array> {
  const ids = protocolIds(protocol, options.versions)
  const bytes = toBytes(data)
  if (bytes.byteLength > DEFAULT_MAX_SIZE) {
    throw new MessageTooLargeError('request', bytes.byteLength, DEFAULT_MAX_SIZE)
  }
  const signals = [AbortSignal.timeout(options.timeout ?? DEFAULT_TIMEOUT)]
  if (options.signal != null) signals.push(options.signal)
  const signal = AbortSignal.any(signals)
  const stream = await connection.newStream(ids, { signal, runOnLimitedConnection: true })
  try {
    const lp = lpStream(stream, { maxDataLength: (options.maxResponseSize ?? DEFAULT_MAX_SIZE) + RESULT_OVERHEAD })
    await lp.write(bytes, { signal })
    const result = RequestResult.decode(await lp.read({ signal }))
    await stream.close({ signal })
    if (!result.ok) {
      throw new RemoteError(connection.remotePeer.toString(), stream.protocol, result.error)
    }
    return result.data
  } catch (err: any) {
    stream.abort(err)
    throw err
  }
}

/** Opens a byte stream for `protocol` on an open connection */
export async function openStream (connection: Connection, protocol: string, options: OpenStreamOptions = {}): Promise<PeerStream> {
  const stream = await connection.newStream(protocolIds(protocol, options.versions), { signal: options.signal, runOnLimitedConnection: true })
  return toPeerStream(stream, connection.remotePeer.toString(), options.versions == null ? undefined : versionOf(protocol, stream.protocol))
}

function describeCall (stream: Stream, connection: Connection, protocol: string, options: ProtocolOptions): Omit<RequestContext, 'signal'> {
  return {
    from: connection.remotePeer.toString(),
    protocol: stream.protocol,
    version: options.versions == null ? undefined : versionOf(protocol, stream.protocol)
  }
}

function toBytes (value: Uint8Array | string): Uint8Array<ArrayBuffer> {
  if (typeof value === 'string') return new TextEncoder().encode(value)
  if (value instanceof Uint8Array) return new Uint8Array(value)
  throw new InvalidMessageError(`request payloads are Uint8Array or string, got ${typeof value}`)
}
