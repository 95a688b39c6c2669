// Direct links: a peer links (WebRTC) to the members of its rooms on its own, up to `maxDirectPeers`, and
// keeps trying to upgrade a relayed link it settled for. Until a link is up, GossipSub carries room messages
// through the relay or other members.
import { peerLogger } from './logger.ts'
import type { Connector } from './connect.ts'
import type { PeerNode } from './node.ts'

const log = peerLogger('links')

/** Timing of automatic direct links to room members; see README › Rooms › Direct links */
export const MESH_DEFAULTS = {
  /** the peer with the higher PeerId waits this long (plus up to 1 s jitter) before dialling, so usually only one side dials */
  followerDelayMs: 3_000,
  /** retries after a failed attempt wait 5 s, 10 s, 20 s (plus jitter), then give up until the member is seen anew */
  retryBaseMs: 5_000,
  /** attempts at a direct link to one member (the first and three retries) */
  attempts: 4
} as const

/** Links a peer directly (WebRTC) to the peers it `want`s, up to `max` direct links */
export class DirectLinks {
  private readonly connector: Connector
  private readonly max: number
  private readonly self: string
  private readonly pending = new Map<string, ReturnType<typeof setTimeout>>()
  private readonly controller = new AbortController()

  constructor (node: PeerNode, connector: Connector, max: number) {
    this.connector = connector
    this.max = max
    this.self = node.peerId.toString()
    connector.addEventListener('link:relayed', this.onRelayed)
  }

  /** A room member was seen (or we settled for a relayed link to it): link to it unless already linked, busy, or full */
  want (peerId: string): void {
    if (this.pending.has(peerId) || this.connector.hasDirect(peerId)) return
    // both sides see each other at about the same time: the lower PeerId dials, the other only if that did not happen
    const delay = this.self < peerId ? 0 : MESH_DEFAULTS.followerDelayMs + Math.random() * 1_000
    this.schedule(peerId, 1, delay)
  }

  stop (): void {
    this.controller.abort()
    this.connector.removeEventListener('link:relayed', this.onRelayed)
    for (const timer of this.pending.values()) clearTimeout(timer)
    this.pending.clear()
  }

  /** connect() settled for a relayed link: keep trying to upgrade it in the background */
  private readonly onRelayed = (evt: CustomEvent<{ peerId: string }>): void => { this.want(evt.detail.peerId) }

  private schedule (peerId: string, attempt: number, delay: number): void {
    this.pending.set(peerId, setTimeout(() => { void this.attempt(peerId, attempt) }, delay))
  }

  private async attempt (peerId: string, attempt: number): Promise<void> {
    if (this.controller.signal.aborted || this.connector.hasDirect(peerId) || this.connector.directCount() >= this.max) {
      this.pending.delete(peerId)
      return
    }
    try {
      await this.connector.connect(peerId, { signal: this.controller.signal, allowRelayed: false })
      this.pending.delete(peerId)
    } catch (err: any) {
      log('direct link to %s, attempt %d, failed: %s', peerId, attempt, err.message)
      if (attempt >= MESH_DEFAULTS.attempts || this.controller.signal.aborted) {
        this.pending.delete(peerId)
        return
      }
      this.schedule(peerId, attempt + 1, MESH_DEFAULTS.retryBaseMs * 2 ** (attempt - 1) + Math.random() * 1_000)
    }
  }
}
