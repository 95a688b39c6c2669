// Vite (rolldown) plugins that replace code in dependencies at build time. Each replacement is keyed by the
// file it replaces, so a dependency update that moves the file shows up as a failing build (see `applied`
// below), not as a silently larger bundle or a silently slower start.
//   slimBrowserBuild(): the browser builds; drops code Peerlane never runs in a browser, plus CODE_UNIT_SORTS
//   relayBuild():       the bundled relay (dist/relay/peerlane-relay.mjs); CODE_UNIT_SORTS only
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import type { Plugin } from 'vite'

const here = (path: string): string => fileURLToPath(new URL(path, import.meta.url))

interface Replacement {
  /** the end of the replaced file's path (inside node_modules) */
  file: string
  /** the code that replaces it, given the original */
  code: (original: string) => string
}

/** `x.localeCompare(y)` → code-unit order, for sorts whose only purpose is a deterministic order */
function codeUnitSorts (file: string, count: number): Replacement {
  return {
    file,
    code: (original) => {
      let n = 0
      const code = original.replace(/([\w.]+(?:\(\))?)\.localeCompare\(/g, (_, left: string) => { n++; return `peerlaneCodeUnitCompare(${left}, ` })
      if (n !== count || code.includes('localeCompare')) throw new Error(`slim: expected ${count} localeCompare sorts in ${file}, found ${n}; update bench/slim.ts`)
      return `${code}\nfunction peerlaneCodeUnitCompare (a, b) { return a < b ? -1 : a > b ? 1 : 0 }\n`
    }
  }
}

/**
 * js-libp2p's peer store sorts protocols, metadata keys, tags and addresses with `localeCompare` so that a
 * stored record is deterministic, and every peer record is stored, the node's own at start included. The
 * first `localeCompare` in a process loads ICU's collation data: measured here, 8 MB of a Node relay's idle
 * RSS (57 MB instead of 65 MB) and 8-13 ms of a Chromium page's start. Code-unit order is as deterministic,
 * and these orders are never shown to anyone.
 */
const CODE_UNIT_SORTS: Replacement[] = [
  codeUnitSorts('/@libp2p/peer-store/dist/src/utils/to-peer-pb.js', 2),
  codeUnitSorts('/@libp2p/peer-store/dist/src/utils/dedupe-addresses.js', 1),
  codeUnitSorts('/@libp2p/peer-record/dist/src/peer-record/utils.js', 1)
]

const BROWSER_ONLY: Replacement[] = [
  {
    // RSA, secp256k1 and ECDSA keys: Peerlane peers and relays use Ed25519, and the stock module pulls the
    // others (DER/ASN.1, Weierstrass curves) into every bundle that parses a public key
    file: '/@libp2p/crypto/dist/src/keys/index.js',
    code: () => readFileSync(here('./keys-ed25519.js'), 'utf8')
  },
  {
    // GossipSub's Prometheus metrics (~20 KB minified) exist only when `metricsRegister` is passed, which a
    // browser peer never does; the enums at the top of the file are used elsewhere and are kept
    file: '/@libp2p/gossipsub/dist/src/metrics.js',
    code: (original) => {
      const at = original.indexOf('export function getMetrics')
      if (at < 0) throw new Error('slim: getMetrics not found in @libp2p/gossipsub metrics.js; update bench/slim.ts')
      return original.slice(0, at) + "export function getMetrics () { throw new Error('GossipSub metrics are not in the Peerlane browser build') }\n"
    }
  }
]

function replaceModules (name: string, replacements: Replacement[]): Plugin {
  const applied = new Set<string>()
  return {
    name,
    apply: 'build',
    enforce: 'pre',
    load (id) {
      const path = id.split('?')[0]
      const replacement = replacements.find(r => path.endsWith(r.file))
      if (replacement == null) return null
      applied.add(replacement.file)
      return { code: replacement.code(readFileSync(path, 'utf8')), map: null }
    },
    buildEnd (error) {
      if (error != null) return
      const missing = replacements.filter(r => !applied.has(r.file)).map(r => r.file)
      if (missing.length > 0) this.error(`slim: these files were not in the build any more, update bench/slim.ts: ${missing.join(', ')}`)
    }
  }
}

export function slimBrowserBuild (): Plugin {
  return replaceModules('peerlane-slim', [...BROWSER_ONLY, ...CODE_UNIT_SORTS])
}

export function relayBuild (): Plugin {
  return replaceModules('peerlane-relay-sorts', CODE_UNIT_SORTS)
}
