// The relay CLI as an operator runs it: a real process, real files, real signals.
import { chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { listening, runRelay as run } from './relay-process.ts'
import type { RelayProcess as Run } from './relay-process.ts'

describe('peerlane-relay', () => {
  let dir: string
  const running: Run[] = []

  beforeEach(async () => { dir = await mkdtemp(join(tmpdir(), 'peerlane-relay-')) })
  afterEach(async () => {
    for (const r of running.splice(0)) { r.child.kill('SIGKILL'); await r.exit }
    await rm(dir, { recursive: true, force: true })
  })

  async function start (args: string[], env: Record<string, string> = {}): Promise<{ run: Run, addrs: string[], http: string }> {
    const addrFile = join(dir, `addrs-${running.length}.json`)
    const r = run(['--port', '0', '--http-port', '0', '--addr-file', addrFile, ...args], env)
    running.push(r)
    return { run: r, ...await listening(r, addrFile) }
  }

  it('creates its key file with mode 0600, reuses it (same PeerId), and stops cleanly on SIGTERM', async () => {
    const keyFile = join(dir, 'relay.key')
    const first = await start(['--key-file', keyFile])
    expect(first.addrs[0]).toMatch(/^\/ip4\/127\.0\.0\.1\/tcp\/\d+\/ws\/p2p\/12D3KooW/)
    expect(first.run.output()).toContain(first.addrs[0])
    expect((await stat(keyFile)).mode & 0o777).toBe(0o600)
    const key = await readFile(keyFile)

    first.run.child.kill('SIGTERM')
    expect(await first.run.exit).toBe(0)

    const second = await start([], { PEERLANE_RELAY_KEY_FILE: keyFile })
    expect(second.addrs[0].split('/p2p/')[1]).toBe(first.addrs[0].split('/p2p/')[1])
    expect(await readFile(keyFile)).toEqual(key)
    second.run.child.kill('SIGINT')
    expect(await second.run.exit).toBe(0)
  })

  it('serves /health as JSON and /metrics as Prometheus text', async () => {
    const { addrs, http } = await start(['--key-file', join(dir, 'k')])
    const health = await fetch(`${http}/health`)
    expect(health.status).toBe(200)
    expect(await health.json()).toMatchObject({ status: 'ok', peerId: addrs[0].split('/p2p/')[1], reservations: 0 })
    const metrics = await fetch(`${http}/metrics`)
    expect(metrics.status).toBe(200)
    expect(metrics.headers.get('content-type')).toContain('text/plain')
    const text = await metrics.text()
    expect(text).toContain('# TYPE peerlane_relay_reservations gauge')
    expect(text).toContain('libp2p_')
    expect((await fetch(`${http}/nope`)).status).toBe(404)
  })

  it('announces the addresses it is told to', async () => {
    const { addrs } = await start(['--key-file', join(dir, 'k'), '--announce', '/dns4/relay.example.com/tcp/443/wss'])
    expect(addrs).toHaveLength(1)
    expect(addrs[0]).toMatch(/^\/dns4\/relay\.example\.com\/tcp\/443\/wss\/p2p\/12D3KooW/)
  })

  it('exits non-zero on a corrupt key file and leaves it as it was', async () => {
    const keyFile = join(dir, 'relay.key')
    const garbage = Buffer.from('this is not a libp2p key\n')
    await writeFile(keyFile, garbage, { mode: 0o600 })
    const r = run(['--port', '0', '--key-file', keyFile])
    expect(await r.exit).toBe(1)
    expect(r.output()).toContain(`key file ${keyFile}: is not a libp2p private key`)
    expect(await readFile(keyFile)).toEqual(garbage)
  })

  it('exits non-zero on an unreadable key file and leaves it as it was', async () => {
    // a directory where the key should be cannot be read, even by root
    const keyDir = join(dir, 'relay.key')
    await mkdir(keyDir)
    await writeFile(join(keyDir, 'inside'), 'x')
    await chmod(keyDir, 0o700)
    const r = run(['--port', '0', '--key-file', keyDir])
    expect(await r.exit).toBe(1)
    expect(r.output()).toContain(`key file ${keyDir}: cannot be read (EISDIR)`)
    expect((await stat(keyDir)).isDirectory()).toBe(true)
    expect(await readFile(join(keyDir, 'inside'), 'utf8')).toBe('x')
  })

  it('refuses a key file every user can read, and warns about one its group can read, naming the file and its mode', async () => {
    const keyFile = join(dir, 'relay.key')
    const first = await start(['--key-file', keyFile])
    first.run.child.kill('SIGTERM')
    expect(await first.run.exit).toBe(0)
    const key = await readFile(keyFile)

    await chmod(keyFile, 0o644)
    const refused = run(['--port', '0', '--key-file', keyFile])
    expect(await refused.exit).toBe(1)
    expect(refused.output()).toContain(`key file ${keyFile}: is readable by every user (mode 644): chmod 600 it`)

    await chmod(keyFile, 0o640)
    const { run: warned, addrs } = await start(['--key-file', keyFile])
    expect(addrs[0].split('/p2p/')[1]).toBe(first.addrs[0].split('/p2p/')[1])
    const warning = warned.output().trim().split('\n').map(line => JSON.parse(line)).find(l => l.event === 'key-file:group-readable')
    expect(warning).toMatchObject({ level: 'warn', path: keyFile, mode: '640' })
    expect(await readFile(keyFile)).toEqual(key)
    expect((await stat(keyFile)).mode & 0o777).toBe(0o640)
  })

  it('serves /metrics on --http-host (127.0.0.1 by default), not on --host', async () => {
    const { addrs, http } = await start(['--key-file', join(dir, 'k'), '--host', '127.0.0.2'])
    expect(addrs[0]).toMatch(/^\/ip4\/127\.0\.0\.2\/tcp\//)
    expect(http).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
    expect((await fetch(`${http}/metrics`)).status).toBe(200)
    const port = new URL(http).port
    expect((await fetch(`http://127.0.0.2:${port}/metrics`).catch(err => err)).name).toBe('TypeError')
    const { http: other } = await start(['--key-file', join(dir, 'k2'), '--http-host', '127.0.0.3'])
    expect(other).toMatch(/^http:\/\/127\.0\.0\.3:\d+$/)
    expect((await fetch(`${other}/health`)).status).toBe(200)
  })

  it('takes its settings from a JSON config file, logs one JSON object per line, and answers /ready', async () => {
    const config = join(dir, 'relay.json')
    await writeFile(config, JSON.stringify({ keyFile: join(dir, 'k'), maxReservations: 7, logLevel: 'info' }))
    const { run: r, http } = await start(['--config', config])
    const ready = await fetch(`${http}/ready`)
    expect(ready.status).toBe(200)
    expect(await ready.json()).toMatchObject({ status: 'ready', maxReservations: 7 })
    r.child.kill('SIGTERM')
    expect(await r.exit).toBe(0)
    const lines = r.output().trim().split('\n').map(line => JSON.parse(line))
    expect(lines.map(l => l.event)).toEqual(['listening', 'shutdown', 'stopped'])
    expect(lines[0]).toMatchObject({ level: 'info', limits: { maxReservations: 7 } })
    for (const line of lines) expect(new Date(line.time).getTime()).toBeGreaterThan(0)
  })

  it('exits with 2 naming the field when the config file has a bad value', async () => {
    const config = join(dir, 'relay.json')
    await writeFile(config, JSON.stringify({ maxReservationsPerIp: 'many' }))
    const r = run(['--config', config])
    expect(await r.exit).toBe(2)
    expect(r.output()).toContain('max-reservations-per-ip: "many" is not a whole number')
  })

  it('exits with 2 and the usage on a bad flag, naming it', async () => {
    const r = run(['--port', 'eighty'])
    expect(await r.exit).toBe(2)
    expect(r.output()).toContain('port: "eighty" is not a whole number')
    expect(r.output()).toContain('Usage: peerlane-relay')
  })
})
