// What the browser figures run against, started once per `npm run bench`: a relay process (test-e2e/support.ts,
// as the end-to-end tests start it), a static server for the bundles and the benchmark pages, a plain WebSocket
// signalling server for the raw WebRTC baseline, and the browser processes.
import { chromium, firefox } from '@playwright/test'
import { WebSocketServer } from 'ws'
import { chromiumLaunchOptions, firefoxLaunchOptions } from '../test-e2e/browsers.ts'
import { RelayProcess, startSite } from '../test-e2e/support.ts'
import { log } from './shared.ts'
import type { Env, Options } from './shared.ts'
import type { AddressInfo } from 'node:net'
import type { WebSocket } from 'ws'

/**
 * The benchmark page, /page.html?bundle=peerlane|stock|none: the bundle (if any), then bench/page.js (shared state,
 * Peerlane calls), bench/page-stock.js and bench/page-raw.js, which add theirs to page.js's window.bench
 */
function benchPage (url: URL): string {
  const scripts: Record<string, string> = { peerlane: '/dist/peerlane.min.js', stock: '/bench/dist/stock-libp2p.min.js', none: '' }
  const script = scripts[url.searchParams.get('bundle') ?? 'none']
  const benchScripts = ['/bench/page.js', '/bench/page-stock.js', '/bench/page-raw.js', '/bench/page-load.js'].map(src => `<script src="${src}"></script>`).join('')
  return `<!doctype html><meta charset="utf-8"><link rel="icon" href="data:,"><title>bench</title>
${script === '' ? '' : `<script src="${script}"></script>`}${benchScripts}<p>Peerlane benchmark page</p>`
}

/** The raw baseline's signalling: a plain WebSocket server that forwards { to, … } messages to `to`, adding `from` */
async function startSignalling (): Promise<{ url: string, close: () => Promise<void> }> {
  const clients = new Map<string, WebSocket>()
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 })
  wss.on('connection', (ws, req) => {
    const id = new URL(req.url ?? '/', 'http://x').searchParams.get('id') ?? ''
    clients.set(id, ws)
    ws.on('message', data => {
      const msg = JSON.parse(data.toString())
      clients.get(msg.to)?.send(JSON.stringify({ ...msg, from: id }))
    })
    ws.on('close', () => { if (clients.get(id) === ws) clients.delete(id) })
  })
  await new Promise(resolve => wss.once('listening', resolve))
  const { port } = wss.address() as AddressInfo
  return {
    url: `ws://127.0.0.1:${port}`,
    close: async () => {
      for (const ws of wss.clients) ws.terminate()
      await new Promise(resolve => wss.close(resolve))
    }
  }
}

/**
 * Starts the Env: the relay keeps its key and address file in `dir`; two Chromium processes, and Firefox when
 * the ready figure runs. Whatever it started, it adds a stop to `cleanups` for (run in reverse order)
 */
export async function startEnv (options: Options, dir: string, cleanups: Array<() => Promise<unknown>>): Promise<Env> {
  const relay = new RelayProcess(dir, [], { http: false })
  cleanups.push(async () => relay.stop())
  await relay.start()
  const site = await startSite({ folders: ['dist', 'bench'], start: '/page.html', pages: { '/page.html': benchPage } })
  cleanups.push(site.close)
  const signalling = await startSignalling()
  cleanups.push(signalling.close)
  log(`relay ${relay.address}`)
  const chromiumOptions = await chromiumLaunchOptions()
  const [chromiumA, chromiumB, fox] = await Promise.all([
    chromium.launch(chromiumOptions),
    chromium.launch(chromiumOptions),
    options.only.has('ready') ? firefox.launch(firefoxLaunchOptions()) : undefined
  ])
  for (const b of [chromiumA, chromiumB, fox]) if (b != null) cleanups.push(async () => b.close())
  const versions: Record<string, string> = { chromium: chromiumA.version() }
  if (fox != null) versions.firefox = fox.version()
  return { relay, siteUrl: site.url, signallingUrl: signalling.url, browsers: { chromiumA, chromiumB, firefox: fox }, options, versions }
}
