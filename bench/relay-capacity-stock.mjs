// The baseline for bench/relay-capacity.mjs: a stock js-libp2p circuit-relay server configured the way
// the js-libp2p examples do (examples/js-libp2p-example-circuit-relay: WebSockets, Noise, Yamux, identify,
// circuitRelayServer() with its defaults). With STOCK_RAISED=<n> the relay's and the connection
// manager's limits are raised to n reservations, so that memory per client can be compared with ours.
// The tiny /health server is for the benchmark's measurements only.
import { createServer } from 'node:http'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { circuitRelayServer } from '@libp2p/circuit-relay-v2'
import { identify } from '@libp2p/identify'
import { webSockets } from '@libp2p/websockets'
import { createLibp2p } from 'libp2p'
import { WebSocket } from 'ws'

// Node 20 has no Promise.withResolvers (libp2p 3 calls it) and no global WebSocket: the polyfills of Peerlane's
// src/polyfills.ts, written out here because importing them from 'peerlane/shared' would load Peerlane's Node
// bundle into this baseline and add its code to the idle RSS being compared
Promise.withResolvers ??= () => {
  const resolvers = {}
  resolvers.promise = new Promise((resolve, reject) => { Object.assign(resolvers, { resolve, reject }) })
  return resolvers
}
globalThis.WebSocket ??= class extends WebSocket {
  constructor (...args) { super(...args); this.on('error', () => {}) } // a browser's WebSocket never throws on 'error'
}

const raised = process.env.STOCK_RAISED == null ? undefined : Number(process.env.STOCK_RAISED)
const node = await createLibp2p({
  addresses: { listen: ['/ip4/127.0.0.1/tcp/0/ws'] },
  transports: [webSockets()],
  connectionEncrypters: [noise()],
  streamMuxers: [yamux()],
  connectionManager: raised == null ? undefined : { maxConnections: raised + 512, inboundConnectionThreshold: 100_000, maxIncomingPendingConnections: 1024 },
  services: {
    identify: identify(),
    relay: raised == null ? circuitRelayServer() : circuitRelayServer({ reservations: { maxReservations: raised } })
  }
})
const http = createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'application/json' })
  res.end(JSON.stringify({ status: 'ok', reservations: node.services.relay.reservations.size, connections: node.getConnections().length }))
})
await new Promise(resolve => http.listen(0, '127.0.0.1', resolve))
process.stdout.write(JSON.stringify({ event: 'listening', addresses: node.getMultiaddrs().map(String), health: `http://127.0.0.1:${http.address().port}/health` }) + '\n')
process.on('SIGTERM', () => { node.stop().finally(() => process.exit(0)) })
