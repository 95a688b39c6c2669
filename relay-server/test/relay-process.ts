// The relay as an operator runs it, for the tests that need a real process: the `peerlane-relay` command
// (the committed launcher of the built bundle, so `npm run build` first).
import { spawn } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import type { ChildProcess } from 'node:child_process'

/** bin/peerlane-relay.js, what `npx peerlane-relay` runs */
export const CLI = fileURLToPath(new URL('../bin/peerlane-relay.js', import.meta.url))

/** A relay process: its stdout and stderr together, and its exit code once it exits */
export interface RelayProcess { child: ChildProcess, output: () => string, exit: Promise<number | null> }

/**
 * Runs `peerlane-relay args…` with `env` added to this process's; without its own STUN server (test files
 * run in parallel, and would all want UDP 3478) unless `args` or `env` ask for one
 */
export function runRelay (args: string[], env: Record<string, string> = {}): RelayProcess {
  const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, PEERLANE_RELAY_STUN_PORT: '0', ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout.on('data', (d: Buffer) => { output += d.toString() })
  child.stderr.on('data', (d: Buffer) => { output += d.toString() })
  const exit = new Promise<number | null>(resolve => child.once('exit', code => { resolve(code) }))
  return { child, output: () => output, exit }
}

/** Polls `fn` until it returns a value; throws naming `what` after `ms` */
export async function until<T> (fn: () => T | undefined | Promise<T | undefined>, what: string, ms = 15_000): Promise<T> {
  const deadline = Date.now() + ms
  while (Date.now() < deadline) {
    const value = await fn()
    if (value != null) return value
    await new Promise(resolve => setTimeout(resolve, 50))
  }
  throw new Error(`timed out waiting for ${what}`)
}

/**
 * Waits until a relay started with `--addr-file addrFile` and `--http-port` listens: its multiaddrs (from
 * the file) and the base URL of its HTTP server (from the `listening` log line)
 */
export async function listening (relay: RelayProcess, addrFile: string): Promise<{ addrs: string[], http: string }> {
  const addrs = await until(async () => readFile(addrFile, 'utf8').then(JSON.parse, () => undefined) as Promise<string[] | undefined>, `addr file\n${relay.output()}`)
  const http = await until(() => /(http:\/\/[\d.]+:\d+)\/health/.exec(relay.output())?.[1], 'http url')
  return { addrs, http }
}
