// libp2p's debug logging, only when it is asked for. libp2p builds a logger (three `debug` instances) for
// every component, connection and stream even when every namespace is disabled; with logging off (the
// usual case) a logger that does nothing costs nothing to make.
import { logger } from '@libp2p/logger'
import type { ComponentLogger, Logger } from '@libp2p/interface'

const silent: Logger = Object.assign(() => {}, {
  error: () => {},
  trace: () => {},
  enabled: false,
  newScope: (): Logger => silent
})

const silentLogger: ComponentLogger = { forComponent: () => silent }

/** The namespaces to log (`DEBUG` in Node, `localStorage.debug` in a browser), or '' */
function debugSetting (): string {
  try {
    if (typeof process !== 'undefined' && typeof process.env?.DEBUG === 'string') return process.env.DEBUG
    return globalThis.localStorage?.getItem('debug') ?? ''
  } catch {
    // localStorage throws in some sandboxed frames
    return ''
  }
}

/**
 * The `logger` for createLibp2p: undefined (libp2p's own, which honours `DEBUG=libp2p:*` or
 * `localStorage.debug = 'libp2p:*'`) when debug logging is set, else a silent one.
 */
export function libp2pLogger (): ComponentLogger | undefined {
  return debugSetting().trim() === '' ? silentLogger : undefined
}

/**
 * A logger for one of Peerlane's own components, `peerlane:<component>`: enabled the libp2p way
 * (`DEBUG=peerlane:*` in Node, `localStorage.debug = 'peerlane:*'` in a page), silent and free otherwise.
 * Read once, when the module loads, as libp2p's `debug` does.
 */
export function peerLogger (component: string): Logger {
  return debugSetting().trim() === '' ? silent : logger(`peerlane:${component}`)
}
