import { describe, expect, it } from 'vitest'
import { protocolIds, versionOf } from './protocols.ts'

describe('versioned protocols', () => {
  it('offers versions highest first, whatever order they were given in', () => {
    expect(protocolIds('/app/chat', ['1.1.0', '2.0.0', '1.10.0', '1'])).toEqual(['/app/chat/2.0.0', '/app/chat/1.10.0', '/app/chat/1.1.0', '/app/chat/1'])
  })

  it('uses the protocol as it is without versions', () => {
    expect(protocolIds('/app/echo/1.0.0')).toEqual(['/app/echo/1.0.0'])
  })

  it('reads the version back from a negotiated id', () => {
    expect(versionOf('/app/chat', '/app/chat/1.1.0')).toBe('1.1.0')
    expect(versionOf('/app/chat/', '/app/chat/2.0.0')).toBe('2.0.0')
    expect(versionOf('/app/chat', '/other/1.0.0')).toBeUndefined()
  })

  it('names bad protocols and versions', () => {
    expect(() => protocolIds('app/chat')).toThrow(/must be a string starting with "\/"/)
    expect(() => protocolIds('/app/chat', [])).toThrow(/non-empty array/)
    expect(() => protocolIds('/app/chat', ['v2'])).toThrow(/"v2"/)
  })
})
