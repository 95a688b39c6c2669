// The processes behind the WebKit end-to-end tests (webkit.ts has the WebDriver sessions and pages): where
// WebKitWebDriver (Debian's webkit2gtk-driver), MiniBrowser and xvfb-run are, installing them when they are
// missing, and a WebKitWebDriver under xvfb-run (this MiniBrowser has no headless mode). Each driver is its own
// process group (xvfb-run, Xvfb, WebKitWebDriver, MiniBrowser and its web processes), stopped by PID and process
// group, even when a test fails.
import { execFileSync, spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ROOT } from './support.ts'
import type { ChildProcess } from 'node:child_process'
import type { AddressInfo } from 'node:net'

/** Folders of installed WebKitGTK builds (Debian: /usr/lib/x86_64-linux-gnu/webkit2gtk-4.1), newest API first */
function webkitLibDirs (): string[] {
  const roots = ['/usr/lib', '/usr/libexec', '/usr/lib64']
  try {
    roots.push(...readdirSync('/usr/lib').filter(d => d.endsWith('-linux-gnu')).map(d => join('/usr/lib', d)))
  } catch {}
  const dirs: string[] = []
  for (const root of roots) {
    try {
      for (const d of readdirSync(root)) if (/^webkit(2)?gtk-\d/.test(d)) dirs.push(join(root, d))
    } catch {}
  }
  const api = (dir: string): number => Number(/gtk-([\d.]+)$/.exec(dir)?.[1] ?? 0)
  return dirs.sort((a, b) => api(b) - api(a))
}

function onPath (cmd: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    if (dir !== '' && existsSync(join(dir, cmd))) return join(dir, cmd)
  }
  return undefined
}

/** WebKitWebDriver: /usr/bin/WebKitWebDriver (Debian), else beside a WebKitGTK build */
export function findWebKitWebDriver (): string | undefined {
  return onPath('WebKitWebDriver') ?? webkitLibDirs().map(dir => join(dir, 'WebKitWebDriver')).find(p => existsSync(p))
}

/** MiniBrowser, in a WebKitGTK build's folder (Debian's libwebkit2gtk-4.1-0 ships it) */
export function findMiniBrowser (): string | undefined {
  return webkitLibDirs().map(dir => join(dir, 'MiniBrowser')).find(p => existsSync(p))
}

async function freeTcpPort (): Promise<number> {
  const probe = createServer()
  await new Promise<void>(resolve => probe.listen(0, '127.0.0.1', resolve))
  const { port } = probe.address() as AddressInfo
  await new Promise(resolve => probe.close(resolve))
  return port
}

export const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

/** The PIDs of the children of `pid` whose command is `command` (Linux /proc) */
function childrenOf (pid: number, command: string): number[] {
  try {
    return readdirSync(`/proc/${pid}/task`)
      .flatMap(task => readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').trim().split(/\s+/))
      .filter(s => s !== '').map(Number)
      .filter(child => { try { return readFileSync(`/proc/${child}/cmdline`, 'utf8').split('\0')[0] === command } catch { return false } })
  } catch {
    return []
  }
}

// drivers still running when the test worker exits (Ctrl-C, a crash): their process groups are killed and their
// folders removed on the way out
const running = new Map<number, string>()
process.on('exit', () => {
  for (const [pgid, dir] of running) {
    try { process.kill(-pgid, 'SIGKILL') } catch {}
    rmSync(dir, { recursive: true, force: true })
  }
})

/** A WebKitWebDriver under `xvfb-run -a`, listening on a free port of 127.0.0.1 */
export class WebKitDriverProcess {
  readonly port: number
  readonly driver: string
  readonly miniBrowser: string
  /** what xvfb-run, the driver and MiniBrowser wrote (not the pages' console: see WebKitPage.errors in webkit.ts) */
  output = ''
  private readonly child: ChildProcess
  private readonly pgid: number
  /** our folder for xvfb-run's X authority file (so that no xvfb-run.* folder of its own is left in /tmp) */
  private readonly dir: string

  private constructor (child: ChildProcess, dir: string, port: number, driver: string, miniBrowser: string) {
    this.child = child
    this.pgid = child.pid as number
    this.dir = dir
    this.port = port
    this.driver = driver
    this.miniBrowser = miniBrowser
    running.set(this.pgid, dir)
    child.stdout?.on('data', (d: Buffer) => { this.output += d.toString() })
    child.stderr?.on('data', (d: Buffer) => { this.output += d.toString() })
  }

  /** Starts the driver and waits (up to `timeout` ms) until it answers /status */
  static async start (timeout = 20_000): Promise<WebKitDriverProcess> {
    const driver = findWebKitWebDriver()
    const miniBrowser = findMiniBrowser()
    if (driver == null) throw new Error('WebKitWebDriver is not installed (Debian: apt-get install webkit2gtk-driver)')
    if (miniBrowser == null) throw new Error('MiniBrowser is not installed (Debian: libwebkit2gtk-4.1-0)')
    if (onPath('xvfb-run') == null) throw new Error('xvfb-run is not installed (Debian: apt-get install xvfb)')
    const port = await freeTcpPort()
    const dir = mkdtempSync(join(tmpdir(), 'peerlane-webkit-'))
    // detached: xvfb-run leads a new process group, which everything it starts stays in
    const child = spawn('xvfb-run', ['-a', '-f', join(dir, 'Xauthority'), driver, `--port=${port}`, '--host=127.0.0.1'],
      { detached: true, stdio: ['ignore', 'pipe', 'pipe'] })
    const started = new WebKitDriverProcess(child, dir, port, driver, miniBrowser)
    try {
      const deadline = Date.now() + timeout
      while (true) {
        if (child.exitCode != null || child.signalCode != null) throw new Error(`xvfb-run WebKitWebDriver exited (${child.exitCode ?? child.signalCode}):\n${started.output}`)
        const status = await fetch(`http://127.0.0.1:${port}/status`, { signal: AbortSignal.timeout(2_000) }).then(async r => await r.json(), () => undefined)
        if (status?.value?.ready === true) return started
        if (Date.now() > deadline) throw new Error(`WebKitWebDriver did not answer on port ${port} within ${timeout} ms:\n${started.output}`)
        await sleep(100)
      }
    } catch (err) {
      await started.stop()
      throw err
    }
  }

  /**
   * Stops the driver, after which xvfb-run stops its Xvfb; whatever of the process group is left after that (or
   * after `graceMs`) is killed, and our folder removed.
   */
  async stop (graceMs = 5_000): Promise<void> {
    const exited = (): boolean => this.child.exitCode != null || this.child.signalCode != null
    const deadline = Date.now() + graceMs
    // the driver is xvfb-run's child once Xvfb is up: SIGTERM to it alone, and xvfb-run stops Xvfb and exits
    let drivers = childrenOf(this.pgid, this.driver)
    while (!exited() && drivers.length === 0 && Date.now() < deadline) {
      await sleep(50)
      drivers = childrenOf(this.pgid, this.driver)
    }
    for (const pid of drivers) { try { process.kill(pid, 'SIGTERM') } catch {} }
    while (!exited() && Date.now() < deadline) await sleep(50)
    // then everything of the group still there (xvfb-run, Xvfb, MiniBrowser's web processes): SIGKILL
    try { process.kill(-this.pgid, 'SIGKILL') } catch {}
    const gone = Date.now() + 5_000
    while ((groupAlive(this.pgid) || !exited()) && Date.now() < gone) await sleep(50)
    rmSync(this.dir, { recursive: true, force: true })
    running.delete(this.pgid)
  }
}

/** Whether any process of group `pgid` is left */
function groupAlive (pgid: number): boolean {
  try {
    process.kill(-pgid, 0)
    return true
  } catch (err: any) {
    return err.code === 'EPERM'
  }
}

/** What ensureWebKitInstalled installs with, as root: the repository's own installer (one apt-get run for what is missing) */
function install (): string | undefined {
  if (process.getuid?.() !== 0 || !existsSync('/usr/bin/apt-get')) {
    return 'WebKit tests need webkit2gtk-driver and xvfb: sudo apt-get install webkit2gtk-driver xvfb (or, as root, node test-e2e/ensure-browsers.js)'
  }
  try {
    execFileSync(process.execPath, [join(ROOT, 'test-e2e/ensure-browsers.js')], { stdio: 'inherit', timeout: 600_000 })
    return undefined
  } catch (err: any) {
    return `webkit2gtk-driver and xvfb could not be installed (test-e2e/ensure-browsers.js: ${String(err.message).split('\n')[0]})`
  }
}

/**
 * Why WebKitWebDriver, MiniBrowser or xvfb-run cannot be had here, or undefined when they are all installed:
 * installs webkit2gtk-driver and xvfb when they are missing and we may
 */
export function ensureWebKitInstalled (): string | undefined {
  const missing = (): boolean => findWebKitWebDriver() == null || findMiniBrowser() == null || onPath('xvfb-run') == null
  if (missing()) {
    const reason = install()
    if (reason != null) return reason
    if (missing()) return 'WebKitWebDriver, MiniBrowser or xvfb-run still missing after installing webkit2gtk-driver and xvfb'
  }
  return undefined
}
