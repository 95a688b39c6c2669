// Chromium's renderer processes and their resident memory, read from /proc (Linux): for the content test's and
// the content benchmark's memory bounds.
import { readdirSync, readFileSync } from 'node:fs'

/** The renderer processes of the Chromium whose profile is `dir` (they carry it on their command line) */
export function rendererPids (dir: string): number[] {
  return readdirSync('/proc').filter(f => /^\d+$/.test(f)).filter(pid => {
    try {
      // split on spaces too: Chromium's zygote children rewrite their command line as one string
      const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split(/[\0 ]/)
      return args.includes('--type=renderer') && args.includes(`--user-data-dir=${dir}`) && !args.includes('--top-chrome-webui')
    } catch {
      return false
    }
  }).map(Number)
}

/** Resident memory of a process from /proc, in bytes (0 once it is gone) */
export function rss (pid: number): number {
  try {
    const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find(l => l.startsWith('VmRSS:')) ?? 'VmRSS: 0 kB'
    return Number(line.split(/\s+/)[1]) * 1024
  } catch {
    return 0
  }
}
