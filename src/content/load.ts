// Loads the content engine. Node, the demo and bundlers building from source get it as a chunk of their
// own build; the published browser bundles load dist/peerlane-content.mjs from beside themselves (load.sibling.ts).
export async function loadEngine (): Promise<typeof import('./engine.ts')> {
  return await import('./engine.ts')
}
