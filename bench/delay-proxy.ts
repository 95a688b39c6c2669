// A TCP proxy that puts a round-trip time between its clients and a server (this kernel has no netem): every
// chunk of bytes is forwarded `rttMs / 2` after it arrived, in each direction, in order. It also counts how many
// relay round trips an operation waits on, from the wire: each chunk gets a level, 1 + the highest level of any
// chunk the proxy had delivered (in either direction, on any of its connections) before this one arrived. A
// chunk sent in answer to another is one level up; chunks sent together (pipelined) share a level. The highest
// level reached during an operation is the number of sequential half trips (rttMs / 2 each) on its critical
// path, whatever the CPU did meanwhile, as long as no one step takes longer than rttMs / 2. Used by `npm run bench`
// (bench/figures/distance.ts) and by Node tests (bench/delay-proxy.test.ts).
import { createConnection, createServer } from 'node:net'
import type { AddressInfo, Server, Socket } from 'node:net'

/** One chunk of bytes through the proxy */
export interface Flight {
  /** which proxied connection (1, 2, …, in the order they were accepted) */
  conn: number
  /** 'up': client → server; 'down': server → client */
  dir: 'up' | 'down'
  bytes: number
  /** epoch ms (performance.timeOrigin + performance.now()) when the proxy got it, and when it forwarded it */
  arrived: number
  delivered: number
}

export interface DelayProxyOptions {
  /** where to forward to */
  host: string
  port: number
  /** the round-trip time to add: each direction waits half of it */
  rttMs: number
}

export interface DelayProxy {
  /** the port it listens on (127.0.0.1) */
  port: number
  /** the round-trip time it adds, ms (can be changed between operations) */
  rttMs: number
  /** every chunk delivered so far, in the order delivered */
  flights: () => Flight[]
  /** forgets the chunks recorded so far */
  clear: () => void
  close: () => Promise<void>
}

const clock = (): number => performance.timeOrigin + performance.now()

/** Starts a delay proxy on 127.0.0.1 (a free port) in front of `host:port` */
export async function startDelayProxy (options: DelayProxyOptions): Promise<DelayProxy> {
  let flights: Flight[] = []
  let nextConn = 1
  const sockets = new Set<Socket>()
  const proxy: DelayProxy = {
    port: 0,
    rttMs: options.rttMs,
    flights: () => flights,
    clear: () => { flights = [] },
    close: async () => {
      for (const socket of sockets) socket.destroy()
      await new Promise(resolve => server.close(resolve))
    }
  }

  /** Forwards `from`'s bytes to `to`, each chunk half the round trip later, in order; the end likewise */
  const pipe = (conn: number, dir: Flight['dir'], from: Socket, to: Socket): void => {
    const queue: Array<{ data?: Buffer, at: number, arrived: number }> = []
    let timer: ReturnType<typeof setTimeout> | undefined
    const drain = (): void => {
      timer = undefined
      while (queue.length > 0 && queue[0].at <= clock()) {
        const { data, arrived } = queue.shift() as typeof queue[number]
        if (data == null) { to.end(); continue }
        if (to.destroyed) continue
        to.write(data)
        flights.push({ conn, dir, bytes: data.byteLength, arrived, delivered: clock() })
      }
      if (queue.length > 0) timer = setTimeout(drain, Math.max(0, queue[0].at - clock()))
    }
    const push = (data?: Buffer): void => {
      const arrived = clock()
      queue.push({ data, at: arrived + proxy.rttMs / 2, arrived })
      if (timer == null) {
        if (proxy.rttMs === 0) drain()
        else timer = setTimeout(drain, proxy.rttMs / 2)
      }
    }
    from.on('data', (data: Buffer) => { push(data) })
    from.on('end', () => { push() })
  }

  const server: Server = createServer({ allowHalfOpen: true, noDelay: true }, client => {
    const conn = nextConn++
    const upstream = createConnection({ host: options.host, port: options.port, allowHalfOpen: true, noDelay: true })
    for (const socket of [client, upstream]) {
      sockets.add(socket)
      socket.on('error', () => { client.destroy(); upstream.destroy() })
      socket.on('close', () => { sockets.delete(socket); client.destroy(); upstream.destroy() })
    }
    pipe(conn, 'up', client, upstream)
    pipe(conn, 'down', upstream, client)
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  proxy.port = (server.address() as AddressInfo).port
  return proxy
}

/** A chunk with the level `levels` gave it */
export interface LeveledFlight extends Flight { level: number }

/**
 * Levels of the chunks that arrived at or after `from` and were delivered by `to` (epoch ms): 1 + the highest
 * level among those delivered before the chunk arrived. The highest level is the number of sequential half
 * trips between `from` and `to`.
 */
export function levels (flights: Flight[], from = -Infinity, to = Infinity): LeveledFlight[] {
  const window = flights.filter(f => f.arrived >= from && f.delivered <= to).sort((a, b) => a.arrived - b.arrived)
  const delivered = [...window].sort((a, b) => a.delivered - b.delivered)
  const out: LeveledFlight[] = []
  const levelOf = new Map<Flight, number>()
  let seen = 0
  let highest = 0
  for (const flight of window) {
    // every chunk delivered before this one arrived has its level already: it arrived earlier still
    while (seen < delivered.length && delivered[seen].delivered <= flight.arrived) highest = Math.max(highest, levelOf.get(delivered[seen++]) ?? 0)
    const level = highest + 1
    levelOf.set(flight, level)
    out.push({ ...flight, level })
  }
  return out
}

/**
 * The chunks up to the first time nothing was in flight through the proxy for `idleMs`: what comes after such a
 * pause waited on something else (ICE and DTLS go around the relay) and is not on the operation's relay path
 * (a relay's periodic traffic, identify after the link is up)
 */
export function untilIdle<T extends Flight> (flights: T[], idleMs: number): T[] {
  const byArrival = [...flights].sort((a, b) => a.arrived - b.arrived)
  let busyUntil = -Infinity
  const out: T[] = []
  for (const f of byArrival) {
    if (out.length > 0 && f.arrived - busyUntil >= idleMs) break
    out.push(f)
    busyUntil = Math.max(busyUntil, f.delivered)
  }
  return out
}

/**
 * Sequential half trips between `from` and `to`, and the round trips that makes (half of it): the highest level
 * among the chunks delivered to a client (the caller learns its outcome from the server: what a client sends
 * after that, its identify answer say, is not on the path); with `idleMs`, only up to the first pause that long
 * (untilIdle)
 */
export function roundTrips (flights: Flight[], from = -Infinity, to = Infinity, idleMs = Infinity): { halfTrips: number, roundTrips: number } {
  const halfTrips = untilIdle(levels(flights, from, to), idleMs).reduce((max, f) => f.dir === 'down' ? Math.max(max, f.level) : max, 0)
  return { halfTrips, roundTrips: halfTrips / 2 }
}

/** One line per level: which connections carried what (`1↑ 120 B`), for profiling where the round trips go */
export function describeLevels (flights: LeveledFlight[]): string {
  const byLevel = new Map<number, LeveledFlight[]>()
  for (const f of flights) byLevel.set(f.level, [...(byLevel.get(f.level) ?? []), f])
  const t0 = flights[0]?.arrived ?? 0
  return [...byLevel].sort((a, b) => a[0] - b[0]).map(([level, fs]) => {
    const parts = new Map<string, number>()
    for (const f of fs) parts.set(`${f.conn}${f.dir === 'up' ? '↑' : '↓'}`, (parts.get(`${f.conn}${f.dir === 'up' ? '↑' : '↓'}`) ?? 0) + f.bytes)
    return `${String(level).padStart(3)} +${(fs[0].arrived - t0).toFixed(0).padStart(5)} ms  ${[...parts].map(([k, b]) => `${k} ${b} B`).join(', ')}`
  }).join('\n')
}
