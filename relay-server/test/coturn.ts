// The real coturn (Debian's `coturn`, turnserver 4.6) for tests: installing it where possible, starting it
// in the foreground on free ports (writing nothing outside a temp dir), a minimal TURN client, and the
// shipped deploy/turnserver.conf with only ports, paths and the secret replaced (free ports: free-port.ts).
// Used by coturn.test.ts, hostile-coturn.test.ts and test-e2e/support.ts, so no vitest here. Everything
// binds 127.0.0.1; every turnserver started here is stopped by its PID (and killed if the test process dies first).
import { execFileSync, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { createSocket } from 'node:dgram'
import { existsSync } from 'node:fs'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { A, T, errorCode, integrityOk, longTermKey, message, parse, readXorAddress } from './stun-message.ts'
import type { Msg } from './stun-message.ts'
import type { ChildProcess } from 'node:child_process'
import type { Socket } from 'node:dgram'

/** The shipped coturn config */
export const SHIPPED_CONF = fileURLToPath(new URL('../deploy/turnserver.conf', import.meta.url))
const TURNSERVER = '/usr/bin/turnserver'

/** turnserver, installed here (as root, with apt-get) when missing; otherwise why the tests skip */
export function ensureCoturn (): string | undefined {
  if (existsSync(TURNSERVER)) return undefined
  if (process.getuid?.() !== 0 || !existsSync('/usr/bin/apt-get')) return 'turnserver is not installed and this is not root with apt-get (apt-get install coturn)'
  try {
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
    execFileSync('apt-get', ['update', '-qq'], { stdio: 'ignore', env, timeout: 240_000 })
    execFileSync('apt-get', ['install', '-y', '-qq', 'coturn'], { stdio: 'ignore', env, timeout: 240_000 })
  } catch (err: any) {
    return `turnserver is not installed and apt-get install coturn failed (${err.message})`
  }
  return existsSync(TURNSERVER) ? undefined : 'apt-get install coturn did not bring /usr/bin/turnserver'
}

/** A minimal STUN/TURN client over UDP: enough to Allocate, CreatePermission, Send and Refresh */
export class TurnClient {
  readonly socket: Socket = createSocket('udp4')
  private readonly waiting = new Map<string, (m: Msg) => void>()
  readonly indications: Msg[] = []
  realm = ''
  nonce = Buffer.alloc(0)
  key: Buffer | undefined
  username = ''

  constructor (readonly port: number) {
    this.socket.on('message', raw => {
      const m = parse(raw)
      const wake = this.waiting.get(m.txid.toString('hex'))
      if (wake != null) wake(m)
      else this.indications.push(m)
    })
  }

  async open (): Promise<this> {
    await new Promise<void>(resolve => this.socket.bind(0, '127.0.0.1', resolve))
    return this
  }

  /** One transaction, retransmitted every 250 ms (UDP) until answered or 3 s passed */
  async request (type: number, attrs: Array<[number, Buffer]>, authenticated = true): Promise<Msg> {
    const txid = randomBytes(12)
    const auth: Array<[number, Buffer]> = authenticated && this.key != null
      ? [[A.username, Buffer.from(this.username)], [A.realm, Buffer.from(this.realm)], [A.nonce, this.nonce]]
      : []
    const raw = message(type, txid, [...attrs, ...auth], authenticated ? this.key : undefined)
    return await new Promise<Msg>((resolve, reject) => {
      const resend = setInterval(() => { this.socket.send(raw, this.port, '127.0.0.1') }, 250)
      const timer = setTimeout(() => { done(); reject(new Error(`no answer to 0x${type.toString(16)}`)) }, 3_000)
      const done = (): void => { clearInterval(resend); clearTimeout(timer); this.waiting.delete(txid.toString('hex')) }
      this.waiting.set(txid.toString('hex'), m => { done(); resolve(m) })
      this.socket.send(raw, this.port, '127.0.0.1')
    })
  }

  /** An indication (Send): no answer comes */
  indicate (type: number, attrs: Array<[number, Buffer]>): void {
    this.socket.send(message(type, randomBytes(12), attrs), this.port, '127.0.0.1')
  }

  /** Allocate a UDP relay with long-term credentials: the 401 challenge, then the authenticated request */
  async allocate (username: string, password: string): Promise<{ relayed?: { address: string, port: number }, error?: number, integrityOk?: boolean }> {
    const transport: [number, Buffer] = [A.transport, Buffer.from([17, 0, 0, 0])] // UDP
    const challenge = await this.request(T.allocate, [transport], false)
    if (challenge.type !== 0x0113 || errorCode(challenge) !== 401) throw new Error(`expected a 401 challenge, got type 0x${challenge.type.toString(16)} code ${errorCode(challenge)}`)
    this.realm = challenge.attrs.get(A.realm)?.toString() ?? ''
    this.nonce = Buffer.from(challenge.attrs.get(A.nonce) ?? Buffer.alloc(0))
    this.username = username
    this.key = longTermKey(username, this.realm, password)
    const answer = await this.request(T.allocate, [transport])
    if (answer.type !== 0x0103) return { error: errorCode(answer) }
    return { relayed: readXorAddress(answer.attrs.get(A.relayed) as Buffer), integrityOk: integrityOk(answer, this.key) }
  }

  close (): void {
    try { this.socket.close() } catch {}
  }
}

/** A range of relay ports per test server, below Linux's ephemeral range (32768+) so rarely busy */
export function relayPorts (count = 50): { min: number, max: number } {
  const min = 20_000 + Math.floor(Math.random() * 12_000)
  return { min, max: min + count - 1 }
}

/** A running turnserver */
export interface Turnserver {
  proc: ChildProcess
  /** its UDP+TCP listening port on 127.0.0.1 */
  port: number
  /** everything it printed so far */
  output: () => string
  /** SIGTERM, then SIGKILL after 3 s; resolves once it exited */
  stop: () => Promise<void>
}

const running = new Set<ChildProcess>()
// should the test process die first, its turnservers die with it
process.once('exit', () => { for (const proc of running) if (proc.exitCode == null && proc.pid != null) try { process.kill(proc.pid, 'SIGKILL') } catch {} })

/** Starts `turnserver args…`, resolving once it answers a STUN Binding request on udp 127.0.0.1:`port` */
export async function startTurnserver (args: string[], port: number): Promise<Turnserver> {
  let output = ''
  const proc = spawn(TURNSERVER, args, { stdio: ['ignore', 'pipe', 'pipe'] })
  running.add(proc)
  proc.once('exit', () => { running.delete(proc) })
  proc.stdout?.on('data', d => { output += String(d) })
  proc.stderr?.on('data', d => { output += String(d) })
  const server: Turnserver = { proc, port, output: () => output, stop: async () => { await stopProcess(proc) } }
  const exited = new Promise<never>((_resolve, reject) => {
    proc.once('exit', code => { reject(new Error(`turnserver exited (${code}) before listening:\n${output}`)) })
  })
  exited.catch(() => {}) // once listening, a later exit is the test's business
  const probe = await new TurnClient(port).open()
  try {
    await Promise.race([exited, (async () => {
      for (let i = 0; ; i++) {
        try {
          const m = await probe.request(T.binding, [], false)
          if (m.type === 0x0101) return
        } catch (err) {
          if (i >= 5) throw new Error(`turnserver does not answer on udp 127.0.0.1:${port}: ${(err as Error).message}\n${output}`)
        }
      }
    })()])
  } catch (err) {
    await server.stop()
    throw err
  } finally {
    probe.close()
  }
  return server
}

/** Stops a process by its PID: SIGTERM, then SIGKILL if it has not exited within 3 s */
export async function stopProcess (proc: ChildProcess): Promise<void> {
  if (proc.exitCode != null || proc.signalCode != null || proc.pid == null) return
  const exited = new Promise<void>(resolve => proc.once('exit', () => { resolve() }))
  const kill = (signal: NodeJS.Signals): void => { try { process.kill(proc.pid as number, signal) } catch {} } // it may have just exited
  kill('SIGTERM')
  const timer = setTimeout(() => { if (proc.exitCode == null && proc.signalCode == null) kill('SIGKILL') }, 3_000)
  await exited
  clearTimeout(timer)
}

/** Flags for a turnserver with no config file, on 127.0.0.1:`port`, with the TURN REST API `secret`, its files in `dir` */
export function testFlags (dir: string, port: number, secret: string, relay = relayPorts()): string[] {
  return [
    '-n', // no config file: exactly these flags
    '--listening-ip=127.0.0.1', `--listening-port=${port}`, '--relay-ip=127.0.0.1', `--min-port=${relay.min}`, `--max-port=${relay.max}`,
    '--use-auth-secret', `--static-auth-secret=${secret}`, '--realm=peerlane.test', '--fingerprint',
    '--no-tls', '--no-dtls', '--no-cli', '--no-rfc5780',
    // foreground, unprivileged-friendly: logs to stdout, pid and user DB in the temp dir, nothing in /var
    '--log-file=stdout', '--simple-log', `--pidfile=${join(dir, 'turnserver.pid')}`, `--db=${join(dir, 'turndb')}`
  ]
}

/**
 * Writes the shipped turnserver.conf to `dir/turnserver.conf` with `replace` (keys that must already be in
 * it, e.g. the secret and ports) and the listening and relay address, pid file and DB of this machine
 * added; returns its path and text
 */
export async function shippedConf (dir: string, replace: Record<string, string>): Promise<{ path: string, text: string }> {
  let text = await readFile(SHIPPED_CONF, 'utf8')
  for (const [key, value] of Object.entries(replace)) {
    const line = new RegExp(`^${key}=.*$`, 'm')
    if (!line.test(text)) throw new Error(`turnserver.conf has no ${key}= line`)
    text = text.replace(line, `${key}=${value}`)
  }
  text += `\nlistening-ip=127.0.0.1\nrelay-ip=127.0.0.1\npidfile=${join(dir, 'turnserver.pid')}\ndb=${join(dir, 'turndb')}\n`
  const path = join(dir, 'turnserver.conf')
  await writeFile(path, text, { mode: 0o600 })
  return { path, text }
}
