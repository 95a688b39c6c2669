import { InvalidConfigError } from './errors.ts'

const VERSION = /^\d+(\.\d+){0,2}$/

/**
 * The protocol ids to register or offer for `base` in `versions`, highest version first, so that
 * multistream-select settles on the highest version both sides speak. No versions: `base` itself.
 */
export function protocolIds (base: string, versions?: string[]): string[] {
  if (typeof base !== 'string' || !base.startsWith('/')) {
    throw new InvalidConfigError('protocol', `${JSON.stringify(base)} must be a string starting with "/", e.g. "/myapp/echo/1.0.0"`)
  }
  if (versions == null) return [base]
  if (!Array.isArray(versions) || versions.length === 0) {
    throw new InvalidConfigError('versions', `${base} must be a non-empty array such as ['2.0.0', '1.1.0']`)
  }
  for (const v of versions) {
    if (typeof v !== 'string' || !VERSION.test(v)) throw new InvalidConfigError('versions', `version ${JSON.stringify(v)} of ${base} must look like "1", "1.2" or "1.2.3"`)
  }
  return [...new Set(versions)].sort(compareVersionsDescending).map(v => `${base.replace(/\/$/, '')}/${v}`)
}

/** The version part of a negotiated protocol id, when `base` was offered with versions */
export function versionOf (base: string, protocol: string): string | undefined {
  const prefix = `${base.replace(/\/$/, '')}/`
  return protocol.startsWith(prefix) ? protocol.slice(prefix.length) : undefined
}

function compareVersionsDescending (a: string, b: string): number {
  const pa = a.split('.').map(Number)
  const pb = b.split('.').map(Number)
  for (let i = 0; i < 3; i++) {
    const d = (pb[i] ?? 0) - (pa[i] ?? 0)
    if (d !== 0) return d
  }
  return 0
}
