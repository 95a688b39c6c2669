// relay: relay capacity, from the relay's own benchmark (bench/relay-capacity.mjs, `npm run bench:relay`).
// No browser.
import { execFileSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { ROOT } from '../../test-e2e/support.ts'
import { log } from '../shared.ts'
import { summarize } from '../stats.ts'
import type { Context } from '../shared.ts'
import type { Figure, Row } from '../stats.ts'

/**
 * Relay capacity comes from the relay's own benchmark, `npm run bench:relay`, when that script exists. It is
 * given PEERLANE_BENCH_JSON=<file>; if it writes figures there (bench/stats.ts's Figure shape, or a list of
 * them), they join the table; otherwise its last lines of output are shown.
 */
export async function relay ({ dir }: Context): Promise<Figure[]> {
  const scripts = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).scripts ?? {}
  const base: Figure = { id: 'relay.capacity', title: 'relay capacity (npm run bench:relay)', unit: '-', better: 'higher', rows: [] }
  if (scripts['bench:relay'] == null) return [{ ...base, unavailable: 'no bench:relay script in package.json' }]
  const file = join(dir, 'relay-capacity.json')
  let output = ''
  try {
    log('running npm run bench:relay')
    output = execFileSync('npm', ['run', '--silent', 'bench:relay'], { cwd: ROOT, env: { ...process.env, PEERLANE_BENCH_JSON: file }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], timeout: 30 * 60_000 })
  } catch (err: any) {
    return [{ ...base, unavailable: `npm run bench:relay failed: ${String(err.message).split('\n')[0]}` }]
  }
  if (existsSync(file)) {
    // its own detailed table (CPU, /health latencies, behaviour at the limit, shutdown) goes to the log
    process.stderr.write(output.trim().split('\n').filter(l => !l.startsWith('>')).join('\n') + '\n')
    const data = JSON.parse(readFileSync(file, 'utf8'))
    const list: Figure[] = Array.isArray(data) ? data : Array.isArray(data.figures) ? data.figures : [data]
    return list.map(f => ({ ...f, rows: (f.rows ?? []).map((r: Partial<Row>, i) => ({ name: String(r.name), role: r.role ?? (i === 0 ? 'subject' : 'baseline'), samples: r.samples ?? [], failures: r.failures ?? 0, summary: r.summary ?? summarize(r.samples ?? [], f.better), note: r.note })) }))
  }
  const tail = output.trim().split('\n').slice(-15)
  return [{ ...base, unavailable: 'its output (not machine-readable):', notes: tail }]
}
