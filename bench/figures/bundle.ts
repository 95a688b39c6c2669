// bundle: gzip, brotli and minified bytes of dist/peerlane.min.js next to the stock js-libp2p bundle with the
// same features (bench/stock/entry.ts, built by bench/vite.stock.config.ts). No browser.
import { join } from 'node:path'
import { ROOT } from '../../test-e2e/support.ts'
import { bundleSize } from '../bundle-size.ts'
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
  return [
    make('bundle.gzip', 'gzip', 'bundle, gzip -9', [{ kind: 'median', value: 160_000, text: '≤ 160 KB gzip' }]),
    make('bundle.brotli', 'brotli', 'bundle, brotli -q 11'),
    make('bundle.minified', 'bytes', 'bundle, minified (uncompressed)')
  ]
}
