import { afterEach, describe, expect, it, vi } from 'vitest'
import { GUARD_DEFAULTS, Guard } from './guard.ts'

describe('Guard', () => {
  afterEach(() => { vi.useRealTimers() })

  it('mutes an author after the documented number of strikes, and lowers its score per strike', () => {
    const guard = new Guard()
    for (let i = 1; i < GUARD_DEFAULTS.muteAfter; i++) {
      guard.strike('spammer')
      expect(guard.isMuted('spammer')).toBe(false)
      expect(guard.score('spammer')).toBe(i * GUARD_DEFAULTS.scorePerStrike)
    }
    guard.strike('spammer')
    expect(guard.isMuted('spammer')).toBe(true)
    expect(guard.isMuted('someone else')).toBe(false)
    expect(guard.score('someone else')).toBe(0)
  })

  it('forgets strikes after the mute period', () => {
    vi.useFakeTimers()
    const guard = new Guard()
    for (let i = 0; i < GUARD_DEFAULTS.muteAfter; i++) guard.strike('spammer')
    expect(guard.isMuted('spammer')).toBe(true)
    vi.advanceTimersByTime(GUARD_DEFAULTS.muteMs + 1)
    expect(guard.isMuted('spammer')).toBe(false)
    expect(guard.score('spammer')).toBe(0)
  })

  it('rate-limits each author per room', () => {
    const guard = new Guard()
    for (let i = 0; i < GUARD_DEFAULTS.messagesPerSecond; i++) expect(guard.allow('chatty', 'room-a')).toBe(true)
    expect(guard.allow('chatty', 'room-a')).toBe(false)
    expect(guard.allow('chatty', 'room-b')).toBe(true)
    expect(guard.allow('quiet', 'room-a')).toBe(true)
  })
})
