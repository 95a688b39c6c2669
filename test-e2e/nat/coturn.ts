// coturn in a lab's public namespace, on its server address.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Lab } from './lab.ts'
import type { ChildProcess } from 'node:child_process'

export interface CoturnOptions {
  /** UDP+TCP listening ports on serverAddress; each port gets its own turnserver process. Default [3478] */
  ports?: number[]
  /** a long-term credential user for TURN; without one (or `authSecret`), TURN allocations are refused (STUN Binding still works) */
  user?: { name: string, password: string }
  /**
   * TURN REST API credentials instead of a user: coturn's `use-auth-secret` with this `static-auth-secret`, the
   * secret a Peerlane relay reads from its `--turn-secret-file` to hand each peer its own credentials
   */
  authSecret?: string
  /**
   * Start from this turnserver.conf (e.g. relay-server/deploy/turnserver.conf) instead of coturn's defaults: its
   * lines stay except those the lab sets itself (listeners, relay ports, realm, secret, TLS, files), and
   * the lab's public range 198.18.0.0/15 is allowed as peers (see LAB_PEERS)
   */
  conf?: string
  realm?: string
  signal?: AbortSignal
}

/**
 * The lab's "internet", 198.18.0.0/15 (RFC 2544's benchmarking range): a deployment's turnserver.conf rightly
 * denies it as a peer range (relay-server/deploy/turnserver.conf does), but every lab address is in it, so a
 * lab coturn started from such a conf must allow it back (coturn checks allowed-peer-ip before denied-peer-ip)
 */
const LAB_PEERS = '198.18.0.0-198.19.255.255'
/** turnserver.conf keys the lab sets itself (CoturnOptions.conf) */
const LAB_COTURN_KEYS = new Set(['listening-port', 'tls-listening-port', 'alt-listening-port', 'alt-tls-listening-port', 'listening-ip',
  'relay-ip', 'external-ip', 'min-port', 'max-port', 'realm', 'server-name', 'static-auth-secret', 'use-auth-secret', 'lt-cred-mech',
  'user', 'cert', 'pkey', 'log-file', 'pidfile', 'userdb', 'db', 'no-tls', 'no-dtls', 'cli-password'])

/** coturn running in a lab */
export interface LabCoturn { ports: number[], processes: ChildProcess[], close: () => Promise<void> }

/**
 * Starts coturn (Debian's `turnserver`) in the public namespace on serverAddress, one process per port
 * (UDP and TCP each; no TLS/DTLS, no CLI), and resolves once every port answers TCP.
 */
export async function startCoturn (lab: Lab, opts: CoturnOptions = {}): Promise<LabCoturn> {
  const ports = opts.ports ?? [3478]
  const processes: ChildProcess[] = []
  const close = async (): Promise<void> => { await Promise.all(processes.map(async p => await lab.stop(p))) }
  try {
    await Promise.all(ports.map(async (port, i) => {
      const dir = join(lab.dir, `coturn-${port}`)
      mkdirSync(dir, { recursive: true })
      const auth = opts.authSecret != null
        ? ['--use-auth-secret', '--static-auth-secret', opts.authSecret]
        : ['--lt-cred-mech', ...(opts.user != null ? ['--user', `${opts.user.name}:${opts.user.password}`] : [])]
      let conf: string[] = ['-n']
      if (opts.conf != null) {
        const kept = readFileSync(opts.conf, 'utf8').split('\n').filter(line => !LAB_COTURN_KEYS.has(line.trim().split('=')[0]))
        writeFileSync(join(dir, 'turnserver.conf'), `${kept.join('\n')}\nallowed-peer-ip=${LAB_PEERS}\n`, { mode: 0o600 })
        conf = ['-c', join(dir, 'turnserver.conf')]
      }
      const args = [
        ...conf, '--listening-ip', lab.serverAddress, '--relay-ip', lab.serverAddress, '--listening-port', String(port),
        '--min-port', String(49152 + 1000 * i), '--max-port', String(49152 + 1000 * i + 999),
        '--no-tls', '--no-dtls', '--no-cli', '--no-rfc5780', '--no-stun-backward-compatibility',
        '--realm', opts.realm ?? 'peerlane.test', '--pidfile', join(dir, 'turnserver.pid'),
        '--userdb', join(dir, 'turndb'), '--log-file', 'stdout', '--simple-log', ...auth
      ]
      const child = lab.spawn('pub', 'turnserver', args, { stdio: ['ignore', 'pipe', 'pipe'], signal: opts.signal })
      processes.push(child)
      let log = ''
      child.stdout!.setEncoding('utf8').on('data', (s: string) => { log = (log + s).slice(-4000) })
      child.stderr!.setEncoding('utf8').on('data', (s: string) => { log = (log + s).slice(-4000) })
      const deadline = Date.now() + 5000
      for (;;) {
        if (child.exitCode != null) throw new Error(`turnserver on ${port} exited (${child.exitCode}): ${log}`)
        if (await lab.tcpConnect('pub', lab.serverAddress, port, 300) === 'connected') break
        if (Date.now() > deadline) throw new Error(`turnserver on ${port} does not listen: ${log}`)
        await new Promise(resolve => setTimeout(resolve, 25))
      }
    }))
  } catch (err) {
    await close()
    throw err
  }
  return { ports, processes, close }
}
