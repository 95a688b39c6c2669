import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vitest/config'
import { replaceModules } from './build/patch.ts'
import { PATCHES } from './build/patches/index.ts'
import { relayJson } from './build/plugins.ts'
import type { Patch, Target } from './build/patch.ts'
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

/**
 * `vite build --mode esm`: dist/peerlane.browser.mjs, the same build as an ES module. A bundler that imports
 * 'peerlane' for a browser gets this file (package.json `exports`, `browser` condition).
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
 * `vite build --mode content`: dist/peerlane-content.mjs, the content engine (src/content/engine.ts: Bitswap, the
 * blockstores, the UnixFS importer and exporter) as one self-contained ES module. Both browser bundles load it
 * from beside themselves on the first share/fetch (src/content/load.sibling.ts), so it adds nothing to them.
 */
const content: BuildOptions = {
  ...library,
  lib: {
    entry: here('./src/content/engine.ts'),
    formats: ['es'],
    fileName: () => 'peerlane-content.mjs'
  }
}

/**
 * `vite build --mode node`: dist/node/index.mjs and dist/node/shared.mjs, what Node gets for 'peerlane' and
 * 'peerlane/shared'. Bundled like the browser builds, so Node users run the same patched dependencies and an
 * app installs none of libp2p's packages (nor the react-native tree @libp2p/webrtc declares); only `ws` (the
 * WebSocket of Node 20) and node-datachannel (a native addon: WebRTC in Node) stay outside.
 */
const node: BuildOptions = {
  outDir: here('./dist/node'),
  emptyOutDir: true,
  ssr: true,
  target: 'node20',
  sourcemap: true,
  reportCompressedSize: false,
  rollupOptions: {
    input: { index: here('./src/index.ts'), shared: here('./src/shared.ts') },
    external: [/^ws$/, /^node-datachannel(\/.*)?$/],
    output: { format: 'esm', entryFileNames: '[name].mjs', chunkFileNames: 'chunk-[hash].mjs' }
  }
}

/**
 * `vite build --mode relay`: relay-server/dist/peerlane-relay.mjs (what the `peerlane-relay` bin runs) and index.mjs
 * (`createRelay`), minified, dependencies inside. Node keeps every loaded module's source text and compiled
 * code in memory: from node_modules the idle relay held 75 MB RSS, bundled 57 MB (see bench/README.md).
 * kad-dht (federation only) stays a chunk loaded on demand.
 */
const relay: BuildOptions = {
  outDir: here('./relay-server/dist'),
  // the relay's declarations (tsc -p relay-server) are written after this build, into dist/types
  emptyOutDir: true,
  ssr: true,
  target: 'node20',
  minify: true,
  sourcemap: true,
  reportCompressedSize: false,
  rollupOptions: {
    input: { 'peerlane-relay': here('./relay-server/cli.ts'), index: here('./relay-server/index.ts') },
    output: { format: 'esm', entryFileNames: '[name].mjs', chunkFileNames: 'chunk-[hash].mjs' }
  }
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

const BUILDS: Record<string, { build: BuildOptions, target: Target, plugins?: Plugin[], patches?: Patch[] }> = {
  production: { build: library, target: 'browser' },
  esm: { build: esm, target: 'browser' },
  // the engine runs on the bundle's libp2p node: of the patched dependencies it has only @libp2p/crypto's keys (through @libp2p/peer-id)
  content: { build: content, target: 'browser', patches: PATCHES.filter(p => p.name === 'crypto-ed25519-only') },
  node: { build: node, target: 'node' },
  relay: { build: relay, target: 'relay' },
  demo: { build: demo, target: 'browser', plugins: [relayJson()] }
}

// The builds above; `vite` (via demo/start.js) serves the demo with the SDK imported from source as
// 'peerlane'; `vitest` runs the unit tests in Node.
export default defineConfig(({ mode }) => {
  const job = BUILDS[mode] ?? BUILDS.production
  const inBrowser = job.target === 'browser' && process.env.VITEST == null
  // the published browser bundles load the content engine from their own folder; everything else bundles it
  const loader = mode === 'production' ? 'load.script.ts' : mode === 'esm' ? 'load.sibling.ts' : undefined
  return {
    root: here('./demo'),
    base: './',
    plugins: [replaceModules(job.target, job.patches ?? PATCHES), ...(job.plugins ?? [])],
    resolve: {
      alias: [
        { find: /^peerlane$/, replacement: here('./src/index.ts') },
        { find: /^peerlane\/shared$/, replacement: here('./src/shared.ts') },
        // browser variants of src/ modules (`x.browser.ts` beside `x.ts`), as a package.json `browser` map would
        // swap them: no Node polyfill (ws), and the page lifecycle
        ...(inBrowser ? [{ find: /^\.\/(polyfills|lifecycle|history-store)\.ts$/, replacement: here('./src/$1.browser.ts') }] : []),
        ...(inBrowser ? [{ find: /^\.\/open-store\.ts$/, replacement: here('./src/content/open-store.browser.ts') }] : []),
        ...(loader != null ? [{ find: /^\.\/content\/load\.ts$/, replacement: here(`./src/content/${loader}`) }] : [])
      ],
      // one copy of each: @chainsafe/libp2p-noise and -yamux still depend on the previous majors of these, whose
      // APIs are the same at runtime (only their TypeScript generics changed); two copies cost ~25 KB minified
      dedupe: ['uint8arraylist', 'uint8arrays', 'multiformats', 'protons-runtime', 'uint8-varint']
    },
    test: {
      root: here('.'),
      include: ['src/**/*.test.ts', 'demo/**/*.test.ts', 'relay-server/**/*.test.ts', 'bench/**/*.test.ts', 'build/**/*.test.ts'],
      testTimeout: 30_000
    },
    // the server builds bundle their dependencies (Vite's SSR build leaves them external by default)
    ssr: job.target === 'browser' ? undefined : { noExternal: true, target: 'node' },
    build: job.build
  }
})
