import { describe, expect, it } from 'vitest'
import { REPLAY_DEFAULTS, ReplayGuard } from './replay.ts'

const NOW = 1_700_000_000_000
const seqAt = (ms: number, n = 0): number => ms * 1000 + n

describe('ReplayGuard', () => {
  it('drops live messages outside the window of our clock, either way', () => {
    const guard = new ReplayGuard(2_000)
    expect(guard.check('a', NOW - 2_001, seqAt(NOW - 2_001), NOW)).toBe('old')
    expect(guard.check('a', NOW + 2_001, seqAt(NOW + 2_001), NOW)).toBe('future')
    expect(guard.check('a', NOW - 1_999, seqAt(NOW - 1_999), NOW)).toBeUndefined()
    // a version 1 envelope (no seq) is checked by its timestamp only
    expect(guard.check('old-peer', NOW, 0, NOW)).toBeUndefined()
    expect(guard.check('old-peer', NOW, 0, NOW)).toBeUndefined()
    expect(guard.check('old-peer', NOW - 3_000, 0, NOW)).toBe('old')
  })

  it('drops a sequence number seen before, and one far behind the author\'s newest; takes late copies within reorderMs', () => {
    const guard = new ReplayGuard()
    expect(guard.check('a', NOW, seqAt(NOW), NOW)).toBeUndefined()
    expect(guard.check('a', NOW, seqAt(NOW), NOW)).toBe('replayed')
    expect(guard.check('a', NOW + 20_000, seqAt(NOW + 20_000), NOW + 20_000)).toBeUndefined()
    // sent 15 s before the newest: a replay (a recorded LEAVE after its author came back, say)
    expect(guard.check('a', NOW + 5_000, seqAt(NOW + 5_000), NOW + 20_000)).toBe('replayed')
    // sent 1 s before the newest, never seen: a copy that came another way, later
    expect(guard.check('a', NOW + 19_000, seqAt(NOW + 19_000), NOW + 20_000)).toBeUndefined()
    expect(guard.check('a', NOW + 19_000, seqAt(NOW + 19_000), NOW + 20_000)).toBe('replayed')
    // other authors are their own
    expect(guard.check('b', NOW + 5_000, seqAt(NOW + 5_000), NOW + 20_000)).toBeUndefined()
  })

  it('refuses a late copy older than all it remembers once its memory of the author is full', () => {
    const guard = new ReplayGuard()
    for (let i = 1; i <= REPLAY_DEFAULTS.recent + 1; i++) expect(guard.check('a', NOW, seqAt(NOW, i * 2), NOW)).toBeUndefined()
    expect(guard.check('a', NOW, seqAt(NOW, 1), NOW)).toBe('replayed')
    expect(guard.check('a', NOW, seqAt(NOW, 2 * REPLAY_DEFAULTS.recent + 1), NOW)).toBeUndefined()
  })

  it('tracks a bounded number of authors', () => {
    const guard = new ReplayGuard()
    for (let i = 0; i < REPLAY_DEFAULTS.authors * 3; i++) guard.check(`author-${i}`, NOW, seqAt(NOW), NOW)
    expect(guard.size).toBe(REPLAY_DEFAULTS.authors)
  })
})
