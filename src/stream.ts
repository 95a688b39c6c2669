import type { Stream } from '@libp2p/interface'

/** A byte stream to another peer: web streams with backpressure both ways */
export interface PeerStream {
  /** the other end's PeerId */
  readonly peerId: string
  /** the protocol id multistream-select settled on, e.g. `/app/chat/2.0.0` */
  readonly protocol: string
  /** the negotiated version when the protocol was offered with `versions` */
  readonly version?: string
  /** bytes from the other peer; ends when it closes its writable side */
  readonly readable: ReadableStream<Uint8Array>
  /** bytes to the other peer; `close()` it when done (the other side's readable then ends) */
  readonly writable: WritableStream<Uint8Array>
  /** ends the stream at once, in both directions, discarding unsent data */
  abort(reason?: unknown): void
}

/** How many received bytes may wait for the reader before the sender is asked to pause */
const READ_HIGH_WATER_MARK = 1024 * 1024

/** Wraps a libp2p stream (an EventTarget with send/drain and pause/resume) as web streams */
export function toPeerStream (stream: Stream, peerId: string, version?: string): PeerStream {
  const readable = new ReadableStream<Uint8Array>({
    start (controller) {
      let ended = false
      const end = (): void => {
        if (ended) return
        ended = true
        controller.close()
      }
      stream.addEventListener('message', evt => {
        if (ended) return
        const data = evt.data
        controller.enqueue(data instanceof Uint8Array ? data : data.subarray())
        // the reader is behind: stop reading from the transport until pull() asks for more
        if ((controller.desiredSize ?? 1) <= 0) stream.pause()
      })
      stream.addEventListener('end', end)
      stream.addEventListener('close', evt => {
        if (evt.error != null && !ended) {
          ended = true
          controller.error(evt.error)
        } else {
          end()
        }
      })
      if (stream.readableEnded) end()
    },
    pull () {
      if (stream.readStatus === 'paused') stream.resume()
    },
    cancel () {
      stream.closeRead().catch(() => {})
    }
  }, new ByteLengthQueuingStrategy({ highWaterMark: READ_HIGH_WATER_MARK }))

  const writable = new WritableStream<Uint8Array>({
    async write (chunk) {
      if (!stream.send(chunk)) await stream.onDrain()
    },
    async close () {
      await stream.close()
    },
    abort (reason) {
      stream.abort(reason instanceof Error ? reason : new Error(String(reason ?? 'aborted')))
    }
  })

  return {
    peerId,
    protocol: stream.protocol,
    version,
    readable,
    writable,
    abort (reason) {
      stream.abort(reason instanceof Error ? reason : new Error(String(reason ?? 'aborted')))
    }
  }
}
