import { defineConfig } from '@playwright/test'

// Each test starts its own relay process and the browser processes it needs (see fixtures.ts), so
// tests run one at a time: this machine has 2 cores and a test already runs three browsers.
export default defineConfig({
  testDir: '.',
  testMatch: '*.spec.ts',
  outputDir: '../test-results',
  workers: 1,
  fullyParallel: false,
  timeout: 120_000,
  expect: { timeout: 20_000 },
  // CI shares this 2-core machine: one retry absorbs a WebRTC dial that timed out under load; a real break fails twice
  retries: process.env.CI != null ? 1 : 0,
  forbidOnly: process.env.CI != null,
  reporter: [['list'], ['html', { outputFolder: '../playwright-report', open: 'never' }]]
})
