// Loads the content engine from beside the published browser bundle: dist/peerlane-content.mjs, a
// self-contained ES module (`vite build --mode content`). `import.meta.url` is read once, when the bundle
// runs: in the script-tag build Rollup turns it into the <script>'s own URL (document.currentScript, which
// is only set while the script first runs). A bundler that takes in dist/peerlane.browser.mjs sees
// `new URL('./peerlane-content.mjs', import.meta.url)` and copies the file into its output.
const url = new URL('./peerlane-content.mjs', import.meta.url)

export async function loadEngine (): Promise<typeof import('./engine.ts')> {
  return await import(/* @vite-ignore */ url.href)
}
