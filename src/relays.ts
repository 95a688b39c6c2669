// Our relays: dialling them at start, knowing which hold a reservation for us (relay:reserved, relay:lost),
// and redialling a lost one until it answers. libp2p's reservation store then reserves on it again.
import { RELAY_V2_HOP_CODEC } from '@libp2p/circuit-relay-v2'
import { KEEP_ALIVE } from '@libp2p/interface'
import { TypedEventEmitter } from 'main-event'
import pRetry from 'p-retry'
import { lastPeerId, parsePeerId, relayPart } from './address.ts'
import { reasonText, RelayUnavailableError } from './errors.ts'
import { peerLogger } from './logger.ts'
import type { PeerConfig } from './config.ts'
import type { PeerNode } from './node.ts'
import type { Multiaddr } from '@multiformats/multiaddr'

const log = peerLogger('relays')

/** Redial timing after a relay is lost; see README › Resilience */
export const RECONNECT_DEFAULTS = {
  /** first retry after this long… */
  minDelayMs: 250,
  /** …doubling up to this, then each delay is randomised ×1-2 (jitter), so a restarted relay is back in use within ~2.5 s */
  maxDelayMs: 1_000
} as const

/** A relay we are configured with and whether it holds a reservation for us */
export interface RelayStatus {
  /** the relay's PeerId */
  peerId: string
  /** the relay address as configured */
  address: string
  /** whether we hold an unlimited (WebSocket) connection to it */
  connected: boolean
  /** whether it holds a reservation for us, so others can reach us through it */
  reserved: boolean
}

/** The events of our relays, re-dispatched by the peer */
export interface RelayEvents {
  /** a relay gave us a reservation: we can be reached through it at `addresses` */
  'relay:reserved': CustomEvent<{ relay: string, addresses: string[] }>
  /** a reservation is gone (relay down or connection lost) */
  'relay:lost': CustomEvent<{ relay: string }>
}

/** The configured relays, our reservations on them, and the redial loops that keep them */
export class Relays extends TypedEventEmitter<RelayEvents> {
  private readonly node: PeerNode
  private readonly config: PeerConfig
  /** PeerIds of our relays: the configured ones, and any that reserved for us (the standby policy reads it) */
  readonly ids: Set<string>
  private reserved = new Set<string>()
  private readonly loops = new Map<string, AbortController>()
  private readonly controller = new AbortController()

  constructor (node: PeerNode, config: PeerConfig, ids: Set<string>) {
    super()
    this.node = node
    this.config = config
    this.ids = ids
    // self:peer:update comes a second after a reservation (libp2p debounces its peer-store update); the
    // transports' listening/close events come at once, and getMultiaddrs() is already up to date then
    node.addEventListener('self:peer:update', this.onSelfUpdate)
    node.addEventListener('transport:listening', this.onSelfUpdate)
    node.addEventListener('transport:close', this.onSelfUpdate)
    node.addEventListener('peer:disconnect', this.onDisconnect)
  }

  /** The configured relays and our state with each */
  status (): RelayStatus[] {
    return this.config.relays.map(ma => {
      const peerId = lastPeerId(ma) as string
      return {
        peerId,
        address: ma.toString(),
        connected: this.node.getConnections().some(c => c.remotePeer.toString() === peerId && c.limits == null),
        reserved: this.reserved.has(peerId)
      }
    })
  }

  /**
   * Before the node starts: the configured relays, kept alive (the connection manager never prunes a relay
   * connection) and known to speak circuit relay's hop protocol. libp2p otherwise learns that from identify
   * and only then reserves (identify then reserve: ~95 ms in Chromium here); knowing it, the relay transport's
   * discovery reserves as soon as the connection is up, while identify runs. A relay that does not speak hop
   * just refuses, as it would anyway.
   */
  async prepare (): Promise<void> {
    await Promise.all(this.config.relays.map(async ma => {
      await this.node.peerStore.merge(parsePeerId(lastPeerId(ma)), {
        multiaddrs: [ma],
        protocols: [RELAY_V2_HOP_CODEC],
        tags: { [KEEP_ALIVE]: { value: 1 } }
      })
    }))
  }

  /**
   * Dials every relay and resolves at the first reservation; relays that do not answer now are redialled in
   * the background. Rejects with `RelayUnavailableError` when none answers, or none reserves within `timeout`.
   */
  async connect (signal?: AbortSignal): Promise<void> {
    // (a reservation made during start() is in this.reserved already)
    const reservation = this.nextReservation(signal)
    const dials = await Promise.allSettled(this.config.relays.map(async ma => this.node.dial(ma, { signal })))
    dials.forEach((d, i) => { if (d.status === 'rejected') this.keep(this.config.relays[i]) })
    if (dials.every(d => d.status === 'rejected')) {
      reservation.catch(() => {})
      const reasons = dials.map((d, i) => `${this.config.relays[i].toString()}: ${reasonText((d as PromiseRejectedResult).reason)}`)
      throw new RelayUnavailableError(`could not connect to any relay:\n  ${reasons.join('\n  ')}`)
    }
    await reservation
  }

  /** Network back or tab visible again: a relay we are not connected to gets a fresh attempt now, not after the backoff */
  wake (): void {
    for (const relay of this.config.relays) {
      const id = lastPeerId(relay) as string
      if (this.node.getConnections().every(c => c.remotePeer.toString() !== id)) {
        this.loops.get(id)?.abort()
        this.loops.delete(id)
        this.keep(relay)
      }
    }
  }

  stop (): void {
    this.controller.abort()
    this.node.removeEventListener('self:peer:update', this.onSelfUpdate)
    this.node.removeEventListener('transport:listening', this.onSelfUpdate)
    this.node.removeEventListener('transport:close', this.onSelfUpdate)
    this.node.removeEventListener('peer:disconnect', this.onDisconnect)
  }

  /** Starts redialling `relay` (backoff and jitter, forever) unless a loop for it runs already */
  private keep (relay: Multiaddr): void {
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
      signal,
      onFailedAttempt: ({ error }) => { log('redial of %s failed: %s', id, error.message) }
    }).catch(() => {}).finally(() => {
      if (this.loops.get(id) === loop) this.loops.delete(id)
    })
  }

  /** Resolves at the next (or a current) reservation; rejects after `timeout` or on abort */
  private async nextReservation (signal?: AbortSignal): Promise<void> {
    if (this.reserved.size > 0) return
    await new Promise<void>((resolve, reject) => {
      const done = (): void => {
        clearTimeout(timer)
        this.removeEventListener('relay:reserved', onReserved)
        signal?.removeEventListener('abort', onAbort)
      }
      const onReserved = (): void => { done(); resolve() }
      const onAbort = (): void => { done(); reject(signal?.reason) }
      const timer = setTimeout(() => {
        done()
        reject(new RelayUnavailableError(`no relay gave a reservation within ${this.config.timeout} ms (relays: ${this.config.relays.join(', ')})`))
      }, this.config.timeout)
      this.addEventListener('relay:reserved', onReserved)
      signal?.addEventListener('abort', onAbort)
      if (signal?.aborted === true) onAbort()
    })
  }

  /** The relays our circuit addresses go through: those that hold a reservation for us */
  private reservedRelays (): Map<string, string[]> {
    const relays = new Map<string, string[]>()
    for (const ma of this.node.getMultiaddrs()) {
      const relay = relayPart(ma)
      const id = relay == null ? undefined : lastPeerId(relay)
      if (id == null) continue
      relays.set(id, [...(relays.get(id) ?? []), ma.toString()])
    }
    return relays
  }

  private readonly onSelfUpdate = (): void => {
    const now = this.reservedRelays()
    for (const [relay, addresses] of now) {
      if (this.reserved.has(relay)) continue
      this.ids.add(relay)
      log('reserved on %s', relay)
      this.safeDispatchEvent('relay:reserved', { detail: { relay, addresses } })
    }
    for (const relay of this.reserved) {
      if (now.has(relay)) continue
      log('reservation on %s lost', relay)
      this.safeDispatchEvent('relay:lost', { detail: { relay } })
    }
    this.reserved = new Set(now.keys())
  }

  private readonly onDisconnect = (evt: CustomEvent<{ toString: () => string }>): void => {
    const id = evt.detail.toString()
    const relay = this.config.relays.find(ma => lastPeerId(ma) === id)
    if (relay != null) this.keep(relay)
  }
}
