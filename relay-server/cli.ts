#!/usr/bin/env node
// peerlane-relay: flags and PEERLANE_RELAY_* env vars → createRelay(); see USAGE or README › Relay server
import { createRelay, parseRelayArgs, USAGE } from './relay.ts'

async function main (): Promise<void> {
  let config
  try {
    config = parseRelayArgs(process.argv.slice(2), process.env)
  } catch (err: any) {
    process.stderr.write(`peerlane-relay: ${err.message}\n\n${USAGE}`)
    process.exit(2)
  }
  if (config.help === true) {
    process.stdout.write(USAGE)
    return
  }

  const relay = createRelay(config)
  try {
    await relay.ready
  } catch (err: any) {
    process.stderr.write(`peerlane-relay: cannot start: ${err.message}\n`)
    await relay.close().catch(() => {})
    process.exit(1)
  }

  process.stdout.write(`peerlane-relay ${relay.peerId} listening on:\n${relay.addresses.map(a => `  ${a}\n`).join('')}`)
  if (relay.httpPort != null) process.stdout.write(`  http://${config.host}:${relay.httpPort}/health and /metrics\n`)

  let stopping = false
  const stop = (signal: string): void => {
    if (stopping) return
    stopping = true
    process.stdout.write(`peerlane-relay: ${signal}, closing connections\n`)
    // a hung peer must not keep the process alive: exit within 5 s whatever happens
    setTimeout(() => { process.exit(1) }, 5_000).unref()
    relay.close().then(() => { process.exit(0) }, () => { process.exit(1) })
  }
  process.on('SIGTERM', () => { stop('SIGTERM') })
  process.on('SIGINT', () => { stop('SIGINT') })
}

void main()
