// `npm run lint` (part of `npm test`): neostandard, the ESLint flat config of the standard style with
// typescript-eslint, which is how this code is written (js-libp2p runs the same family through aegir).
import neostandard from 'neostandard'

export default [
  ...neostandard({ ts: true, ignores: ['**/dist/**', '**/dist-test/**', 'docs/api/**', 'test-results/**', 'playwright-report/**', 'src/pb/*.ts'] }),
  {
    rules: {
      // `void promise` as a statement marks a promise deliberately left to run (its errors are handled inside)
      'no-void': ['error', { allowAsStatement: true }],
      // a short object literal may be written across lines (a table of options) without one property per line
      '@stylistic/object-property-newline': 'off'
    }
  },
  {
    // prom-client registers a metric with its registry when it is constructed
    files: ['relay-server/metrics.ts'],
    rules: { 'no-new': 'off' }
  },
  {
    // run in a browser page
    files: ['bench/page*.js'],
    languageOptions: { globals: { RTCPeerConnection: 'readonly' } }
  },
  {
    files: ['test-e2e/fixtures.ts', 'test-e2e/webkit.spec.ts'],
    // Playwright reads a fixture's dependencies from its first parameter, which must be an object pattern
    rules: { 'no-empty-pattern': 'off' }
  }
]
