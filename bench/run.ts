// `npm run bench`: Peerlane's figures next to baselines measured in the same run, on this machine, in real
// browsers against a real relay process. Prints a table and writes bench/results.json. See bench/README.md.
//
//   npm run bench                       everything, 10 runs per figure
//   npm run bench -- --runs 20          more runs
//   npm run bench -- --only ready,bundle
//
// Figures: bundle, ready, connect, distance, heal, latency, load, throughput, content, relay, one file each in bench/figures/; what they run
// against (relay, servers, browsers) is bench/env.ts, what they share bench/shared.ts. Nothing here asserts a
// time: the targets are printed as met or not met, and the exit status is 0 whenever the benchmark itself ran.
import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { cpus, tmpdir, totalmem } from 'node:os'
import { join } from 'node:path'
import { ROOT } from '../test-e2e/support.ts'
import { startEnv } from './env.ts'
import { bundle, PEERLANE_BUNDLE } from './figures/bundle.ts'
import { connect } from './figures/connect.ts'
import { distance } from './figures/distance.ts'
import { heal } from './figures/heal.ts'
import { latency } from './figures/latency.ts'
import { load } from './figures/load.ts'
import { ready } from './figures/ready.ts'
import { relay } from './figures/relay.ts'
import { throughput } from './figures/throughput.ts'
import { content } from './figures/content.ts'
import { FIGURES, log } from './shared.ts'
import { formatTable, summarize, targetMet } from './stats.ts'
import type { Context, Env, FigureId, Options } from './shared.ts'
import type { Figure } from './stats.ts'

/** Each figure, run in this order (FIGURES') when chosen */
const RUN: Record<FigureId, (ctx: Context) => Promise<Figure[]>> = { bundle, ready, connect, distance, heal, latency, load, throughput, content, relay }

function parseArgs (argv: string[]): Options {
  const options: Options = { runs: 10, only: new Set(FIGURES), messages: 30, bytes: 8 * 1024 * 1024, chunk: 16 * 1024, contentBytes: 64 * 1024 * 1024 }
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].split('=', 2)
    const value = (): string => inline ?? argv[++i]
    if (flag === '--runs') options.runs = Number(value())
    else if (flag === '--messages') options.messages = Number(value())
    else if (flag === '--bytes') options.bytes = Number(value())
    else if (flag === '--chunk') options.chunk = Number(value())
    else if (flag === '--content-bytes') options.contentBytes = Number(value())
    else if (flag === '--only') {
      const wanted = value().split(',').map(s => s.trim())
      const unknown = wanted.filter(w => !(FIGURES as readonly string[]).includes(w))
      if (unknown.length > 0) throw new Error(`--only: unknown figure ${unknown.join(', ')} (known: ${FIGURES.join(', ')})`)
      options.only = new Set(wanted as FigureId[])
    } else throw new Error(`unknown argument ${argv[i]} (known: --runs N, --only ${FIGURES.join(',')}, --messages N, --bytes N, --chunk N, --content-bytes N)`)
  }
  if (!(options.runs >= 2)) throw new Error('--runs must be at least 2')
  return options
}

async function main (): Promise<void> {
  const options = parseArgs(process.argv.slice(2))
  if (!existsSync(PEERLANE_BUNDLE)) throw new Error('dist/peerlane.min.js is missing: run `npm run build` (npm run bench does)')
  log('building the stock js-libp2p comparison bundle (bench/dist/stock-libp2p.min.js)')
  execFileSync('npx', ['vite', 'build', '-c', join(ROOT, 'bench/vite.stock.config.ts')], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] })

  const dir = mkdtempSync(join(tmpdir(), 'peerlane-bench-'))
  const figures: Figure[] = []
  const cleanups: Array<() => Promise<unknown>> = []
  let env: Promise<Env> | undefined
  const ctx: Context = { options, dir, env: async () => await (env ??= startEnv(options, dir, cleanups)) }
  try {
    for (const id of FIGURES) if (options.only.has(id)) figures.push(...await RUN[id](ctx))
  } finally {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(err => { log(`cleanup: ${err.message}`) })
    rmSync(dir, { recursive: true, force: true })
  }

  for (const figure of figures) for (const r of figure.rows) r.summary ??= summarize(r.samples, figure.better)
  console.log(formatTable(figures))
  const versions = env == null ? {} : (await env).versions
  const results = {
    date: new Date().toISOString(),
    machine: { cpus: cpus().length, cpu: cpus()[0]?.model, memoryGiB: Math.round(totalmem() / 2 ** 30), node: process.version, ...versions },
    options: { ...options, only: [...options.only] },
    figures: figures.map(f => ({ ...f, targets: f.targets?.map(t => ({ ...t, met: targetMet(f, t) })) }))
  }
  mkdirSync(join(ROOT, 'bench'), { recursive: true })
  writeFileSync(join(ROOT, 'bench/results.json'), JSON.stringify(results, null, 2) + '\n')
  log('wrote bench/results.json')
}

main().catch(err => {
  console.error(err)
  process.exitCode = 1
})
