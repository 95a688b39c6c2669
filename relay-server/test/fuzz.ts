#!/usr/bin/env node
// `npm run fuzz:relay -- --inputs 100000 --seed 7`: the seeded fuzzer of hostile.test.ts, as long as you like,
// against an in-process relay on 127.0.0.1. Prints how many inputs ran and whether the relay stayed healthy.
import { parseArgs } from 'node:util'
import { fuzzRelay, honestClientWorks } from './hostile.ts'
import { createRelay } from '../index.ts'

const { values } = parseArgs({ options: { inputs: { type: 'string', default: '10000' }, seed: { type: 'string', default: '42' } } })
const inputs = Number(values.inputs)
const seed = Number(values.seed)

const { generateKeyPair } = await import('@libp2p/crypto/keys')
const relay = createRelay({ port: 0, stunPort: 0, privateKey: await generateKeyPair('Ed25519') })
await relay.ready
const url = relay.addresses[0].replace(/^\/ip4\/([\d.]+)\/tcp\/(\d+)\/ws\/.*$/, 'ws://$1:$2')
const started = Date.now()
let sent = 0
for (let batch = 0; sent < inputs; batch++) {
  const n = Math.min(1_000, inputs - sent)
  sent += await fuzzRelay(url, seed + batch, n)
  process.stdout.write(`\r${sent} / ${inputs} inputs, rss ${(process.memoryUsage().rss / 1e6).toFixed(0)} MB`)
}
const ok = await honestClientWorks(relay.addresses[0])
console.log(`\nfuzz: ${sent} inputs (seed ${seed}) in ${((Date.now() - started) / 1000).toFixed(1)} s; relay ${ok ? 'still serves honest clients' : 'NO LONGER serves honest clients'}`)
await relay.close()
process.exit(ok ? 0 : 1)
