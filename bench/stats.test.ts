import { describe, expect, it } from 'vitest'
import { ownerOf } from './bundle-size.ts'
import { formatTable, quantile, summarize, targetMet } from './stats.ts'
import type { Figure } from './stats.ts'

describe('bench statistics', () => {
  it('interpolates quantiles between closest ranks', () => {
    expect(quantile([1, 2, 3, 4], 0.5)).toBe(2.5)
    expect(quantile([10], 0.95)).toBe(10)
    expect(quantile(Array.from({ length: 21 }, (_, i) => i), 0.95)).toBe(19)
    expect(quantile([], 0.5)).toBeNaN()
  })

  it('takes the bad tail as p95: high times, low throughputs', () => {
    const samples = Array.from({ length: 101 }, (_, i) => i)
    expect(summarize(samples)).toMatchObject({ n: 101, median: 50, p95: 95, min: 0, max: 100 })
    expect(summarize(samples, 'higher').p95).toBe(5)
  })

  it('checks targets on medians and on ratios to a baseline', () => {
    const figure: Figure = {
      id: 'x',
      title: 'x',
      unit: 'ms',
      better: 'lower',
      rows: [
        { name: 'us', role: 'subject', samples: [], failures: 0, summary: summarize([100, 110, 120]) },
        { name: 'raw', role: 'baseline', samples: [], failures: 0, summary: summarize([80, 90, 100]) }
      ],
      targets: [{ kind: 'median', value: 120, text: '' }, { kind: 'ratio', baseline: 'raw', value: 1.25, text: '' }, { kind: 'ratio', baseline: 'raw', value: 1.2, text: '' }]
    }
    expect(figure.targets?.map(t => targetMet(figure, t))).toEqual([true, true, false])
    expect(formatTable([figure])).toMatch(/raw\s+3\s+90\.00\s+99\.00\s+Peerlane is 1\.22× this/)
  })

  it('names the package a source-map path belongs to', () => {
    expect(ownerOf('../node_modules/@libp2p/gossipsub/dist/src/gossipsub.js')).toBe('@libp2p/gossipsub')
    expect(ownerOf('../node_modules/@chainsafe/libp2p-noise/node_modules/uint8arraylist/dist/src/index.js')).toBe('uint8arraylist')
    expect(ownerOf('../node_modules/denque/index.js')).toBe('denque')
    expect(ownerOf('../src/peer.ts')).toBe('src/peer.ts')
  })
})
