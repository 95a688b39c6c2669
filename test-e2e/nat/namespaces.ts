// The lab's namespaces as the host machine sees them: `ip netns` commands, and the processes inside a namespace
// (a lab ends every one of them before it deletes the namespace).
import { spawn, execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'

export const IP = existsSync('/usr/sbin/ip') ? '/usr/sbin/ip' : existsSync('/sbin/ip') ? '/sbin/ip' : 'ip'

export interface RunOptions { input?: string, signal?: AbortSignal, timeoutMs?: number }

/** Runs a command to completion; rejects with its stderr when it exits non-zero */
export async function run (file: string, args: string[], opts: RunOptions = {}): Promise<{ stdout: string, stderr: string }> {
  return await new Promise((resolve, reject) => {
    const child = spawn(file, args, { stdio: ['pipe', 'pipe', 'pipe'], signal: opts.signal, timeout: opts.timeoutMs ?? 10_000 })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (s: string) => { stdout += s })
    child.stderr.setEncoding('utf8').on('data', (s: string) => { stderr += s })
    child.on('error', reject)
    child.on('close', (code, sig) => {
      if (code === 0) resolve({ stdout, stderr })
      else reject(new Error(`${file} ${args.join(' ')} failed (${code ?? sig}): ${stderr.trim() || stdout.trim()}`))
    })
    child.stdin.on('error', () => {})
    child.stdin.end(opts.input ?? '')
  })
}

export function alive (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err: any) {
    return err.code === 'EPERM'
  }
}

export function kill (pid: number, signal: NodeJS.Signals, group: boolean): void {
  try {
    process.kill(group ? -pid : pid, signal)
  } catch {}
  if (group) try { process.kill(pid, signal) } catch {}
}

function namespacePidsSync (ns: string): number[] {
  try {
    return execFileSync(IP, ['netns', 'pids', ns], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
      .split(/\s+/).filter(Boolean).map(Number)
  } catch {
    return []
  }
}

async function namespacePids (ns: string): Promise<number[]> {
  try {
    return (await run(IP, ['netns', 'pids', ns])).stdout.split(/\s+/).filter(Boolean).map(Number)
  } catch {
    return []
  }
}

export async function listNamespaces (): Promise<string[]> {
  const { stdout } = await run(IP, ['netns', 'list'])
  return stdout.split('\n').map(l => l.split(' ')[0]).filter(Boolean)
}

/** Kills every process inside `ns`, then deletes it (its veths go with it) */
export async function destroyNamespace (ns: string): Promise<void> {
  for (let i = 0; i < 3; i++) {
    const pids = await namespacePids(ns)
    if (pids.length === 0) break
    for (const pid of pids) kill(pid, 'SIGKILL', false)
    await new Promise(resolve => setTimeout(resolve, 20))
  }
  try {
    await run(IP, ['netns', 'delete', ns])
  } catch (err: any) {
    if (!/No such file|not found|Invalid/i.test(String(err.message))) throw err
  }
}

export function destroyNamespaceSync (ns: string): void {
  for (const pid of namespacePidsSync(ns)) kill(pid, 'SIGKILL', false)
  try { execFileSync(IP, ['netns', 'delete', ns], { stdio: 'ignore' }) } catch {}
}
