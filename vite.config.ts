import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vitest/config'
import { relayBuild, slimBrowserBuild } from './bench/slim.ts'
import type { BuildOptions, Plugin } from 'vite'

const here = (path: string): string => fileURLToPath(new URL(path, import.meta.url))

/** `vite build`: dist/peerlane.min.js, the self-contained <script>-tag build that defines window.Peerlane */
const library: BuildOptions = {
  outDir: here('./dist'),
  emptyOutDir: false,
  target: 'es2022',
  lib: {
    entry: here('./src/global.ts'),
    name: 'Peerlane',
    formats: ['iife'],
    fileName: () => 'peerlane.min.js'
  },
  minify: true,
  sourcemap: true,
  reportCompressedSize: false
}

/** `vite build --mode demo`: the chat app as static files in dist/demo, hostable by any web server */
const demo: BuildOptions = {
  outDir: here('./dist/demo'),
  emptyOutDir: true,
  target: 'es2022',
  sourcemap: true,
  reportCompressedSize: false,
  // one chunk holds the SDK (libp2p and all): that is the app
  chunkSizeWarningLimit: 1024
}

/**
 * `vite build --mode esm`: dist/peerlane.browser.mjs, the same build as an ES module. A bundler that imports
 * 'peerlane' for a browser gets this file (package.json `exports`, `browser` condition), so an app gets what
 * the script tag gets, the fixes of bench/slim.ts included.
 */
const esm: BuildOptions = {
  ...library,
  lib: {
    entry: here('./src/index.ts'),
    formats: ['es'],
    fileName: () => 'peerlane.browser.mjs'
  }
}

/**
 * `vite build --mode relay`: dist/relay/peerlane-relay.mjs, the relay server (the `peerlane-relay` bin) as one
 * minified file with its dependencies inside. Node keeps every loaded module's source text and compiled code
 * in memory: from node_modules the idle relay held 75 MB RSS, bundled it holds 57 MB (see bench/README.md).
 * kad-dht (federation only) stays a chunk loaded on demand.
 */
const relay: BuildOptions = {
  outDir: here('./dist/relay'),
  emptyOutDir: true,
  ssr: here('./relay-server/cli.ts'),
  target: 'node20',
  minify: true,
  sourcemap: true,
  reportCompressedSize: false,
  rollupOptions: {
    output: { format: 'esm', entryFileNames: 'peerlane-relay.mjs', chunkFileNames: 'chunk-[hash].mjs' }
  }
}

/** With PEERLANE_DEMO_RELAYS set (comma-separated multiaddrs), the static demo gets a relay.json naming them */
function relayJson (): Plugin {
  return {
    name: 'peerlane-demo-relay-json',
    generateBundle () {
      const relays = process.env.PEERLANE_DEMO_RELAYS?.split(',').map(s => s.trim()).filter(Boolean)
      if (relays != null && relays.length > 0) this.emitFile({ type: 'asset', fileName: 'relay.json', source: JSON.stringify(relays) })
    }
  }
}

// Six jobs: the library (script tag and ES module), relay and demo builds above; `vite` (via demo/start.js) serves the demo
// with the SDK imported from source as 'peerlane'; `vitest` runs the unit tests in Node.
export default defineConfig(({ mode }) => ({
  root: here('./demo'),
  base: './',
  plugins: mode === 'relay' ? [relayBuild()] : [slimBrowserBuild(), ...(mode === 'demo' ? [relayJson()] : [])],
  resolve: {
    alias: [
      { find: /^peerlane$/, replacement: here('./src/index.ts') },
      // in browsers no Node polyfill (ws) is wanted; this mirrors package.json's `browser` map
      ...(process.env.VITEST == null && mode !== 'relay' ? [{ find: /^\.\/polyfills\.ts$/, replacement: here('./src/polyfills.browser.ts') }] : [])
    ],
    // one copy of each: @chainsafe/libp2p-noise and -yamux still depend on the previous majors of these, whose
    // APIs are the same at runtime (only their TypeScript generics changed); two copies cost ~25 KB minified
    dedupe: ['uint8arraylist', 'uint8arrays', 'multiformats', 'protons-runtime', 'uint8-varint']
  },
  test: {
    root: here('.'),
    include: ['src/**/*.test.ts', 'relay-server/**/*.test.ts', 'bench/**/*.test.ts'],
    testTimeout: 30_000
  },
  // the relay bundles its dependencies (Vite's SSR build leaves them external by default)
  ssr: mode === 'relay' ? { noExternal: true, target: 'node' } : undefined,
  build: mode === 'demo' ? demo : mode === 'relay' ? relay : mode === 'esm' ? esm : library
}))
