// The SDK as an app gets it: `npm pack`, then `npm install` of the tarball into an empty app. It must bring
// none of the relay's dependencies and no react-native tree, and work: the installed package reserves on a
// relay from a plain Node script.
import { execFileSync, spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { afterAll, describe, expect, it } from 'vitest'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const RELAY_ONLY = ['@libp2p/kad-dht', '@libp2p/prometheus-metrics', 'prom-client', 'react-native', 'react-native-webrtc', 'peerlane-relay']

describe('the packed SDK in an empty app', () => {
  const app = mkdtempSync(join(tmpdir(), 'peerlane-app-'))
  afterAll(() => { rmSync(app, { recursive: true, force: true }) })

  it('installs no relay-only dependency nor react-native, and reserves on a relay', { timeout: 180_000 }, async () => {
    expect(existsSync(join(ROOT, 'dist/node/index.mjs')), 'run npm run build first').toBe(true)
    const tarball = execFileSync('npm', ['pack', '--silent', '--pack-destination', app], { cwd: ROOT, encoding: 'utf8' }).trim().split('\n').pop() as string
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'an-app', version: '1.0.0', type: 'module', private: true }))
    execFileSync('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', join(app, tarball)], { cwd: app, stdio: 'pipe' })

    const installed = readdirSync(join(app, 'node_modules')).flatMap(d => d.startsWith('@') ? readdirSync(join(app, 'node_modules', d)).map(p => `${d}/${p}`) : [d])
    expect(installed.filter(p => RELAY_ONLY.includes(p))).toEqual([])
    expect(installed.filter(p => p.startsWith('@libp2p/') && p !== '@libp2p/interface')).toEqual([])

    const { createRelay } = await import('../relay-server/dist/index.mjs' as string)
    const relay = createRelay({ port: 0, stunPort: 0, privateKey: await generateKeyPair('Ed25519'), logLevel: 'error' })
    try {
      await relay.ready
      writeFileSync(join(app, 'peer.mjs'), `import { createPeer } from 'peerlane'
const peer = await createPeer({ relays: [process.argv[2]], identity: 'memory' })
console.log(JSON.stringify({ id: peer.id, reserved: peer.relays[0].reserved }))
await peer.stop()
`)
      const out = await new Promise<string>((resolve, reject) => {
        const child = spawn(process.execPath, ['peer.mjs', relay.addresses[0]], { cwd: app })
        let text = ''
        child.stdout.on('data', d => { text += d })
        child.stderr.on('data', d => { text += d })
        child.on('exit', code => { code === 0 ? resolve(text) : reject(new Error(`exit ${code}: ${text}`)) })
      })
      expect(JSON.parse(out.trim().split('\n').pop() as string)).toMatchObject({ reserved: true })
    } finally {
      await relay.close()
    }
  })
})
