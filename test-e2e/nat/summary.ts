// A row of the NAT runner's table (nat-run.js prints them): how the tries of one scenario and browser pair went.
import { pairLabel, spuriousDirect } from './result.ts'
import type { TryResult } from './result.ts'
import type { Pair, Scenario } from './scenarios.ts'

/** One line of the runner's table */
export interface Row {
  scenario: string
  pair: string
  tries: number
  /** tries that took the expected path */
  expected: number
  /** the expected path */
  path: string
  /** the most common winning pair, A's view ‖ B's view, and how often */
  winning: string
  /** median ms: connect() → resolved (usable); connect() → connection:direct, of the tries that linked directly */
  connectMedian?: number
  directMedian?: number
  /** tries with a spurious connection:direct (see spuriousDirect) on a / on b */
  spurious: [number, number]
  /** each try's problems (none: it took the expected path) */
  problems: string[][]
}

function median (values: number[]): number | undefined {
  if (values.length === 0) return undefined
  const s = [...values].sort((x, y) => x - y)
  const mid = Math.floor(s.length / 2)
  return s.length % 2 === 1 ? s[mid] : Math.round((s[mid - 1] + s[mid]) / 2)
}

/** The table row of `results` (one per try) */
export function summarize (scenario: Scenario, pair: Pair, results: TryResult[]): Row {
  const problems = results.map(r => scenario.problems(r))
  const labels = new Map<string, number>()
  for (const r of results) {
    const label = r.error != null ? 'error' : `${pairLabel(r.a?.stats)} ‖ ${pairLabel(r.b?.stats)}`
    labels.set(label, (labels.get(label) ?? 0) + 1)
  }
  const [label, count] = [...labels].sort((x, y) => y[1] - x[1])[0] ?? ['none', 0]
  return {
    scenario: `${scenario.id}. ${scenario.title}`,
    pair: pair.name,
    tries: results.length,
    expected: problems.filter(p => p.length === 0).length,
    path: scenario.expected,
    winning: `${label} (${count}/${results.length})`,
    connectMedian: median(results.flatMap(r => r.connectMs ?? [])),
    directMedian: median(results.flatMap(r => r.directMs ?? [])),
    spurious: [results.filter(r => spuriousDirect(r.a) > 0).length, results.filter(r => spuriousDirect(r.b) > 0).length],
    problems
  }
}
