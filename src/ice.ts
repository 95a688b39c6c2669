// ICE servers from our relays: each Peerlane relay serves STUN and, with coturn beside it, hands out TURN
// credentials over /peerlane/ice/1.0.0 on our authenticated connection to it. WebRTC links use them (with
// the app's own `iceServers`), so two browsers behind NATs find each other's public addresses without
// any third party learning about them.
import { pbStream } from '@libp2p/utils'
import { parsePeerId } from './address.ts'
import { peerLogger } from './logger.ts'
import { IceRequest, IceResponse } from './pb/ice.ts'
import type { PeerConfig } from './config.ts'
import type { PeerNode } from './node.ts'
import type { Connection } from '@libp2p/interface'

const log = peerLogger('ice')

/** The protocol by which a relay tells its peers its STUN and TURN servers */
export const ICE_PROTOCOL = '/peerlane/ice/1.0.0'
/** how long one relay may take to answer */
const ASK_TIMEOUT = 5_000
/** how long a WebRTC dial waits for a first answer before it goes on without (host candidates only) */
const FIRST_ANSWER_WAIT = 2_000
/** ask again this long before TURN credentials expire */
const REFRESH_BEFORE_MS = 60_000

interface Answer {
  servers: RTCIceServer[]
  /** ms since the epoch; Infinity when nothing expires */
  expires: number
}

/** The ICE servers of our relays, asked for once per relay connection and again before credentials expire */
export class RelayIce {
  private node?: PeerNode
  private readonly config: PeerConfig
  private readonly answers = new Map<string, Answer>()
  private readonly asking = new Map<string, Promise<void>>()
  private stopped = false

  /** made before the node, whose WebRTC transport asks it for each RTCPeerConnection's configuration */
  constructor (config: PeerConfig) {
    this.config = config
  }

  /** Starts asking each relay we connect to */
  start (node: PeerNode): void {
    this.node = node
    if (this.config.relayIceServers) node.addEventListener('connection:open', this.onOpen)
  }

  /** The RTCConfiguration for a new RTCPeerConnection: the app's options, our relays' servers, then the app's `iceServers` */
  async rtcConfiguration (): Promise<RTCConfiguration> {
    return { ...this.config.rtcConfiguration, iceServers: [...await this.servers(), ...this.config.iceServers] }
  }

  /** Our relays' servers now; waits a little for the first answer if none has come yet */
  async servers (): Promise<RTCIceServer[]> {
    if (!this.config.relayIceServers) return []
    const now = Date.now()
    for (const [relay, answer] of this.answers) {
      if (answer.expires - REFRESH_BEFORE_MS < now) this.askRelay(relay)
    }
    if (this.answers.size === 0 && this.asking.size > 0) {
      await Promise.race([Promise.allSettled(this.asking.values()), new Promise(resolve => setTimeout(resolve, FIRST_ANSWER_WAIT))])
    }
    const seen = new Set<string>()
    const servers: RTCIceServer[] = []
    for (const answer of this.answers.values()) {
      if (answer.expires < Date.now()) continue
      for (const server of answer.servers) {
        const key = JSON.stringify(server)
        if (!seen.has(key)) { seen.add(key); servers.push(server) }
      }
    }
    return servers
  }

  stop (): void {
    this.stopped = true
    this.node?.removeEventListener('connection:open', this.onOpen)
  }

  private readonly onOpen = (evt: CustomEvent<Connection>): void => {
    const conn = evt.detail
    const relay = conn.remotePeer.toString()
    if (conn.limits == null && this.config.relayIds.has(relay)) this.askRelay(relay)
  }

  private askRelay (relay: string): void {
    if (this.asking.has(relay) || this.stopped) return
    const asking = this.ask(relay).finally(() => this.asking.delete(relay))
    this.asking.set(relay, asking)
  }

  private async ask (relay: string): Promise<void> {
    const connection = this.node?.getConnections(parsePeerId(relay)).find(c => c.status === 'open' && c.limits == null)
    if (connection == null) return
    const signal = AbortSignal.timeout(ASK_TIMEOUT)
    try {
      const stream = await connection.newStream(ICE_PROTOCOL, { signal })
      const pb = pbStream(stream)
      await pb.write({}, IceRequest, { signal })
      const answer = await pb.read(IceResponse, { signal })
      await stream.close({ signal }).catch(() => {})
      const servers = answer.servers.map(s => s.username === '' ? { urls: s.urls } : { urls: s.urls, username: s.username, credential: s.credential })
      this.answers.set(relay, { servers, expires: answer.expires === 0n ? Number.POSITIVE_INFINITY : Number(answer.expires) * 1000 })
      log('relay %s offers %o', relay, servers.map(s => s.urls))
    } catch (err: any) {
      // an older relay without the protocol, a refusal, a timeout: links go on with what we have
      log('relay %s gave no ICE servers: %s', relay, err.message)
      if (!this.answers.has(relay)) this.answers.set(relay, { servers: [], expires: Date.now() + 10 * REFRESH_BEFORE_MS })
    }
  }
}
