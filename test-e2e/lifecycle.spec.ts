// A page users put in the background: Chromium hides it, throttles its timers and may freeze it (Page
// Lifecycle API), so its presence beacons stop. The others must keep it (no flapping) and hear it again
// when it resumes.
import { expect, openPage, test } from './fixtures.ts'
import { joinRoom, send, startPeer, waitForMessage, waitForRoomPeers } from './peer-page.ts'
import { MEMBER_TIMEOUT_MS } from '../src/presence.ts'
import type { Page } from '@playwright/test'

/** What a browser does when the user switches tabs: the page becomes hidden (headless pages never are on their own) */
async function setHidden (page: Page, hidden: boolean): Promise<void> {
  await page.evaluate((hidden) => {
    Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => hidden ? 'hidden' : 'visible' })
    Object.defineProperty(document, 'hidden', { configurable: true, get: () => hidden })
    document.dispatchEvent(new Event('visibilitychange'))
  }, hidden)
}

test('a hidden, then frozen tab stays in the room for the others past the member timeout, and is heard again when it resumes', async ({ relay, launch, pageUrl }) => {
  const [chromeA, chromeB] = await Promise.all([launch('chromium'), launch('chromium')])
  const [pa, pb] = await Promise.all([openPage(chromeA, pageUrl), openPage(chromeB, pageUrl)])
  const [A, B] = await Promise.all([pa, pb].map(async page => startPeer(page, [relay.address])))
  await Promise.all([pa, pb].map(async page => joinRoom(page, 'background')))
  await waitForRoomPeers(pa, 'background', [B.id])
  await waitForRoomPeers(pb, 'background', [A.id])
  await pa.evaluate(() => {
    const w = window as any
    w.left = []
    w.rooms.background.addEventListener('peer:leave', (e: CustomEvent) => { w.left.push(e.detail.peerId) })
  })

  // B goes to the background and Chromium freezes it: no timers, no beacons. Headless Chromium never hides
  // a page, and ignores Page.setWebLifecycleState 'frozen' for a visible one (measured here: its timers kept
  // running, no freeze event), so the debugger stops the page's script instead: nothing of it runs
  await setHidden(pb, true)
  await pb.waitForTimeout(1_500) // hidden for a second (a closing tab is hidden first, too), then the beacon says so
  const cdp = await pb.context().newCDPSession(pb)
  await cdp.send('Page.setWebLifecycleState', { state: 'frozen' })
  await cdp.send('Debugger.enable')
  await cdp.send('Debugger.pause')
  await pa.waitForTimeout(MEMBER_TIMEOUT_MS + 2_000)
  expect(await pa.evaluate(() => (window as any).rooms.background.peers)).toEqual([B.id])
  expect(await pa.evaluate(() => (window as any).left)).toEqual([])

  // back to the foreground: messages flow both ways again, and B never left
  await cdp.send('Debugger.resume')
  await cdp.send('Page.setWebLifecycleState', { state: 'active' })
  await setHidden(pb, false)
  await send(pb, 'background', 'back from the background')
  await waitForMessage(pa, 'background', 'back from the background')
  await send(pa, 'background', 'welcome back')
  await waitForMessage(pb, 'background', 'welcome back')
  expect(await pa.evaluate(() => (window as any).left)).toEqual([])
  await waitForRoomPeers(pb, 'background', [A.id])
})
