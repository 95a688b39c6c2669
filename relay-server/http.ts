// The relay's HTTP server, for the host and Prometheus rather than the Internet: /health (liveness),
// /ready (readiness) and /metrics.
import { createServer } from 'node:http'
import { isIPv6 } from 'node:net'
import type { ResolvedRelayConfig } from './config.ts'
import type { RelayNode } from './relay.ts'
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Registry } from 'prom-client'

/** Where the relay is in its life, as /health and /ready report it */
export interface RelayLifecycle {
  /** listening (and the HTTP server up) */
  readonly listening: boolean
  /** `close()` was called */
  readonly closed: boolean
}

/** The HTTP server of /health, /ready and /metrics (not listening yet: see `listenHttp`) */
export function createHttpServer (node: RelayNode, registry: Registry, config: Pick<ResolvedRelayConfig, 'maxReservations'>, state: RelayLifecycle): Server {
  const http = createServer((req, res) => {
    const url = (req.url ?? '').split('?')[0]
    if (req.method !== 'GET') {
      res.writeHead(405, { 'content-type': 'text/plain' }).end('GET only\n')
    } else if (url === '/health') {
      // liveness: the process runs and its event loop answers
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(JSON.stringify(status(node, state.listening && !state.closed ? 'ok' : 'stopping')))
    } else if (url === '/ready') {
      // readiness: listening, not shutting down, and a slot free for one more reservation
      const full = node.services.relay.reservations.size >= config.maxReservations
      const ok = state.listening && !state.closed && !full
      res.writeHead(ok ? 200 : 503, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ ...status(node, ok ? 'ready' : state.closed ? 'stopping' : full ? 'full' : 'starting'), maxReservations: config.maxReservations }))
    } else if (url === '/metrics') {
      registry.metrics().then(text => {
        res.writeHead(200, { 'content-type': registry.contentType })
        res.end(text)
      }, (err: Error) => {
        res.writeHead(500).end(err.message)
      })
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try GET /health, /ready or /metrics\n')
    }
  })
  http.headersTimeout = 10_000
  http.requestTimeout = 10_000
  return http
}

/** Starts listening; rejects if the port cannot be had */
export async function listenHttp (http: Server, port: number, host: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject)
    http.listen(port, host, () => { http.off('error', reject); resolve() })
  })
}

/** Closes the server and every connection to it */
export async function closeHttp (http: Server): Promise<void> {
  await new Promise<void>(resolve => {
    http.close(() => { resolve() })
    http.closeAllConnections()
  })
}

/** The server's `/health` URL, for the `listening` log line */
export function healthUrl (http: Server, host: string): string {
  return `http://${isIPv6(host) ? `[${host}]` : host}:${(http.address() as AddressInfo).port}/health`
}

function status (node: RelayNode, state: string): Record<string, unknown> {
  return {
    status: state,
    peerId: node.peerId.toString(),
    connections: node.getConnections().length,
    reservations: node.services.relay.reservations.size,
    rooms: node.services.pubsub.getTopics().length
  }
}
