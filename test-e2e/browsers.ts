// Launch options for the browsers the end-to-end tests drive, in the settings users have: nothing that
// changes what WebRTC does (host candidates stay hidden behind mDNS names, as in every Chrome and Firefox).
// Playwright's own builds are used where they are installed (a normal dev machine); otherwise Debian's
// chromium and firefox-esr (this CI machine).
import { existsSync } from 'node:fs'
import { chromium, firefox } from '@playwright/test'
import type { LaunchOptions } from '@playwright/test'

export const DEBIAN_CHROMIUM = '/usr/bin/chromium'
export const DEBIAN_FIREFOX = '/usr/bin/firefox-esr'

/** What this closed network needs; none of these changes WebRTC */
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  // keep the browser off the (closed) network: only our local servers resolve. Chromium resolves the other
  // peer's mDNS (.local) ICE candidates through these rules too: without `EXCLUDE *.local` two pages on one LAN
  // could never use host candidates, which every user's browser can (nat/scenarios.ts measured it)
  '--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1 , EXCLUDE *.local'
]

function hasOwn (executablePath: () => string): boolean {
  try {
    return existsSync(executablePath())
  } catch {
    return false
  }
}

/** The Chromium executable: Playwright's where installed, else Debian's */
export function chromiumExecutable (): string {
  return hasOwn(() => chromium.executablePath()) ? chromium.executablePath() : DEBIAN_CHROMIUM
}

/** The Firefox executable: Playwright's where installed, else Debian's (driven as 'moz-firefox') */
export function firefoxExecutable (): string {
  return hasOwn(() => firefox.executablePath()) ? firefox.executablePath() : DEBIAN_FIREFOX
}

export async function chromiumLaunchOptions (): Promise<LaunchOptions> {
  return { executablePath: hasOwn(() => chromium.executablePath()) ? undefined : DEBIAN_CHROMIUM, args: CHROMIUM_ARGS }
}

export function firefoxLaunchOptions (): LaunchOptions & { channel?: string } {
  return hasOwn(() => firefox.executablePath()) ? {} : { channel: 'moz-firefox', executablePath: DEBIAN_FIREFOX }
}
