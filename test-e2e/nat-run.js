#!/usr/bin/env node
// `npm run test:nat -- --tries N [more playwright test arguments, e.g. -g 'Firefox']`: runs nat.spec.ts with N tries
// of every scenario and browser pair (PEERLANE_NAT_TRIES), then prints the table of the rows the spec wrote
// (PEERLANE_NAT_RESULTS, one JSON row per scenario and pair: nat/summary.ts summarize()).
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { cpus, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'

const args = process.argv.slice(2)
let tries = 5
const rest = []
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--tries') tries = Number(args[++i])
  else if (args[i].startsWith('--tries=')) tries = Number(args[i].slice('--tries='.length))
  else rest.push(args[i])
}
if (!Number.isInteger(tries) || tries < 1) {
  console.error('usage: npm run test:nat -- --tries <n ≥ 1> [playwright test arguments]')
  process.exit(2)
}

const dir = mkdtempSync(join(tmpdir(), 'peerlane-nat-run-'))
const results = join(dir, 'rows.jsonl')
const started = new Date()
const run = spawnSync('npx', ['playwright', 'test', '-c', 'test-e2e', 'nat.spec.ts', ...rest], {
  stdio: 'inherit',
  env: { ...process.env, PEERLANE_NAT_TRIES: String(tries), PEERLANE_NAT_RESULTS: results }
})
let rows = []
try {
  rows = readFileSync(results, 'utf8').split('\n').filter(Boolean).map(line => JSON.parse(line))
} catch {}
rmSync(dir, { recursive: true, force: true })

const ms = value => value == null ? '–' : String(value)
const table = [
  ['scenario', 'pair', 'tries', 'expected path', 'took it', 'winning pair, a ‖ b (most common)', 'connect() median ms', 'connect → direct median ms', 'spurious connection:direct a / b'],
  ...rows.map(r => [r.scenario, r.pair, r.tries, r.path, `${r.expected}/${r.tries}`, r.winning, ms(r.connectMedian), ms(r.directMedian), `${r.spurious[0]} / ${r.spurious[1]}`])
]
const cpu = cpus()
console.log(`\nNAT lab, ${tries} tries per scenario and pair: ${started.toISOString().slice(0, 16).replace('T', ' ')} UTC, ` +
  `${Math.round((Date.now() - started.getTime()) / 60_000)} min; ${cpu.length} cores (${cpu[0]?.model.trim()}), load ${loadavg().map(l => l.toFixed(1)).join(' ')}\n`)
console.log(table.map((cells, i) => `| ${cells.join(' | ')} |${i === 0 ? `\n|${cells.map(() => '---').join('|')}|` : ''}`).join('\n'))
for (const r of rows) {
  const off = r.problems.map((p, i) => p.length > 0 ? `  try ${i + 1}: ${p.join('; ')}` : '').filter(Boolean)
  if (off.length > 0) console.log(`\n${r.scenario} · ${r.pair}, off the expected path:\n${off.join('\n')}`)
}
process.exit(run.status ?? 1)
