// bundle: gzip, brotli and minified bytes of dist/peerlane.min.js next to the stock js-libp2p bundle with the
// same features (bench/stock/entry.ts, built by bench/vite.stock.config.ts), and where Peerlane's bytes go, by
// package (bundle.packages, from the source map). No browser.
import { join } from 'node:path'
import { ROOT } from '../../test-e2e/support.ts'
import { bundleSize, contributorsGzip } from '../bundle-size.ts'
import { row } from '../shared.ts'
import type { Figure } from '../stats.ts'

export const PEERLANE_BUNDLE = join(ROOT, 'dist/peerlane.min.js')
export const STOCK_BUNDLE = join(ROOT, 'bench/dist/stock-libp2p.min.js')

export async function bundle (): Promise<Figure[]> {
  const ours = bundleSize(PEERLANE_BUNDLE)
  const stock = bundleSize(STOCK_BUNDLE)
  const make = (id: string, key: 'gzip' | 'brotli' | 'bytes', title: string, targets?: Figure['targets']): Figure => ({
    id,
    title,
    unit: 'bytes',
    better: 'lower',
    rows: [
      { ...row('Peerlane dist/peerlane.min.js', 'subject'), samples: [ours[key]] },
      { ...row('stock js-libp2p, same features, same build'), samples: [stock[key]] }
    ],
    targets
  })
  const packages = contributorsGzip(PEERLANE_BUNDLE)
  const top = packages.slice(0, 30)
  const rest = packages.slice(30)
  const byPackage: Figure = {
    id: 'bundle.packages',
    title: 'bundle, by package: gzip -9 of each package\'s code alone (dist/peerlane.min.js, from its source map)',
    unit: 'bytes',
    better: 'lower',
    breakdown: true,
    rows: [
      ...top.map(c => ({ ...row(c.name), samples: [c.gzip], note: `${c.bytes.toLocaleString('en')} B minified` })),
      { ...row(`${rest.length} more`), samples: [rest.reduce((sum, c) => sum + c.gzip, 0)], note: `${rest.reduce((sum, c) => sum + c.bytes, 0).toLocaleString('en')} B minified` }
    ],
    notes: ['each package compressed alone, so the rows add up to more than the bundle\'s gzip: a row is roughly what leaving that package out would save']
  }
  return [
    make('bundle.gzip', 'gzip', 'bundle, gzip -9', [{ kind: 'median', value: 120_000, text: '≤ 120 KB gzip (issue 16)' }]),
    make('bundle.brotli', 'brotli', 'bundle, brotli -q 11'),
    make('bundle.minified', 'bytes', 'bundle, minified (uncompressed)'),
    byPackage
  ]
}
