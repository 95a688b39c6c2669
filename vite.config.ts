import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vitest/config'
import { slimBrowserBuild } from './build/slim.ts'

const here = (path: string): string => fileURLToPath(new URL(path, import.meta.url))

// Three jobs: `vite build` writes dist/peerlane.min.js (the <script>-tag build, window.Peerlane);
// `vite` (via demo/start.js) serves the demo with the SDK imported from source as 'peerlane';
// `vitest` runs the unit tests (src/**/*.test.ts, relay-server/**/*.test.ts) in Node.
export default defineConfig({
  root: here('./demo'),
  resolve: {
    alias: [
      { find: /^peerlane$/, replacement: here('./src/index.ts') },
      // in browsers no Node polyfill (ws) is wanted; this mirrors package.json's `browser` map
      ...(process.env.VITEST == null ? [{ find: /^\.\/polyfills\.ts$/, replacement: here('./src/polyfills.browser.ts') }] : [])
    ],
    // one copy of each: @chainsafe/libp2p-noise and -yamux still depend on the previous majors of these, whose
    // APIs are the same at runtime (only their TypeScript generics changed); two copies cost ~25 KB minified
    dedupe: ['uint8arraylist', 'uint8arrays', 'multiformats', 'protons-runtime', 'uint8-varint']
  },
  plugins: [slimBrowserBuild()],
  test: {
    root: here('.'),
    include: ['src/**/*.test.ts', 'relay-server/**/*.test.ts', 'bench/**/*.test.ts'],
    testTimeout: 30_000
  },
  build: {
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
})
