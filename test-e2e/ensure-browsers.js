#!/usr/bin/env node
// Makes sure the tests have what they drive from Debian: a Chromium and a Firefox for the end-to-end
// tests (Playwright's own builds win where installed; otherwise Debian's chromium and firefox-esr),
// coturn's turnserver for the relay's TURN tests (relay-server/test/coturn.test.ts), nftables' nft, and for the
// WebKit tests (webkit.spec.ts) WebKitGTK's WebDriver (webkit2gtk-driver, which brings MiniBrowser) and xvfb-run.
// Whatever is missing is installed here with one apt-get run when we run as root.
import { execFileSync } from 'node:child_process'
import { existsSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { chromium, firefox } from '@playwright/test'

const own = (type) => { try { return existsSync(type.executablePath()) } catch { return false } }
// nft lives in /usr/sbin, which a non-root PATH may leave out
const onPath = (cmd) => [...(process.env.PATH ?? '').split(':'), '/usr/sbin', '/sbin'].some(dir => dir !== '' && existsSync(join(dir, cmd)))
const browsers = [
  !own(chromium) && !existsSync('/usr/bin/chromium') && 'chromium',
  !own(firefox) && !existsSync('/usr/bin/firefox-esr') && 'firefox-esr'
].filter(Boolean)
// WebKitWebDriver is on the PATH in Debian's package; some builds keep it beside MiniBrowser in the library folder
const libDirs = ['/usr/lib', '/usr/libexec', ...(() => { try { return readdirSync('/usr/lib').filter(d => d.endsWith('-linux-gnu')).map(d => join('/usr/lib', d)) } catch { return [] } })()]
const webkitDriver = onPath('WebKitWebDriver') || libDirs.some(lib => {
  try { return readdirSync(lib).some(d => /^webkit2?gtk-/.test(d) && existsSync(join(lib, d, 'WebKitWebDriver'))) } catch { return false }
})
const missing = [
  ...browsers,
  !onPath('turnserver') && 'coturn',
  !onPath('nft') && 'nftables',
  !webkitDriver && 'webkit2gtk-driver',
  !onPath('xvfb-run') && 'xvfb'
].filter(Boolean)

if (missing.length === 0) process.exit(0)

const command = `apt-get update && apt-get install -y ${missing.join(' ')}`
const canInstall = process.getuid?.() === 0 && existsSync('/usr/bin/apt-get')
if (!canInstall) {
  console.error(`The tests need ${missing.join(' and ')}. Install them with:\n\n  sudo ${command}\n` +
    (browsers.length > 0 ? '\nor, for the browsers, where Playwright can download its own: npx playwright install chromium firefox' : ''))
  process.exit(1)
}

console.log(`Installing ${missing.join(' and ')} for the tests: ${command}`)
const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env })
execFileSync('apt-get', ['install', '-y', '-qq', ...missing], { stdio: 'inherit', env })
