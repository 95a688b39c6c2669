// Whether this machine can run a lab, and which labs are whose: each lab claims a `pl<4 hex>-` prefix by a
// state dir holding its owner's PID, so that the namespaces a crashed run left can be told from a live lab's.
import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { alive, destroyNamespace, destroyNamespaceSync, IP, listNamespaces } from './namespaces.ts'

export type LabSupport = { ok: true } | { ok: false, reason: string }

/** Matches the namespaces of any lab: `pl` + 4 hex digits + `-` + pub | probe | r-... | h-... */
const LAB_NS = /^(pl[0-9a-f]{4}-)(pub|probe|r-.+|h-.+)$/
export const STATE_ROOT = join(tmpdir(), 'peerlane-nat-lab')

/**
 * Whether this machine can run the lab: root, `ip`, `nft` (and `commands`, e.g. ['turnserver']), and a
 * namespace whose nftables take a masquerade rule. Tests skip with `reason` where it is not ok.
 */
export function labSupport (opts: { commands?: string[] } = {}): LabSupport {
  if (process.platform !== 'linux') return { ok: false, reason: 'the NAT lab needs Linux network namespaces' }
  if (process.getuid?.() !== 0) return { ok: false, reason: 'the NAT lab needs root (network namespaces, nftables)' }
  const debian: Record<string, string> = { nft: 'nftables', turnserver: 'coturn', [IP]: 'iproute2' }
  for (const cmd of [IP, 'nft', ...(opts.commands ?? [])]) {
    try {
      execFileSync('sh', ['-c', 'command -v "$1"', 'sh', cmd], { stdio: 'ignore' })
    } catch {
      return { ok: false, reason: `the NAT lab needs \`${cmd}\` (Debian: apt-get install -y ${debian[cmd] ?? cmd})` }
    }
  }
  // a probe namespace, owned like a lab's so that a concurrent removeStaleLabs() leaves it alone
  const prefix = `pl${randomBytes(2).toString('hex')}-`
  const ns = `${prefix}probe`
  const dir = join(STATE_ROOT, prefix)
  try {
    mkdirSync(dir, { recursive: true })
    writeFileSync(join(dir, 'owner.json'), JSON.stringify({ pid: process.pid }))
    execFileSync(IP, ['netns', 'add', ns], { stdio: ['ignore', 'ignore', 'pipe'] })
  } catch (err: any) {
    rmSync(dir, { recursive: true, force: true })
    return { ok: false, reason: `cannot make a network namespace: ${String(err.stderr ?? err.message).trim()}` }
  }
  try {
    execFileSync(IP, ['netns', 'exec', ns, 'nft', '-f', '-'], {
      input: 'table ip t {\n chain p {\n  type nat hook postrouting priority srcnat\n  masquerade random,fully-random\n }\n}\n',
      stdio: ['pipe', 'ignore', 'pipe']
    })
    return { ok: true }
  } catch (err: any) {
    return { ok: false, reason: `nftables masquerade does not work in a namespace: ${String(err.stderr ?? err.message).trim()}` }
  } finally {
    destroyNamespaceSync(ns)
    rmSync(dir, { recursive: true, force: true })
  }
}

/**
 * Deletes what crashed labs left: namespaces named like a lab's (`pl<4 hex>-...`) whose owning process
 * is gone (a live lab, e.g. another Playwright worker's, is left alone unless `all`), with every process
 * still inside them. Resolves to the namespaces it deleted.
 */
export async function removeStaleLabs (opts: { all?: boolean } = {}): Promise<string[]> {
  const removed: string[] = []
  const owner = (prefix: string): number | undefined => {
    try {
      return JSON.parse(readFileSync(join(STATE_ROOT, prefix, 'owner.json'), 'utf8')).pid
    } catch {
      return undefined
    }
  }
  const live = (prefix: string): boolean => {
    if (opts.all === true) return false
    const pid = owner(prefix)
    return pid != null && alive(pid)
  }
  for (const ns of await listNamespaces()) {
    const m = LAB_NS.exec(ns)
    if (m == null || live(m[1])) continue
    await destroyNamespace(ns)
    removed.push(ns)
  }
  let dirs: string[] = []
  try { dirs = readdirSync(STATE_ROOT) } catch {}
  for (const prefix of dirs) {
    if (/^pl[0-9a-f]{4}-$/.test(prefix) && !live(prefix)) rmSync(join(STATE_ROOT, prefix), { recursive: true, force: true })
  }
  return removed
}

/**
 * A fresh `pl<4 hex>-` prefix, claimed by creating its state dir (atomic across processes) and writing
 * the owner's PID into it at once, before any namespace of it exists (see removeStaleLabs)
 */
export async function claimPrefix (): Promise<string> {
  mkdirSync(STATE_ROOT, { recursive: true })
  const existing = await listNamespaces()
  for (let i = 0; i < 50; i++) {
    const prefix = `pl${randomBytes(2).toString('hex')}-`
    if (existing.some(ns => ns.startsWith(prefix))) continue
    try {
      mkdirSync(join(STATE_ROOT, prefix))
    } catch (err: any) {
      if (err.code === 'EEXIST') continue
      throw err
    }
    writeFileSync(join(STATE_ROOT, prefix, 'owner.json'), JSON.stringify({ pid: process.pid, started: new Date().toISOString() }))
    return prefix
  }
  throw new Error('no free lab prefix')
}
