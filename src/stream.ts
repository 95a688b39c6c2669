import { StreamResetError } from '@libp2p/interface'
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

/**
 * Wraps a libp2p stream (an EventTarget with send/drain and pause/resume) as web streams. With `idleTimeout`,
 * the stream is aborted (a `TimeoutError`) once nothing was sent or received for that many ms: libp2p
 * declares an `inactivityTimeout` on streams but does not enforce it.
 */
export function toPeerStream (stream: Stream, peerId: string, version?: string, idleTimeout?: number): PeerStream {
  let idle: ReturnType<typeof setTimeout> | undefined
  const active = (): void => {
    if (idleTimeout == null) return
    clearTimeout(idle)
    idle = setTimeout(() => { stream.abort(new DOMException(`nothing sent or received for ${idleTimeout} ms`, 'TimeoutError')) }, idleTimeout)
  }
  active()
  stream.addEventListener('close', () => { clearTimeout(idle) }, { once: true })
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
        active()
        const data = evt.data
        controller.enqueue(data instanceof Uint8Array ? data : data.subarray())
        // the reader is behind: stop reading from the transport until pull() asks for more
        if ((controller.desiredSize ?? 1) <= 0) stream.pause()
      })
      // a reset stream says 'end' before its 'close' with the error: that is no clean end (a transfer cut short)
      stream.addEventListener('end', () => { if (stream.status !== 'reset' && stream.status !== 'aborted') end() })
      stream.addEventListener('close', evt => {
        if (evt.error != null && !ended) {
          ended = true
          controller.error(evt.error)
        } else {
          end()
        }
      })
      // reset before we listened (a handler that refused it at once)
      if (stream.status === 'reset') {
        ended = true
        controller.error(new StreamResetError())
      } else if (stream.readableEnded) {
        end()
      }
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
      active()
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
