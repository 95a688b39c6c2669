// Summaries of benchmark samples, and the table `npm run bench` prints.

export interface Summary {
  n: number
  median: number
  /** the 95th percentile on the bad side: the 95th for lower-is-better figures, the 5th for higher-is-better */
  p95: number
  min: number
  max: number
}

/** The q-quantile (0..1) by linear interpolation between closest ranks */
export function quantile (sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN
  const at = (sorted.length - 1) * q
  const lo = Math.floor(at)
  const hi = Math.ceil(at)
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (at - lo)
}

export function summarize (samples: number[], better: 'lower' | 'higher' = 'lower'): Summary {
  const sorted = [...samples].sort((a, b) => a - b)
  return {
    n: sorted.length,
    median: quantile(sorted, 0.5),
    p95: quantile(sorted, better === 'lower' ? 0.95 : 0.05),
    min: sorted[0] ?? NaN,
    max: sorted[sorted.length - 1] ?? NaN
  }
}

/** One measured subject of a figure: Peerlane, or one of its baselines */
export interface Row {
  name: string
  /** the first row of a figure is the subject; the others are its baselines, or related figures of Peerlane's (no ratio) */
  role: 'subject' | 'baseline' | 'related'
  samples: number[]
  /** runs that failed (timed out, or did not reach the expected state); not in `samples` */
  failures: number
  summary?: Summary
  note?: string
}

export interface Target {
  /** what is compared: the subject's median, or its median over a baseline's */
  kind: 'median' | 'ratio'
  /** for 'ratio': the baseline row's name */
  baseline?: string
  /** the row the target is about, when it is not the figure's first (subject) row */
  row?: string
  /** the subject must be at most this (lower-is-better figures) or at least this (higher-is-better) */
  value: number
  text: string
}

export interface Figure {
  id: string
  title: string
  unit: string
  better: 'lower' | 'higher'
  rows: Row[]
  targets?: Target[]
  /** a breakdown of one subject into phases (rows): no subject, no ratios */
  breakdown?: boolean
  /** why the figure has no rows (e.g. a script that is not there) */
  unavailable?: string
  notes?: string[]
}

export function targetMet (figure: Figure, target: Target): boolean | undefined {
  const subject = (target.row == null ? figure.rows[0] : figure.rows.find(r => r.name === target.row))?.summary
  if (subject == null || subject.n === 0) return undefined
  let value = subject.median
  if (target.kind === 'ratio') {
    const base = figure.rows.find(r => r.name === target.baseline)?.summary
    if (base == null || base.n === 0) return undefined
    value = subject.median / base.median
  }
  return figure.better === 'lower' ? value <= target.value : value >= target.value
}

const fmt = (n: number | undefined): string => n == null || Number.isNaN(n) ? '-' : n >= 1000 ? n.toFixed(0) : n >= 100 ? n.toFixed(1) : n.toFixed(2)

/** The table: per figure, one line per row with n, median, p95 and its ratio to the subject */
export function formatTable (figures: Figure[]): string {
  const out: string[] = []
  const nameWidth = Math.max(40, ...figures.flatMap(f => f.rows.map(r => r.name.length + 2)))
  for (const figure of figures) {
    out.push('')
    if (figure.unavailable != null) {
      out.push(figure.title)
      out.push(`  not available: ${figure.unavailable}`)
      for (const note of figure.notes ?? []) out.push(`  ${note}`)
      continue
    }
    out.push(`${figure.title} [${figure.unit}, ${figure.better} is better${figure.better === 'higher' ? '; p95 = the slowest 5 %' : ''}]`)
    out.push(`  ${''.padEnd(nameWidth)}${'n'.padStart(5)}${'median'.padStart(11)}${'p95'.padStart(11)}   vs subject (median)`)
    const subject = figure.rows[0]?.summary
    for (const row of figure.rows) {
      const s = row.summary
      const ratio = figure.breakdown !== true && row.role === 'baseline' && subject != null && s != null && s.n > 0 && subject.n > 0
        ? `Peerlane is ${(subject.median / s.median).toFixed(2)}× this`
        : ''
      const failed = row.failures > 0 ? `  (${row.failures} failed)` : ''
      out.push(`  ${row.name.padEnd(nameWidth)}${String(s?.n ?? 0).padStart(5)}${fmt(s?.median).padStart(11)}${fmt(s?.p95).padStart(11)}   ${ratio}${failed}${row.note != null ? `  ${row.note}` : ''}`)
    }
    for (const target of figure.targets ?? []) {
      const met = targetMet(figure, target)
      out.push(`  target ${target.text}: ${met == null ? 'not measured' : met ? 'met' : 'NOT met'}`)
    }
    for (const note of figure.notes ?? []) out.push(`  note: ${note}`)
  }
  return out.join('\n')
}
