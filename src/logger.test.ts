import { afterEach, describe, expect, it, vi } from 'vitest'
import { libp2pLogger } from './logger.ts'

describe('libp2pLogger', () => {
  afterEach(() => { vi.unstubAllEnvs(); vi.unstubAllGlobals() })

  it('is silent, and makes nothing per component or scope, when no debug logging is set', () => {
    vi.stubEnv('DEBUG', undefined)
    const logger = libp2pLogger()
    expect(logger).toBeDefined()
    const log = logger!.forComponent('libp2p:test')
    expect(log.enabled).toBe(false)
    expect(log.newScope('stream')).toBe(log)
    expect(logger!.forComponent('other')).toBe(log)
    expect(() => { log('x %s', 1); log.error('e'); log.trace('t') }).not.toThrow()
  })

  it('leaves libp2p its own loggers when DEBUG is set (Node)', () => {
    vi.stubEnv('DEBUG', 'libp2p:*')
    expect(libp2pLogger()).toBeUndefined()
  })

  it('leaves libp2p its own loggers when localStorage.debug is set (browsers)', () => {
    vi.stubEnv('DEBUG', undefined)
    vi.stubGlobal('process', undefined)
    vi.stubGlobal('localStorage', { getItem: (key: string) => key === 'debug' ? 'libp2p:webrtc*' : null })
    expect(libp2pLogger()).toBeUndefined()
  })

  it('is silent where localStorage throws (a sandboxed frame)', () => {
    vi.stubGlobal('process', undefined)
    vi.stubGlobal('localStorage', { getItem: () => { throw new Error('SecurityError') } })
    expect(libp2pLogger()?.forComponent('x').enabled).toBe(false)
  })
})
