// Structured logs: one JSON object per line, `{ time, level, event, ...fields }`, on stdout.
// libp2p's own debug logs (DEBUG=libp2p:*) still go to stderr through the `debug` module.
import type { LogLevel } from './config.ts'

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 }

export interface RelayLogger {
  debug: (event: string, fields?: Record<string, unknown>) => void
  info: (event: string, fields?: Record<string, unknown>) => void
  warn: (event: string, fields?: Record<string, unknown>) => void
  error: (event: string, fields?: Record<string, unknown>) => void
  enabled: (level: LogLevel) => boolean
}

export function createLogger (level: LogLevel, write: (line: string) => void = line => { process.stdout.write(line) }): RelayLogger {
  const at = (lvl: Exclude<LogLevel, 'silent'>) => (event: string, fields: Record<string, unknown> = {}): void => {
    if (RANK[lvl] < RANK[level]) return
    write(JSON.stringify({ time: new Date().toISOString(), level: lvl, event, ...fields }, replacer) + '\n')
  }
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), enabled: lvl => RANK[lvl] >= RANK[level] }
}

function replacer (_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString()
  if (value instanceof Error) return { name: value.name, message: value.message }
  return value
}
