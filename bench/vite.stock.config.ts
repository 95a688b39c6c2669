// Builds bench/dist/stock-libp2p.min.js from bench/stock/entry.ts with the settings of vite.config.ts's
// build (IIFE, es2022, minified, source map) and none of Peerlane's size work: none of its dependency patches
// (build/patches/<name>.ts), no dedupe.
import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vite'

const here = (path: string): string => fileURLToPath(new URL(path, import.meta.url))

export default defineConfig({
  root: here('.'),
  logLevel: 'warn',
  build: {
    outDir: here('./dist'),
    emptyOutDir: true,
    target: 'es2022',
    lib: {
      entry: here('./stock/entry.ts'),
      name: 'StockLibp2p',
      formats: ['iife'],
      fileName: () => 'stock-libp2p.min.js'
    },
    minify: true,
    sourcemap: true,
    reportCompressedSize: false
  }
})
