// A load-generator process for bench/relay-capacity.mjs: opens `count` lightweight libp2p clients to one
// relay, each with its own Ed25519 PeerId, each a real libp2p connection (WebSockets + Noise + Yamux via
// multistream-select) that takes a circuit-relay v2 reservation and then stays open, answering the relay's
// pings. No libp2p node per client (no peer store, no services): that is what keeps them light enough to
// run thousands per process. Driven over IPC: { start: { relay, count, concurrency } }, then { stop: true }.
// Peerlane's Node polyfills first (a global WebSocket from ws, Promise.withResolvers: libp2p 3 on Node 20)
import 'peerlane/shared'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { defaultLogger } from '@libp2p/logger'
import * as mss from '@libp2p/multistream-select'
import { peerIdFromString } from '@libp2p/peer-id'
import { pbStream } from '@libp2p/utils'
import { webSockets } from '@libp2p/websockets'
import { multiaddr } from '@multiformats/multiaddr'
import { TypedEventEmitter } from 'main-event'
// the relay protocol's own protobuf codec (not exported by the package, but shipped in it)
import { HopMessage, Status } from '../node_modules/@libp2p/circuit-relay-v2/dist/src/pb/index.js'

const HOP = '/libp2p/circuit/relay/0.2.0/hop'
const PING = '/ipfs/ping/1.0.0'
const logger = defaultLogger()
const transport = webSockets()({ logger, events: new TypedEventEmitter() })
const muxerFactory = yamux()()
const clients = []
/** why clients failed, by error: printed by the parent when any did */
const failures = new Map()

/** One client: connect, secure, multiplex, reserve. Resolves to 'reserved', 'refused' or 'failed' */
async function client (relay, relayPeer) {
  const privateKey = await generateKeyPair('Ed25519')
  const encrypter = noise()({ privateKey, logger, upgrader: { getStreamMuxers: () => new Map() } })
  const signal = AbortSignal.timeout(30_000)
  let muxer
  let maConn
  const upgrader = {
    async upgradeOutbound (conn) {
      maConn = conn
      await mss.select(conn, ['/noise'], { signal })
      const { connection } = await encrypter.secureOutbound(conn, { remotePeer: relayPeer, signal, skipStreamMuxerNegotiation: true })
      await mss.select(connection, [muxerFactory.protocol], { signal })
      muxer = muxerFactory.createStreamMuxer(connection)
      muxer.addEventListener('stream', evt => { answer(evt.detail) })
      return { muxer }
    }
  }
  try {
    await transport.dial(relay, { upgrader, signal })
    const stream = await muxer.createStream()
    await mss.select(stream, [HOP], { signal })
    const pb = pbStream(stream).pb(HopMessage)
    await pb.write({ type: HopMessage.Type.RESERVE }, { signal })
    const response = await pb.read({ signal })
    await stream.close({ signal }).catch(() => {})
    const entry = { muxer, maConn }
    clients.push(entry)
    if (response.status === Status.OK) return 'reserved'
    return 'refused'
  } catch (err) {
    maConn?.abort?.(new Error('failed'))
    const reason = `${err.name}: ${err.message}`.slice(0, 120)
    failures.set(reason, (failures.get(reason) ?? 0) + 1)
    return 'failed'
  }
}

/** Inbound streams from the relay: answer ping (echo), refuse everything else (identify…) */
function answer (stream) {
  mss.handle(stream, [PING], { signal: AbortSignal.timeout(10_000) }).then(() => {
    stream.addEventListener('message', evt => {
      const data = evt.data.subarray ? evt.data.subarray() : evt.data
      stream.send(data)
    })
    stream.addEventListener('remoteCloseWrite', () => { stream.close().catch(() => {}) })
  }, () => { stream.abort?.(new Error('unsupported')) })
}

process.on('message', async (msg) => {
  if (msg.start != null) {
    const { relay, count, concurrency } = msg.start
    const ma = multiaddr(relay)
    const relayPeer = peerIdFromString(relay.split('/p2p/').pop())
    const counts = { reserved: 0, refused: 0, failed: 0 }
    let next = 0
    let lastReport = Date.now()
    await Promise.all(Array.from({ length: concurrency }, async () => {
      while (next < count) {
        next++
        counts[await client(ma, relayPeer)]++
        if (Date.now() - lastReport > 500) {
          lastReport = Date.now()
          process.send({ progress: { ...counts } })
        }
      }
    }))
    process.send({ done: counts, failures: Object.fromEntries(failures) })
  } else if (msg.stop != null) {
    await Promise.all(clients.map(async c => c.maConn?.close?.().catch(() => {})))
    process.exit(0)
  }
})
process.send({ ready: true })
