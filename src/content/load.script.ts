// Loads the content engine from beside the script-tag build (dist/peerlane.min.js): peerlane-content.mjs in
// the same folder as the <script src>. document.currentScript is only set while the script first runs, so the
// address is taken then; a page that inlines the script loads it from the page's own folder.
const script = typeof document === 'undefined' ? undefined : (document.currentScript as HTMLScriptElement | null)?.src
const url = new URL('./peerlane-content.mjs', script != null && script !== '' ? script : globalThis.location?.href)

export async function loadEngine (): Promise<typeof import('./engine.ts')> {
  return await import(/* @vite-ignore */ url.href)
}
