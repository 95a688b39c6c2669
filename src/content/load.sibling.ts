// Loads the content engine from beside dist/peerlane.browser.mjs: dist/peerlane-content.mjs, a self-contained
// ES module (`vite build --mode content`). A bundler that takes in the ES build sees
// `new URL('./peerlane-content.mjs', import.meta.url)` and copies the file into its output.
const url = new URL('./peerlane-content.mjs', import.meta.url)

export async function loadEngine (): Promise<typeof import('./engine.ts')> {
  return await import(/* @vite-ignore */ url.href)
}
