// GossipSub's Prometheus metrics (~20 KB minified) exist only when `metricsRegister` is passed, which a
// browser peer never does; the enums at the top of the file are used elsewhere and are kept. The score weights
// breakdown (score/scoreMetrics.js) is computed only for those metrics, and goes too.
// Upstream: not applicable (a size choice). Delete if browser peers ever report GossipSub metrics.
import { StalePatchError } from '../patch.ts'
import type { Patch } from '../patch.ts'

export const gossipsubMetrics: Patch = {
  name: 'gossipsub-metrics',
  targets: ['browser'],
  replacements: [{
    file: '/@libp2p/gossipsub/dist/src/metrics.js',
    code: (original) => {
      const at = original.indexOf('export function getMetrics')
      if (at < 0) throw new StalePatchError('gossipsub-metrics', 'getMetrics is not in @libp2p/gossipsub metrics.js')
      return original.slice(0, at) + "export function getMetrics () { throw new Error('GossipSub metrics are not in the Peerlane browser build') }\n"
    }
  }, {
    file: '/@libp2p/gossipsub/dist/src/score/scoreMetrics.js',
    code: (original) => {
      if (!original.includes('export function computeAllPeersScoreWeights')) throw new StalePatchError('gossipsub-metrics', 'computeAllPeersScoreWeights is not in @libp2p/gossipsub score/scoreMetrics.js')
      return "export function computeAllPeersScoreWeights () { throw new Error('GossipSub metrics are not in the Peerlane browser build') }\n"
    }
  }]
}
