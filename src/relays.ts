import pRetry from 'p-retry'
import { lastPeerId } from './address.ts'
import type { PeerNode } from './node.ts'
import type { Multiaddr } from '@multiformats/multiaddr'

/** Redial timing after a relay is lost; see README › Resilience */
export const RECONNECT_DEFAULTS = {
  /** first retry after this long… */
  minDelayMs: 250,
  /** …doubling up to this, then each delay is randomised ×1-2 (jitter), so a restarted relay is back in use within ~2.5 s */
  maxDelayMs: 1_000
} as const

/**
 * Keeps the peer connected to its relays: when a relay connection drops (relay restarted, network lost),
 * redials it with backoff and jitter until it answers, forever; libp2p's reservation store then
 * reserves on it again. `online` and tab-visible events skip the wait.
 */
export class RelayKeeper {
  private readonly node: PeerNode
  private readonly relays: Multiaddr[]
  private readonly loops = new Map<string, AbortController>()
  private readonly controller = new AbortController()

  constructor (node: PeerNode, relays: Multiaddr[]) {
    this.node = node
    this.relays = relays
  }

  start (): void {
    this.node.addEventListener('peer:disconnect', this.onDisconnect)
    if (typeof window !== 'undefined') {
      window.addEventListener('online', this.onWake)
      document.addEventListener('visibilitychange', this.onVisible)
    }
  }

  stop (): void {
    this.controller.abort()
    this.node.removeEventListener('peer:disconnect', this.onDisconnect)
    if (typeof window !== 'undefined') {
      window.removeEventListener('online', this.onWake)
      document.removeEventListener('visibilitychange', this.onVisible)
    }
  }

  /** Starts redialing `relay` unless a loop for it runs already */
  keep (relay: Multiaddr): void {
    const id = lastPeerId(relay) as string
    if (this.loops.has(id) || this.controller.signal.aborted) return
    const loop = new AbortController()
    this.loops.set(id, loop)
    const signal = AbortSignal.any([loop.signal, this.controller.signal])
    pRetry(async () => {
      try {
        await this.node.dial(relay, { signal: AbortSignal.any([signal, AbortSignal.timeout(5_000)]) })
      } catch (err) {
        // a failed WebSocket dial can reject with an Event; p-retry stops on anything but an Error
        throw err instanceof Error ? err : new Error(`could not dial relay ${relay.toString()}: ${String((err as any)?.type ?? err)}`)
      }
    }, {
      retries: Number.POSITIVE_INFINITY,
      minTimeout: RECONNECT_DEFAULTS.minDelayMs,
      maxTimeout: RECONNECT_DEFAULTS.maxDelayMs,
      factor: 2,
      randomize: true,
      signal
    }).catch(() => {}).finally(() => {
      if (this.loops.get(id) === loop) this.loops.delete(id)
    })
  }

  private readonly onDisconnect = (evt: CustomEvent<{ toString: () => string }>): void => {
    const id = evt.detail.toString()
    const relay = this.relays.find(ma => lastPeerId(ma) === id)
    if (relay != null) this.keep(relay)
  }

  /** Network back or tab visible again: a relay we are not connected to gets a fresh attempt now, not after the backoff */
  private readonly onWake = (): void => {
    for (const relay of this.relays) {
      const id = lastPeerId(relay) as string
      if (this.node.getConnections().every(c => c.remotePeer.toString() !== id)) {
        this.loops.get(id)?.abort()
        this.loops.delete(id)
        this.keep(relay)
      }
    }
  }

  private readonly onVisible = (): void => {
    if (document.visibilityState === 'visible') this.onWake()
  }
}
