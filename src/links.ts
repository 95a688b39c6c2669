// Direct links: a peer links (WebRTC) to the members of its rooms on its own, up to `maxDirectPeers`, keeps
// trying to upgrade a relayed link it settled for, and links again when a member's link drops (ICE failed,
// the network changed) while the member is still there. Until a link is up, GossipSub carries room messages
// through the relay or other members.
import { transportOf } from './address.ts'
import { peerLogger } from './logger.ts'
import { hasWebRTC } from './node.ts'
import { peerConnectionOf } from './stats.ts'
import type { Connector } from './connect.ts'
import type { PeerNode } from './node.ts'
import type { Connection } from '@libp2p/interface'

const log = peerLogger('links')

/** Timing of automatic direct links to room members; see README › Rooms › Direct links */
export const MESH_DEFAULTS = {
  /** the peer with the higher PeerId waits this long (plus up to 1 s jitter) before dialling, so usually only one side dials */
  followerDelayMs: 3_000,
  /** retries after a failed attempt wait 5 s, 10 s, 20 s (plus jitter), then give up until the member is seen anew */
  retryBaseMs: 5_000,
  /** attempts at a direct link to one member (the first and three retries) */
  attempts: 4,
  /** after that many failed attempts, a member still present gets a new round this much later */
  roundPauseMs: 60_000,
  /** how often WebRTC links are checked for an RTCPeerConnection that closed or failed without telling libp2p */
  watchMs: 1_000
} as const

/** Links a peer directly (WebRTC) to the peers it `want`s, up to `max` direct links */
export class DirectLinks {
  private readonly node: PeerNode
  private readonly connector: Connector
  private readonly max: number
  /** room members to stay linked to, and in how many of our rooms each is */
  private readonly members = new Map<string, number>()
  private readonly self: string
  private readonly pending = new Map<string, ReturnType<typeof setTimeout>>()
  /** peers the app asked for: linked whatever `max` says */
  private readonly eager = new Set<string>()
  /** members that cannot do WebRTC (their browser has none: WebKitGTK, some embedded views): no more attempts */
  private readonly noWebRTC = new Set<string>()
  private readonly controller = new AbortController()
  private readonly watch: ReturnType<typeof setInterval>

  constructor (node: PeerNode, connector: Connector, max: number) {
    this.node = node
    this.connector = connector
    this.max = max
    this.self = node.peerId.toString()
    connector.addEventListener('link:relayed', this.onRelayed)
    node.addEventListener('connection:close', this.onClose)
    // an RTCPeerConnection closed by its page, or one that failed, fires no event libp2p hears: the
    // connection would stay "open" and GossipSub would keep sending into it
    this.watch = setInterval(() => { this.closeDeadLinks() }, MESH_DEFAULTS.watchMs)
  }

  /**
   * A room member was seen (or we hold a relayed link to it): link to it unless already linked, busy, or
   * full. `eager`: the app asked for this peer (connect()), so now and whatever `maxDirectPeers` says.
   */
  want (peerId: string, eager = false): void {
    // a page without RTCPeerConnection links to nobody; a member without it is not asked again
    if (!hasWebRTC || this.noWebRTC.has(peerId) || this.connector.hasDirect(peerId)) return
    if (eager) this.eager.add(peerId)
    if (this.pending.has(peerId)) return
    // both sides see each other at about the same time: the lower PeerId dials, the other only if that did not happen
    const delay = eager || this.self < peerId ? 0 : MESH_DEFAULTS.followerDelayMs + Math.random() * 1_000
    this.schedule(peerId, 1, delay)
  }

  /** `peerId` joined one of our rooms: link to it, and again whenever its link drops while it stays */
  keep (peerId: string): void {
    this.members.set(peerId, (this.members.get(peerId) ?? 0) + 1)
    this.want(peerId)
  }

  /** `peerId` left one of our rooms; no more attempts once it is in none */
  release (peerId: string): void {
    const n = (this.members.get(peerId) ?? 0) - 1
    if (n > 0) { this.members.set(peerId, n); return }
    this.members.delete(peerId)
    this.noWebRTC.delete(peerId)
    clearTimeout(this.pending.get(peerId))
    this.pending.delete(peerId)
  }

  /** The network is back (or the tab is visible again): members without a link get an attempt now */
  wake (): void {
    for (const peerId of this.members.keys()) {
      if (this.connector.hasDirect(peerId)) continue
      clearTimeout(this.pending.get(peerId))
      this.pending.delete(peerId)
      this.want(peerId)
    }
  }

  stop (): void {
    clearInterval(this.watch)
    this.controller.abort()
    this.connector.removeEventListener('link:relayed', this.onRelayed)
    this.node.removeEventListener('connection:close', this.onClose)
    for (const timer of this.pending.values()) clearTimeout(timer)
    this.pending.clear()
  }

  /** connect() settled for a relayed link: keep trying to upgrade it in the background */
  private readonly onRelayed = (evt: CustomEvent<{ peerId: string, eager: boolean }>): void => { this.want(evt.detail.peerId, evt.detail.eager) }

  private closeDeadLinks (): void {
    for (const conn of this.node.getConnections()) {
      if (conn.status !== 'open' || transportOf(conn) !== 'webrtc') continue
      const state = peerConnectionOf(conn)?.connectionState
      if (state === 'closed' || state === 'failed') {
        log('the RTCPeerConnection to %s is %s: closing its connection', conn.remotePeer, state)
        conn.abort(new Error(`RTCPeerConnection ${state}`))
      }
    }
  }

  /** A member's WebRTC link closed and it is still in a room with us: link again (the lower PeerId at once) */
  private readonly onClose = (evt: CustomEvent<Connection>): void => {
    const peerId = evt.detail.remotePeer.toString()
    if (transportOf(evt.detail) !== 'webrtc' || !this.members.has(peerId) || this.connector.hasDirect(peerId)) return
    log('direct link to %s closed; linking again', peerId)
    this.want(peerId)
  }

  private schedule (peerId: string, attempt: number, delay: number): void {
    this.pending.set(peerId, setTimeout(() => { void this.attempt(peerId, attempt) }, delay))
  }

  private async attempt (peerId: string, attempt: number): Promise<void> {
    const done = (): void => { this.pending.delete(peerId); this.eager.delete(peerId) }
    if (this.controller.signal.aborted || this.connector.hasDirect(peerId) || (!this.eager.has(peerId) && this.connector.directCount() >= this.max)) {
      done()
      return
    }
    try {
      await this.connector.connect(peerId, { signal: this.controller.signal, allowRelayed: false, webrtcTries: 1 })
      done()
    } catch (err: any) {
      log('direct link to %s, attempt %d, failed: %s', peerId, attempt, err.message)
      if (this.controller.signal.aborted) { done(); return }
      // the member's relay answered, but the member itself speaks no WebRTC signalling: it has no WebRTC
      if (String(err.message).includes('/webrtc-signaling')) { done(); this.noWebRTC.add(peerId); return }
      if (attempt >= MESH_DEFAULTS.attempts) {
        done()
        // a member that stays gets another round later: its network may have changed since
        if (this.members.has(peerId)) this.schedule(peerId, 1, MESH_DEFAULTS.roundPauseMs + Math.random() * 5_000)
        return
      }
      this.schedule(peerId, attempt + 1, MESH_DEFAULTS.retryBaseMs * 2 ** (attempt - 1) + Math.random() * 1_000)
    }
  }
}
