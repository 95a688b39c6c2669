// How a dependency patch is applied: at build time, by replacing the text of one file inside node_modules.
// Each replacement names the file it replaces and checks that what it replaces is still there, so a
// dependency update that moves or changes the code fails the build (see `replaceModules`) instead of
// silently shipping stock code. One patch per file in build/patches/, each naming its upstream issue and
// when it can be deleted.
import { readFileSync } from 'node:fs'
import type { Plugin } from 'vite'

/** Which bundles a patch goes into */
export type Target = 'browser' | 'node' | 'relay'

export interface Replacement {
  /** the end of the replaced file's path (inside node_modules) */
  file: string
  /** the code that replaces it, given the original */
  code: (original: string) => string
}

export interface Patch {
  /** a short name, used in build errors */
  name: string
  /** the bundles it applies to */
  targets: Target[]
  replacements: Replacement[]
}

/** Thrown while building when a patched file no longer holds what the patch replaces */
export class StalePatchError extends Error {
  static name = 'StalePatchError'
  constructor (patch: string, message: string) {
    super(`patch ${patch}: ${message}; update or delete build/patches/${patch}.ts`)
    this.name = 'StalePatchError'
  }
}

/** `from` → `to` in `file`, which must contain `from` (`what` names it) */
export function replaceText (patch: string, file: string, what: string, from: string, to: string): Replacement {
  return {
    file,
    code: (original) => {
      if (!original.includes(from)) throw new StalePatchError(patch, `${what} is not in ${file}`)
      return original.replace(from, to)
    }
  }
}

/** Applies `patches` (those for `target`) to the modules they name; fails the build for any that did not apply */
export function replaceModules (target: Target, patches: Patch[]): Plugin {
  const mine = patches.filter(p => p.targets.includes(target))
  const all = mine.flatMap(p => p.replacements.map(r => ({ patch: p.name, ...r })))
  const applied = new Set<string>()
  return {
    name: `peerlane-patches-${target}`,
    apply: 'build',
    enforce: 'pre',
    load (id) {
      const path = id.split('?')[0]
      // several patches may replace parts of one file: each in turn, in PATCHES order
      const replacements = all.filter(r => path.endsWith(r.file))
      if (replacements.length === 0) return null
      for (const r of replacements) applied.add(r.file)
      return { code: replacements.reduce((code, r) => r.code(code), readFileSync(path, 'utf8')), map: null }
    },
    buildEnd (error) {
      if (error != null) return
      const missing = all.filter(r => !applied.has(r.file)).map(r => `${r.patch} (${r.file})`)
      if (missing.length > 0) this.error(`these patched files were not in the ${target} build any more; update build/patches/: ${missing.join(', ')}`)
    }
  }
}
