import { lpStream } from '@libp2p/utils'
import { InvalidMessageError, MessageTooLargeError, RemoteError } from './errors.ts'
import { RequestResult } from './pb/request.ts'
import type { PeerNode } from './node.ts'
import type { Connection } from '@libp2p/interface'

/** What a request handler learns about the call */
export interface RequestContext {
  /** the caller's PeerId */
  from: string
  /** the protocol the caller asked for */
  protocol: string
  /** aborted when the handler runs past its `timeout` or the peer stops */
  signal: AbortSignal
}

/** Answers one request; what it returns (bytes or a string) is sent back, what it throws reaches the caller as a `RemoteError` */
export type RequestHandler = (data: Uint8Array, context: RequestContext) => Uint8Array | string | Promise<Uint8Array | string>

/** Options for `peer.handle` */
export interface HandleOptions {
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
export interface RequestOptions {
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

const DEFAULT_MAX_SIZE = 1_048_576
const DEFAULT_TIMEOUT = 30_000

/** Registers `handler` for `protocol` on the node */
export async function handle (node: PeerNode, protocol: string, handler: RequestHandler, options: HandleOptions = {}): Promise<void> {
  checkProtocol(protocol)
  const maxDataLength = options.maxRequestSize ?? DEFAULT_MAX_SIZE
  const timeout = options.timeout ?? DEFAULT_TIMEOUT
  await node.handle(protocol, async (stream, connection) => {
    const signal = AbortSignal.timeout(timeout)
    try {
      const lp = lpStream(stream, { maxDataLength })
      const request = await lp.read({ signal })
      let result: RequestResult
      try {
        const answer = await handler(request.subarray(), { from: connection.remotePeer.toString(), protocol, signal })
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
}

/** Sends `data` to `protocol` on an open connection and resolves to the answer's bytes */
export async function request (connection: Connection, protocol: string, data: Uint8Array | string, options: RequestOptions = {}): Promise<Uint8Array> {
  checkProtocol(protocol)
  const signals = [AbortSignal.timeout(options.timeout ?? DEFAULT_TIMEOUT)]
  if (options.signal != null) signals.push(options.signal)
  const signal = AbortSignal.any(signals)
  const bytes = toBytes(data)
  if (bytes.byteLength > DEFAULT_MAX_SIZE) {
    throw new MessageTooLargeError('request', bytes.byteLength, DEFAULT_MAX_SIZE)
  }
  const stream = await connection.newStream(protocol, { signal, runOnLimitedConnection: true })
  try {
    // the answer is a RequestResult: the payload plus a few bytes of framing
    const lp = lpStream(stream, { maxDataLength: (options.maxResponseSize ?? DEFAULT_MAX_SIZE) + 16 })
    await lp.write(bytes, { signal })
    const result = RequestResult.decode(await lp.read({ signal }))
    await stream.close({ signal })
    if (!result.ok) {
      throw new RemoteError(connection.remotePeer.toString(), protocol, result.error)
    }
    return result.data
  } catch (err: any) {
    stream.abort(err)
    throw err
  }
}

function checkProtocol (protocol: string): void {
  if (typeof protocol !== 'string' || !protocol.startsWith('/')) {
    throw new InvalidMessageError(`protocol ${JSON.stringify(protocol)} must be a string starting with "/", e.g. "/myapp/echo/1.0.0"`)
  }
}

function toBytes (value: Uint8Array | string): Uint8Array<ArrayBuffer> {
  if (typeof value === 'string') return new TextEncoder().encode(value)
  if (value instanceof Uint8Array) return new Uint8Array(value)
  throw new InvalidMessageError(`request payloads are Uint8Array or string, got ${typeof value}`)
}
