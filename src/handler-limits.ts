// How much other peers may make our request and stream handlers do at once. libp2p caps streams per protocol
// per connection (32 by default) and no more: each request may buffer up to maxRequestSize (1 MiB), a stream
// that sends nothing lives forever, and a peer can use every protocol we handle. Here the caps span all of
// Peerlane's handlers: per connection, and all connections together.
import type { Connection } from '@libp2p/interface'

/** Limits on the requests and streams other peers run in our handlers; see README › API */
export const HANDLER_LIMITS = {
  /** requests and streams one connection may have running in our handlers at once; more are refused ('busy') */
  perConnection: 32,
  /** requests and streams running in our handlers at once, all connections together */
  total: 128,
  /** an incoming stream on which nothing is sent or received for this long is closed, in ms (`handleStream`'s `idleTimeout`) */
  streamIdleMs: 60_000
} as const

/** libp2p's own per-protocol cap sits above ours, so that what goes over ours is answered 'busy' rather than reset */
export const LIBP2P_STREAMS_PER_PROTOCOL = HANDLER_LIMITS.perConnection * 2

/** Counts the requests and streams running in our handlers, per connection and in all */
export class HandlerSlots {
  private readonly byConnection = new Map<string, number>()
  private running = 0

  /** Takes a place for a call on `connection`; false when over a limit. Give it back with `leave`. */
  enter (connection: Pick<Connection, 'id'>): boolean {
    const n = this.byConnection.get(connection.id) ?? 0
    if (n >= HANDLER_LIMITS.perConnection || this.running >= HANDLER_LIMITS.total) return false
    this.byConnection.set(connection.id, n + 1)
    this.running++
    return true
  }

  leave (connection: Pick<Connection, 'id'>): void {
    const n = (this.byConnection.get(connection.id) ?? 0) - 1
    if (n > 0) this.byConnection.set(connection.id, n)
    else this.byConnection.delete(connection.id)
    this.running--
  }

  /** How many calls run now, in all */
  get size (): number {
    return this.running
  }
}
