// A port for a test server, shared with test-e2e/support.ts: coturn listens on both UDP and TCP, and
// the relay's STUN server on UDP.
import { createSocket } from 'node:dgram'
import { createServer } from 'node:net'

/** A port free for both UDP and TCP on 127.0.0.1 now */
export async function freePort (): Promise<number> {
  for (;;) {
    const port = await new Promise<number>(resolve => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port
        s.close(() => { resolve(p) })
      })
    })
    const udpFree = await new Promise<boolean>(resolve => {
      const u = createSocket('udp4')
      u.once('error', () => { u.close(); resolve(false) })
      u.bind(port, '127.0.0.1', () => { u.close(() => { resolve(true) }) })
    })
    if (udpFree) return port
  }
}
