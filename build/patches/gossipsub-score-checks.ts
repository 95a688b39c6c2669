// GossipSub checks its score parameters and thresholds when it starts (validatePeerScoreParams,
// validateTopicScoreParams, validatePeerScoreThresholds: a throw with a message per field). A Peerlane peer's are
// constants (src/node.ts; apps cannot pass their own), so in a page the checks can only ever pass. The browser
// build leaves their bodies out (~0.5 KB gzip); the Node build and every Node test that starts a peer still run
// them on the same constants, so a bad change to node.ts fails there.
// Upstream: not applicable (a size choice). Delete if browser peers ever take score parameters from apps.
import { replaceText } from '../patch.ts'
import type { Patch } from '../patch.ts'

const name = 'gossipsub-score-checks'

export const gossipsubScoreChecks: Patch = {
  name,
  targets: ['browser'],
  replacements: [
    replaceText(name, '/@libp2p/gossipsub/dist/src/score/peer-score-params.js', 'validatePeerScoreParams',
      'export function validatePeerScoreParams(p) {', 'export function validatePeerScoreParams(p) {\n    return; // Peerlane build patch gossipsub-score-checks'),
    replaceText(name, '/@libp2p/gossipsub/dist/src/score/peer-score-params.js', 'validateTopicScoreParams',
      'export function validateTopicScoreParams(p) {', 'export function validateTopicScoreParams(p) {\n    return; // Peerlane build patch gossipsub-score-checks'),
    replaceText(name, '/@libp2p/gossipsub/dist/src/score/peer-score-thresholds.js', 'validatePeerScoreThresholds',
      'export function validatePeerScoreThresholds(p) {', 'export function validatePeerScoreThresholds(p) {\n    return; // Peerlane build patch gossipsub-score-checks')
  ]
}
