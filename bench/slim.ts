// Vite (rolldown) plugin for the browser build only: replaces code Peerlane never runs in a browser with the
// parts of it that it does run. Each replacement is keyed by the file it replaces, so a dependency update
// that moves the file shows up as a failing build (see `expected` below), not as a silently larger bundle.
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

const REPLACEMENTS: Replacement[] = [
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

export function slimBrowserBuild (): Plugin {
  const applied = new Set<string>()
  return {
    name: 'peerlane-slim',
    apply: 'build',
    enforce: 'pre',
    load (id) {
      const path = id.split('?')[0]
      const replacement = REPLACEMENTS.find(r => path.endsWith(r.file))
      if (replacement == null) return null
      applied.add(replacement.file)
      return { code: replacement.code(readFileSync(path, 'utf8')), map: null }
    },
    buildEnd (error) {
      if (error != null) return
      const missing = REPLACEMENTS.filter(r => !applied.has(r.file)).map(r => r.file)
      if (missing.length > 0) this.error(`slim: these files were not in the build any more, update bench/slim.ts: ${missing.join(', ')}`)
    }
  }
}
