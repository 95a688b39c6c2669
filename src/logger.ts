// libp2p's debug logging, only when it is asked for. libp2p builds a logger (three `debug` instances) for
// every component, connection and stream even when every namespace is disabled; with logging off (the
// usual case) a logger that does nothing costs nothing to make.
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
