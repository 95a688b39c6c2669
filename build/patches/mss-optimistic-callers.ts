// The streams on the critical paths of createPeer and connect open with `negotiateFully: false`, so that each
// sends its protocol name together with its first message (build/patches/mss-optimistic.ts) instead of waiting a
// relay round trip for the answer first: the connection encrypter (Noise: its first handshake message goes
// with '/noise'), circuit relay's hop stream (RESERVE and CONNECT) and stop stream (the relay's side, in the
// relay build), and the WebRTC signalling stream (the SDP offer). Each of them writes before it reads, and each
// is opened only to peers known to speak it (a refusal still fails the dial, one step later). The other side
// needs no change: a stock libp2p peer or relay answers these streams as before.
// Measured (bench/delay-proxy.test.ts): createPeer 5 → 3 relay round trips in Node, see bench/README.md.
// Upstream: js-libp2p could pass negotiateFully: false at these calls once select() honours it again (see
// mss-optimistic.ts); not filed. Delete with mss-optimistic.
import { replaceText } from '../patch.ts'
import type { Patch } from '../patch.ts'

const name = 'mss-optimistic-callers'

export const mssOptimisticCallers: Patch = {
  name,
  targets: ['browser', 'node', 'relay'],
  replacements: [
    replaceText(name, '/libp2p/dist/src/upgrader.js', 'the encrypter selection', `            connection.log.trace('selecting encrypter from %s', protocols);
            const protocol = await mss.select(connection, protocols, options);`, `            connection.log.trace('selecting encrypter from %s', protocols);
            const protocol = await mss.select(connection, protocols, { ...options, negotiateFully: false });`),
    replaceText(name, '/@libp2p/circuit-relay-v2/dist/src/transport/reservation-store.js', 'the RESERVE stream', '        const stream = await connection.newStream(RELAY_V2_HOP_CODEC, options);',
      '        const stream = await connection.newStream(RELAY_V2_HOP_CODEC, { ...options, negotiateFully: false });'),
    replaceText(name, '/@libp2p/circuit-relay-v2/dist/src/transport/index.js', 'the CONNECT stream', '            stream = await relayConnection.newStream(RELAY_V2_HOP_CODEC, options);',
      '            stream = await relayConnection.newStream(RELAY_V2_HOP_CODEC, { ...options, negotiateFully: false });'),
    replaceText(name, '/@libp2p/circuit-relay-v2/dist/src/server/index.js', 'the STOP stream', `            runOnLimitedConnection: true,
            ...options
        });`, `            runOnLimitedConnection: true,
            ...options,
            negotiateFully: false
        });`)
  ]
}

/** The WebRTC signalling stream, in the builds that have WebRTC */
export const mssOptimisticSignalling: Patch = {
  name,
  targets: ['browser', 'node'],
  replacements: [
    replaceText(name, '/@libp2p/webrtc/dist/src/private-to-private/initiate-connection.js', 'the signalling stream', `    const stream = await connection.newStream(SIGNALING_PROTOCOL, {
        signal,
        runOnLimitedConnection: true
    });`, `    const stream = await connection.newStream(SIGNALING_PROTOCOL, {
        signal,
        runOnLimitedConnection: true,
        negotiateFully: false
    });`)
  ]
}
