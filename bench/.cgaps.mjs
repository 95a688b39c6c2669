import { chromium } from '@playwright/test'
import { chromiumLaunchOptions } from '/work/wt-bench/dist/bench/test-e2e/browsers.js'
import { spawn } from 'node:child_process'
import { readFileSync, existsSync, rmSync } from 'node:fs'
import { createServer } from 'node:http'
rmSync('/tmp/cg-addrs.json', { force: true })
const relay = spawn(process.execPath, ['/work/wt-bench/dist/relay-server/cli.js', '--port', '0', '--key-file', '/tmp/cg-relay.key', '--addr-file', '/tmp/cg-addrs.json'], { stdio: 'ignore' })
while (!existsSync('/tmp/cg-addrs.json')) await new Promise(r => setTimeout(r, 100))
await new Promise(r => setTimeout(r, 300))
const addr = JSON.parse(readFileSync('/tmp/cg-addrs.json', 'utf8'))[0]
const bundle = readFileSync('/work/wt-bench/dist/peerlane.min.js')
const server = createServer((req, res) => { if (req.url.startsWith('/p.js')) res.writeHead(200, { 'content-type': 'text/javascript' }).end(bundle); else res.writeHead(200, { 'content-type': 'text/html' }).end('<script src="/p.js"></script>') })
await new Promise(r => server.listen(0, '127.0.0.1', r))
const opts = await chromiumLaunchOptions()
const [ba, bb] = [await chromium.launch(opts), await chromium.launch(opts)]
const debug = process.argv[2]
for (let i = 0; i < 3; i++) {
  const [pa, pb] = [await ba.newPage(), await bb.newPage()]
  for (const p of [pa, pb]) await p.addInitScript((debug) => {
    if (debug) localStorage.debug = debug; else localStorage.removeItem('debug')
    window.__log = []
    for (const k of ['log', 'debug', 'info', 'error', 'warn']) console[k] = (...a) => window.__log.push([performance.timeOrigin + performance.now(), a.map(String).join(' ').replace(/%c|color: [#\w]+/g, '').slice(0, 140)])
  }, i === 2 ? debug : '')
  await Promise.all([pa, pb].map(p => p.goto(`http://127.0.0.1:${server.address().port}/`)))
  const [a] = await Promise.all([pa, pb].map(p => p.evaluate(async relay => { window.peer = await window.Peerlane.createPeer({ relays: [relay], identity: 'memory' }); return window.peer.id }, addr)))
  await new Promise(r => setTimeout(r, 300))
  const r = await pb.evaluate(async id => { const s = performance.now(); window.__log.push([performance.timeOrigin + s, '=== connect']); const info = await window.peer.connect(id); const t = performance.now() - s; return { t, info } }, a)
  console.log('connect', r.t.toFixed(0), JSON.stringify(r.info))
  if (i === 2) {
    const la = (await pa.evaluate(() => window.__log)).map(([t, m]) => [t, 'A ' + m]); const lb = (await pb.evaluate(() => window.__log)).map(([t, m]) => [t, 'B ' + m])
    const all = [...la, ...lb].sort((x, y) => x[0] - y[0]); const s = all.findIndex(l => l[1] === 'B === connect'); const t0 = all[s][0]; let prev = t0
    for (const [t, m] of all.slice(s, s + 400)) { const gap = t - prev; console.log(`${(t - t0).toFixed(1).padStart(7)} ${gap > 5 ? '+' + gap.toFixed(0).padStart(4) : '     '} ${m}`); prev = t; if (t - t0 > r.t + 50) break }
  }
  await Promise.all([pa.close(), pb.close()])
}
await ba.close(); await bb.close(); relay.kill(); server.close()
