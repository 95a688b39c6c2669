#!/usr/bin/env node
// peerlane-relay: flags, PEERLANE_RELAY_* env vars and an optional JSON file → createRelay(); see USAGE or
// README.md. Logs are JSON lines on stdout; a bad config is a plain message on stderr (exit 2).
import { createLogger, createRelay, parseRelayArgs, USAGE } from './index.ts'

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

  const log = createLogger(config.logLevel)
  let relay: ReturnType<typeof createRelay> | undefined
  let stopping = false
  const stop = (signal: string): void => {
    if (stopping) return
    stopping = true
    log.info('shutdown', { signal, timeout: config.shutdownTimeout })
    // a hung peer must not keep the process alive: exit within the bound whatever happens
    setTimeout(() => {
      log.error('shutdown:timeout', { timeout: config.shutdownTimeout })
      process.exit(1)
    }, config.shutdownTimeout).unref()
    ;(relay?.close() ?? Promise.resolve()).then(() => { process.exit(0) }, (err: Error) => {
      log.error('shutdown:failed', { error: err.message })
      process.exit(1)
    })
  }
  // registered before the relay starts, so that a signal while it starts is a clean stop as well
  process.on('SIGTERM', () => { stop('SIGTERM') })
  process.on('SIGINT', () => { stop('SIGINT') })

  try {
    relay = createRelay(config, { log })
    await relay.ready
  } catch (err: any) {
    if (stopping) return // stop() exits once the relay is closed
    log.error('start:failed', { error: err.message, field: err.field })
    process.stderr.write(`peerlane-relay: cannot start: ${err.message}\n`)
    await relay?.close().catch(() => {})
    process.exit(err.name === 'RelayConfigError' ? 2 : 1)
  }
}

void main()
