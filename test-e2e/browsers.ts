// Launch options for the browsers the end-to-end tests drive. Playwright's own builds are used where they
// are installed (a normal dev machine); otherwise Debian's chromium and firefox-esr (this CI machine).
import { existsSync } from 'node:fs'
import { chromium, firefox } from '@playwright/test'
import type { LaunchOptions } from '@playwright/test'

export const DEBIAN_CHROMIUM = '/usr/bin/chromium'
export const DEBIAN_FIREFOX = '/usr/bin/firefox-esr'

const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  // keep the browser off the (closed) network: only our local servers resolve
  '--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1'
]

const FIREFOX_PREFS = {
  // without this, host candidates are .local mDNS names that the other browser cannot resolve here
  'media.peerconnection.ice.obfuscate_host_addresses': false
}

function hasOwn (executablePath: () => string): boolean {
  try {
    return existsSync(executablePath())
  } catch {
    return false
  }
}

let disableFeatures: Promise<string> | undefined

/**
 * Playwright passes its own --disable-features list and Chromium honours only the last such flag, so ours
 * must be merged into Playwright's. The list is read from chrome://version of a default launch, once.
 */
async function playwrightDisableFeatures (executablePath?: string): Promise<string> {
  disableFeatures ??= (async () => {
    const browser = await chromium.launch({ executablePath, args: CHROMIUM_ARGS })
    try {
      const page = await browser.newPage()
      await page.goto('chrome://version')
      const commandLine = await page.locator('#command_line').innerText()
      return /--disable-features=(\S+)/.exec(commandLine)?.[0] ?? ''
    } finally {
      await browser.close()
    }
  })()
  return await disableFeatures
}

export async function chromiumLaunchOptions (): Promise<LaunchOptions> {
  const executablePath = hasOwn(() => chromium.executablePath()) ? undefined : DEBIAN_CHROMIUM
  const theirs = await playwrightDisableFeatures(executablePath)
  // headless Chromium hides host candidates behind mDNS names, which nothing here resolves: no STUN, no mDNS
  const ours = 'WebRtcHideLocalIpsWithMdns'
  return {
    executablePath,
    args: [...CHROMIUM_ARGS, theirs === '' ? `--disable-features=${ours}` : `${theirs},${ours}`],
    ignoreDefaultArgs: theirs === '' ? undefined : [theirs]
  }
}

export function firefoxLaunchOptions (): LaunchOptions & { channel?: string } {
  return hasOwn(() => firefox.executablePath())
    ? { firefoxUserPrefs: FIREFOX_PREFS }
    : { channel: 'moz-firefox', executablePath: DEBIAN_FIREFOX, firefoxUserPrefs: FIREFOX_PREFS }
}
