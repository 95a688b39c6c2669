// js-libp2p's peer store sorts protocols, metadata keys, tags and addresses with `localeCompare` so that a
// stored record is deterministic, and every peer record is stored, the node's own at start included. The
// first `localeCompare` in a process loads ICU's collation data: measured here, 8 MB of a Node relay's idle
// RSS (57 MB instead of 65 MB) and 8-13 ms of a Chromium page's start. Code-unit order is as deterministic,
// and these orders are never shown to anyone.
// Upstream: not filed. Delete when @libp2p/peer-store and @libp2p/peer-record sort without localeCompare.
import { StalePatchError } from '../patch.ts'
import type { Patch, Replacement } from '../patch.ts'

const NAME = 'peer-store-sorts'

/** `x.localeCompare(y)` → code-unit order, for sorts whose only purpose is a deterministic order */
function codeUnitSorts (file: string, count: number): Replacement {
  return {
    file,
    code: (original) => {
      let n = 0
      const code = original.replace(/([\w.]+(?:\(\))?)\.localeCompare\(/g, (_, left: string) => { n++; return `peerlaneCodeUnitCompare(${left}, ` })
      if (n !== count || code.includes('localeCompare')) throw new StalePatchError(NAME, `expected ${count} localeCompare sorts in ${file}, found ${n}`)
      return `${code}\nfunction peerlaneCodeUnitCompare (a, b) { return a < b ? -1 : a > b ? 1 : 0 }\n`
    }
  }
}

export const peerStoreSorts: Patch = {
  name: NAME,
  targets: ['browser', 'node', 'relay'],
  replacements: [
    codeUnitSorts('/@libp2p/peer-store/dist/src/utils/to-peer-pb.js', 2),
    codeUnitSorts('/@libp2p/peer-store/dist/src/utils/dedupe-addresses.js', 1),
    codeUnitSorts('/@libp2p/peer-record/dist/src/peer-record/utils.js', 1)
  ]
}
