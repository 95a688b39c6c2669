// Sizes of a built bundle (raw, gzip, brotli) and which packages its bytes come from, read from its source map.
// Used by the bundle-budget test and by `npm run bench`.
import { existsSync, readFileSync } from 'node:fs'
import { brotliCompressSync, constants, gzipSync } from 'node:zlib'

export interface BundleSize {
  bytes: number
  /** gzip, level 9 */
  gzip: number
  /** brotli, quality 11 */
  brotli: number
}

export function bundleSize (file: string): BundleSize {
  const code = readFileSync(file)
  return {
    bytes: code.byteLength,
    gzip: gzipSync(code, { level: 9 }).byteLength,
    brotli: brotliCompressSync(code, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }).byteLength
  }
}

export interface Contributor {
  /** an npm package name, or a path for the project's own files */
  name: string
  /** minified bytes of the bundle that map to it */
  bytes: number
}

const B64 = new Map([...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'].map((c, i) => [c, i]))

/** Decodes one source-map segment (base64 VLQ) into its fields */
function decodeSegment (segment: string): number[] {
  const fields: number[] = []
  let value = 0
  let shift = 0
  for (const char of segment) {
    const digit = B64.get(char)
    if (digit == null) throw new Error(`bad source map character ${char}`)
    value += (digit & 31) << shift
    if ((digit & 32) !== 0) { shift += 5; continue }
    fields.push((value & 1) === 1 ? -(value >>> 1) : value >>> 1)
    value = 0
    shift = 0
  }
  return fields
}

/** What a source path is counted as: its npm package (the innermost node_modules entry), or the file itself */
export function ownerOf (source: string): string {
  const at = source.lastIndexOf('node_modules/')
  if (at < 0) return source.replace(/^(\.\.\/)+/, '')
  const rest = source.slice(at + 'node_modules/'.length).split('/')
  return rest[0].startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]
}

/**
 * Attributes every byte of `file` to the source its mapping points at (bytes up to the next mapping on the same
 * line), then sums them by package (or, with `bySource`, by source path): minified, not compressed, bytes.
 * Unmapped bytes count as "(unmapped)".
 */
export function contributors (file: string, mapFile = `${file}.map`, bySource = false): Contributor[] {
  return [...codeByOwner(file, mapFile, bySource)].map(([name, code]) => ({ name, bytes: Buffer.byteLength(code) })).sort((a, b) => b.bytes - a.bytes)
}

/**
 * Like contributors, with each package's gzip bytes when its code is compressed alone (`gzip`): what removing it
 * would save, roughly (a package's code also compresses against the rest, so these add up to more than the whole)
 */
export function contributorsGzip (file: string, mapFile = `${file}.map`): Array<Contributor & { gzip: number }> {
  return [...codeByOwner(file, mapFile, false)]
    .map(([name, code]) => ({ name, bytes: Buffer.byteLength(code), gzip: gzipSync(code, { level: 9 }).byteLength }))
    .sort((a, b) => b.gzip - a.gzip)
}

/** The bundle's code, by the package (or source) each mapped byte comes from */
function codeByOwner (file: string, mapFile: string, bySource: boolean): Map<string, string> {
  if (!existsSync(mapFile)) return new Map()
  const lines = readFileSync(file, 'utf8').split('\n')
  const map = JSON.parse(readFileSync(mapFile, 'utf8')) as { sources: string[], mappings: string }
  const totals = new Map<string, string>()
  const add = (name: string, code: string): void => { if (code !== '') totals.set(name, (totals.get(name) ?? '') + code) }
  let source = 0
  map.mappings.split(';').forEach((line, lineNo) => {
    const text = lines[lineNo] ?? ''
    let column = 0
    let start = 0
    let owner = '(unmapped)'
    for (const segment of line.split(',')) {
      if (segment === '') continue
      const fields = decodeSegment(segment)
      column += fields[0]
      add(owner, text.slice(start, column))
      start = column
      if (fields.length >= 4) {
        source += fields[1]
        const path = map.sources[source] ?? '(unmapped)'
        owner = bySource ? path : ownerOf(path)
      } else {
        owner = '(unmapped)'
      }
    }
    add(owner, text.slice(start))
  })
  return totals
}

/** The top `n` contributors as an aligned text table */
export function formatContributors (list: Contributor[], n = 20): string {
  const total = list.reduce((sum, c) => sum + c.bytes, 0)
  return list.slice(0, n).map(c => `${String(c.bytes).padStart(9)}  ${(100 * c.bytes / total).toFixed(1).padStart(5)}%  ${c.name}`).join('\n')
}
