// Vite plugins of Peerlane's builds, besides the dependency patches (build/patch.ts).
import type { Plugin } from 'vite'

/** With PEERLANE_DEMO_RELAYS set (comma-separated multiaddrs), the static demo gets a relay.json naming them */
export function relayJson (): Plugin {
  return {
    name: 'peerlane-demo-relay-json',
    generateBundle () {
      const relays = process.env.PEERLANE_DEMO_RELAYS?.split(',').map(s => s.trim()).filter(Boolean)
      if (relays != null && relays.length > 0) this.emitFile({ type: 'asset', fileName: 'relay.json', source: JSON.stringify(relays) })
    }
  }
}
