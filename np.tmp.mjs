import { createPeer } from './dist/src/index.js'
import { createRelay } from './dist/relay-server/relay.js'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
const kx = await generateKeyPair('Ed25519'), ky = await generateKeyPair('Ed25519')
const px = 40000 + Math.floor(Math.random()*1000), py = px + 1
const ax = `/ip4/127.0.0.1/tcp/${px}/ws/p2p/${peerIdFromPrivateKey(kx)}`, ay = `/ip4/127.0.0.1/tcp/${py}/ws/p2p/${peerIdFromPrivateKey(ky)}`
const x = createRelay({ port: px, privateKey: kx, peers: [ay], logLevel: 'debug' })
const y = createRelay({ port: py, privateKey: ky, peers: [ax], logLevel: 'debug' })
await Promise.all([x.ready, y.ready])
await new Promise(r => setTimeout(r, 2000))
const a = await createPeer({ relays: [ax], maxDirectPeers: 0 })
const b = await createPeer({ relays: [ay], maxDirectPeers: 0 })
await new Promise(r => setTimeout(r, 2000))
console.log('B addrs', b.addresses)
try { console.log(await a.connect(b.id, { signal: AbortSignal.timeout(20000) })) } catch (e) { console.log('ERR', e.message) }
await a.stop(); await b.stop(); await x.close(); await y.close(); process.exit(0)
