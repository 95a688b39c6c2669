#!/usr/bin/env node
// `npm run fuzz:relay -- --inputs 100000 --seed 7`: the seeded fuzzer of hostile.test.ts, as long as you like,
// against a relay on 127.0.0.1 in a child process (this same bundle, `--serve`), whose memory is read from
// /proc/<pid>/status. Prints how many inputs ran, how long it took, the relay's RSS before, after and at
// its peak, and whether the relay still serves honest clients (exit status 1 if not).
import { spawn } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { fuzzRelay, honestClientWorks } from './hostile.ts'
import { createRelay } from '../index.ts'

const { values } = parseArgs({ options: { inputs: { type: 'string', default: '10000' }, seed: { type: 'string', default: '42' }, serve: { type: 'boolean', default: false } } })

if (values.serve) {
  // the relay: prints its address, stops on SIGTERM
  const { generateKeyPair } = await import('@libp2p/crypto/keys')
  const relay = createRelay({ port: 0, stunPort: 0, logLevel: 'warn', privateKey: await generateKeyPair('Ed25519') })
  await relay.ready
  process.stdout.write(`${relay.addresses[0]}\n`)
  process.once('SIGTERM', () => { relay.close().then(() => process.exit(0), () => process.exit(1)) })
} else {
  const inputs = Number(values.inputs)
  const seed = Number(values.seed)
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), '--serve'], { stdio: ['ignore', 'pipe', 'inherit'] })
  const address = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout }).once('line', resolve)
    child.once('exit', code => { reject(new Error(`the relay exited (${code}) before listening`)) })
  })
  /** The relay's resident memory now and at its peak (VmHWM), in MB */
  const memory = async (): Promise<{ rss: number, peak: number }> => {
    const status = await readFile(`/proc/${child.pid}/status`, 'utf8')
    const kb = (field: string): number => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1]) / 1024
    return { rss: kb('VmRSS'), peak: kb('VmHWM') }
  }
  const url = address.replace(/^\/ip4\/([\d.]+)\/tcp\/(\d+)\/ws\/.*$/, 'ws://$1:$2')
  // one honest client first, so the baseline includes libp2p's lazily built state
  await honestClientWorks(address)
  const before = await memory()
  const started = Date.now()
  let sent = 0
  for (let batch = 0; sent < inputs; batch++) {
    const n = Math.min(1_000, inputs - sent)
    sent += await fuzzRelay(url, seed + batch, n)
    process.stdout.write(`\r${sent} / ${inputs} inputs, relay rss ${(await memory()).rss.toFixed(0)} MB`)
  }
  const seconds = (Date.now() - started) / 1000
  const ok = await honestClientWorks(address)
  const after = await memory()
  console.log(`\nfuzz: ${sent} inputs (seed ${seed}) in ${seconds.toFixed(1)} s; relay RSS ${before.rss.toFixed(1)} MB before, ${after.rss.toFixed(1)} MB after, ${after.peak.toFixed(1)} MB peak; relay ${ok ? 'still serves honest clients' : 'NO LONGER serves honest clients'}`)
  child.kill('SIGTERM')
  await new Promise(resolve => child.once('exit', resolve))
  process.exit(ok ? 0 : 1)
}
