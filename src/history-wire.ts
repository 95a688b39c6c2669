// /peerlane/history/1.0.0 (src/pb/history.proto): a member who joins asks a present member for the room's
// recent messages, each the signed GossipSub message exactly as it arrived, and checks every signature and
// author the way GossipSub's StrictSign does before it trusts one.
import { publicKeyFromProtobuf, publicKeyToProtobuf } from '@libp2p/crypto/keys'
import { RPC } from '@libp2p/gossipsub/message'
import { peerIdFromMultihash } from '@libp2p/peer-id'
import { lpStream } from '@libp2p/utils'
import * as Digest from 'multiformats/hashes/digest'
import { concat } from 'uint8arrays/concat'
import { HistoryRequest, HistoryResponse } from './pb/history.ts'
import type { SignedMessage } from '@libp2p/gossipsub'
import type { Connection, Stream } from '@libp2p/interface'

/** The history protocol id */
export const HISTORY_PROTOCOL = '/peerlane/history/1.0.0'

/** One history frame is a signed GossipSub message: the envelope plus at most this much (author, seqno, topic, signature, key) */
export const FRAME_OVERHEAD = 1024

// what GossipSub signs: this prefix, then the RPC Message without signature and key
const SIGN_PREFIX = new TextEncoder().encode('libp2p-pubsub:')

/** The signed GossipSub message as the protobuf that travels (and is stored): from, data, seqno, topic, signature, key */
export function encodeSigned (msg: SignedMessage): Uint8Array {
  const seqno = new Uint8Array(8)
  new DataView(seqno.buffer).setBigUint64(0, msg.sequenceNumber, false)
  return RPC.Message.encode({ from: msg.from.toMultihash().bytes, data: msg.data, seqno, topic: msg.topic, signature: msg.signature, key: publicKeyToProtobuf(msg.key) })
}

/**
 * The message in `bytes` if it is a GossipSub message of `topic` whose signature verifies and whose key is
 * its author's (StrictSign's rules); undefined for anything forged, altered or malformed
 */
export async function verifySigned (bytes: Uint8Array, topic: string): Promise<SignedMessage | undefined> {
  try {
    const rpc = RPC.Message.decode(bytes)
    if (rpc.topic !== topic || rpc.from == null || rpc.seqno?.byteLength !== 8 || rpc.signature == null) return undefined
    const from = peerIdFromMultihash(Digest.decode(rpc.from))
    const key = rpc.key != null ? publicKeyFromProtobuf(rpc.key) : from.publicKey
    if (key == null || !from.equals(key.toMultihash().bytes)) return undefined
    const signed = RPC.Message.encode({ from: rpc.from, data: rpc.data, seqno: rpc.seqno, topic: rpc.topic })
    if (!await key.verify(concat([SIGN_PREFIX, signed]), rpc.signature)) return undefined
    const sequenceNumber = new DataView(rpc.seqno.buffer, rpc.seqno.byteOffset, 8).getBigUint64(0, false)
    return { type: 'signed', from, topic, data: rpc.data ?? new Uint8Array(0), sequenceNumber, signature: rpc.signature, key }
  } catch {
    return undefined
  }
}

/** What a member serves: whether it keeps the topic's history, and those of its messages the request asks for */
export type HistoryServer = (from: string, request: HistoryRequest, signal: AbortSignal) => Promise<Uint8Array[] | undefined>

/** Answers one history request on `stream` with what `serve` gives (or `kept: false`), then closes it */
export async function answerHistory (stream: Stream, from: string, serve: HistoryServer, signal: AbortSignal): Promise<void> {
  const lp = lpStream(stream, { maxDataLength: 1024 })
  const request = HistoryRequest.decode(await lp.read({ signal }))
  const messages = await serve(from, request, signal)
  await lp.write(HistoryResponse.encode({ kept: messages != null, count: messages?.length ?? 0 }), { signal })
  for (const message of messages ?? []) await lp.write(message, { signal })
  await stream.close({ signal })
}

/** The answer to a history request: whether the member keeps the room's history, and its messages as they come */
export interface HistoryAnswer {
  kept: boolean
  messages: AsyncGenerator<Uint8Array>
}

/**
 * Asks the member at the other end of `connection` for `request`; at most `request.limit` messages of at most
 * `maxFrame` bytes each are read, and the stream is aborted past that, or on `signal`
 */
export async function askHistory (connection: Connection, request: HistoryRequest, maxFrame: number, signal: AbortSignal): Promise<HistoryAnswer> {
  const stream = await connection.newStream(HISTORY_PROTOCOL, { signal, runOnLimitedConnection: true })
  try {
    const lp = lpStream(stream, { maxDataLength: maxFrame })
    await lp.write(HistoryRequest.encode(request), { signal })
    const header = HistoryResponse.decode(await lp.read({ signal }))
    if (header.count > request.limit) throw new Error(`history answer of ${header.count} messages, over the ${request.limit} asked for`)
    if (header.count === 0) {
      await stream.close({ signal })
      return { kept: header.kept, messages: (async function * () {})() }
    }
    async function * messages (): AsyncGenerator<Uint8Array> {
      try {
        for (let i = 0; i < header.count; i++) yield (await lp.read({ signal })).subarray()
        await stream.close({ signal })
      } catch (err: any) {
        stream.abort(err)
        throw err
      } finally {
        if (stream.status === 'open') stream.abort(new Error('history answer not read to its end'))
      }
    }
    return { kept: header.kept, messages: messages() }
  } catch (err: any) {
    stream.abort(err)
    throw err
  }
}
