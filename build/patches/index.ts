// Every dependency patch, one file each; build/patch.ts says how they are applied and checked.
import { circuitPipelined } from './circuit-pipelined.ts'
import { cryptoEd25519Only } from './crypto-ed25519-only.ts'
import { dnsQueue } from './dns-queue.ts'
import { gossipsubMetrics } from './gossipsub-metrics.ts'
import { gossipsubScoreChecks } from './gossipsub-score-checks.ts'
import { morticeSingle } from './mortice-single.ts'
import { mssOptimistic } from './mss-optimistic.ts'
import { mssOptimisticCallers, mssOptimisticSignalling } from './mss-optimistic-callers.ts'
import { noiseX25519Ladder } from './noise-x25519-ladder.ts'
import { peerStoreSorts } from './peer-store-sorts.ts'
import { protonsNoStream } from './protons-no-stream.ts'
import { webcryptoEd25519Keys } from './webcrypto-ed25519-keys.ts'
import { webrtcInitChannel } from './webrtc-init-channel.ts'
import { webrtcStreamSend } from './webrtc-stream-send.ts'
import { webrtcUntilConnected } from './webrtc-until-connected.ts'
import { websocketsSend } from './websockets-send.ts'
import { yamuxWindowUpdate } from './yamux-window-update.ts'
import type { Patch } from '../patch.ts'

export const PATCHES: Patch[] = [
  peerStoreSorts,
  yamuxWindowUpdate,
  websocketsSend,
  webrtcInitChannel,
  webrtcStreamSend,
  webrtcUntilConnected,
  cryptoEd25519Only,
  noiseX25519Ladder,
  webcryptoEd25519Keys,
  gossipsubMetrics,
  mssOptimistic,
  mssOptimisticCallers,
  mssOptimisticSignalling,
  circuitPipelined,
  protonsNoStream,
  dnsQueue,
  morticeSingle,
  gossipsubScoreChecks
]
