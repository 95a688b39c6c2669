// Entry of dist/peerlane.min.js: a plain <script> tag gets the same exports as window.Peerlane
import * as Peerlane from './index.ts'

declare global {
  interface Window { Peerlane: typeof Peerlane }
}

window.Peerlane = Peerlane
export * from './index.ts'
