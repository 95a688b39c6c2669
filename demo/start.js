#!/usr/bin/env node
// `npm start`: a local relay plus the demo page (Vite dev server), wired together. Ctrl-C stops both.
import { createServer } from 'vite'
import { createRelay } from 'peerlane-relay'

const relay = createRelay({
  port: Number(process.env.PEERLANE_RELAY_PORT ?? 9090),
  keyFile: process.env.PEERLANE_RELAY_KEY_FILE ?? './relay.key',
  httpPort: Number(process.env.PEERLANE_RELAY_HTTP_PORT ?? 9091)
})
try {
  await relay.ready
} catch (err) {
  console.error(`Could not start the relay: ${err.message}\n(set PEERLANE_RELAY_PORT / PEERLANE_RELAY_HTTP_PORT if 9090/9091 are taken)`)
  process.exit(1)
}

const server = await createServer({
  configFile: new URL('../vite.config.ts', import.meta.url).pathname,
  server: { host: '127.0.0.1', port: Number(process.env.PORT ?? 5173) },
  plugins: [{
    name: 'peerlane-relay-address',
    configureServer (vite) {
      vite.middlewares.use('/relay.json', (_req, res) => {
        res.setHeader('content-type', 'application/json')
        res.end(JSON.stringify(relay.addresses))
      })
    }
  }]
})
await server.listen()

console.log(`Relay ${relay.peerId} on ${relay.addresses.join(', ')}`)
console.log(`\n  Peerlane chat: ${server.resolvedUrls.local[0]}#lobby\n  Open it in two tabs (or two browsers) and say hello.\n`)

const stop = async () => {
  await server.close()
  await relay.close()
  process.exit(0)
}
process.on('SIGINT', stop)
process.on('SIGTERM', stop)
