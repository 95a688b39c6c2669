#!/usr/bin/env node
// Makes sure the end-to-end tests have a Chromium and a Firefox to drive. Playwright's own builds win where
// installed; otherwise Debian's chromium and firefox-esr, installed here with apt-get when we run as root.
import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { chromium, firefox } from '@playwright/test'

const own = (type) => { try { return existsSync(type.executablePath()) } catch { return false } }
const missing = [
  !own(chromium) && !existsSync('/usr/bin/chromium') && 'chromium',
  !own(firefox) && !existsSync('/usr/bin/firefox-esr') && 'firefox-esr'
].filter(Boolean)

if (missing.length === 0) process.exit(0)

const command = `apt-get update && apt-get install -y ${missing.join(' ')}`
const canInstall = process.getuid?.() === 0 && existsSync('/usr/bin/apt-get')
if (!canInstall) {
  console.error(`The end-to-end tests need ${missing.join(' and ')}. Install them with:\n\n  sudo ${command}\n\n` +
    'or, where Playwright can download its own browsers: npx playwright install chromium firefox')
  process.exit(1)
}

console.log(`Installing ${missing.join(' and ')} for the end-to-end tests: ${command}`)
const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env })
execFileSync('apt-get', ['install', '-y', '-qq', ...missing], { stdio: 'inherit', env })
