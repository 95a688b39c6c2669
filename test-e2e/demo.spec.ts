// The demo chat as people use it: `npm start` (relay + page), two Chromium processes and a Firefox on one
// invite link, chatting both ways, a 1 MiB file shared to the room (peer.share, fetched after consent), and a reload that keeps who you are.
import { spawn } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { test, expect } from './fixtures.ts'
import type { Page } from '@playwright/test'

const START = fileURLToPath(new URL('../demo/start.js', import.meta.url))

async function shot (page: Page, name: string, testInfo: any): Promise<void> {
  await testInfo.attach(name, { body: await page.screenshot({ fullPage: true }), contentType: 'image/png' })
}

test('npm start: three browsers on one room link see each other directly, chat, share a 1 MiB file, and keep their identity', async ({ launch }, testInfo) => {
  const child = spawn(process.execPath, [START], {
    env: { ...process.env, PORT: '0', PEERLANE_RELAY_PORT: '0', PEERLANE_RELAY_HTTP_PORT: '0', PEERLANE_RELAY_KEY_FILE: testInfo.outputPath('relay.key') },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let output = ''
  child.stdout.on('data', (d: Buffer) => { output += d.toString() })
  child.stderr.on('data', (d: Buffer) => { output += d.toString() })
  try {
    await expect.poll(() => /Peerlane chat: (\S+)/.exec(output)?.[1], { timeout: 30_000 }).toBeTruthy()
    const url = (/Peerlane chat: (\S+)/.exec(output)?.[1] as string).replace(/#.*$/, '#team-room')

    const errors: string[] = []
    const open = async (browser: Awaited<ReturnType<typeof launch>>, name: string, viewport = { width: 1100, height: 760 }): Promise<Page> => {
      const page = await (await browser.newContext({ viewport })).newPage()
      page.on('console', m => { if (m.type() === 'error') errors.push(`${name}: ${m.text()}`) })
      page.on('pageerror', e => { errors.push(`${name}: ${e.message}`) })
      // the demo asks before it fetches a shared file: yes; every other dialog: no
      page.on('dialog', d => { void (d.message().endsWith('Fetch it?') ? d.accept() : d.dismiss()) })
      await page.goto(url)
      if (!await page.getByLabel('Nickname').isVisible()) await page.locator('#you summary').click()
      await page.getByLabel('Nickname').fill(name)
      await page.getByLabel('Nickname').dispatchEvent('change')
      return page
    }
    const [chromeA, chromeB, fox] = await Promise.all([launch('chromium'), launch('chromium'), launch('firefox')])
    const alice = await open(chromeA, 'alice')
    const bob = await open(chromeB, 'bob', { width: 390, height: 844 }) // a phone-sized screen
    const carol = await open(fox, 'carol')
    const pages = [alice, bob, carol]

    // everyone lists the two others, each with a "direct" badge
    for (const page of pages) {
      await expect(page.locator('#peers .badge.direct')).toHaveCount(2, { timeout: 45_000 })
      await expect(page.locator('#room-name')).toHaveValue('team-room')
    }
    for (const page of pages) await expect(page.locator('#peers')).toContainText(page === alice ? 'bob' : 'alice', { timeout: 15_000 })
    await shot(alice, 'alice: three members, direct links', testInfo)
    await shot(bob, 'bob: phone-sized screen', testInfo)

    // chat both ways
    await alice.getByRole('textbox', { name: 'Message' }).fill('hello from alice')
    await alice.getByRole('button', { name: 'Send', exact: true }).click()
    await expect(bob.locator('#messages')).toContainText('hello from alice')
    await expect(carol.locator('#messages')).toContainText('hello from alice')
    await carol.getByRole('textbox', { name: 'Message' }).fill('hi alice, carol here (firefox)')
    await carol.getByRole('textbox', { name: 'Message' }).press('Enter')
    await expect(alice.locator('#messages')).toContainText('hi alice, carol here (firefox)')
    await expect(bob.locator('#messages')).toContainText('hi alice, carol here (firefox)')
    await expect(alice.locator('#messages li.mine')).toContainText('hello from alice')
    await expect(alice.locator('#messages li:not(.mine):not(.system) .who').last()).toHaveText('carol')

    // a 1 MiB file from bob to the room: alice and carol get the same bytes
    const file = randomBytes(1024 * 1024)
    const digest = createHash('sha256').update(file).digest('hex')
    await bob.locator('#file').setInputFiles({ name: 'data.bin', mimeType: 'application/octet-stream', buffer: file })
    await expect(bob.locator('#messages')).toContainText('shared: members who accept it', { timeout: 60_000 })
    for (const page of [alice, carol]) {
      const link = page.getByRole('link', { name: 'Download data.bin' })
      await expect(link).toBeVisible({ timeout: 60_000 })
      const received = await page.evaluate(async (href) => {
        const bytes = await (await fetch(href)).arrayBuffer()
        return [...new Uint8Array(await crypto.subtle.digest('SHA-256', bytes))].map(b => b.toString(16).padStart(2, '0')).join('')
      }, await link.getAttribute('href') as string)
      expect(received).toBe(digest)
    }
    const download = await Promise.all([alice.waitForEvent('download'), alice.getByRole('link', { name: 'Download data.bin' }).click()])
    expect(createHash('sha256').update(readFileSync(await download[0].path())).digest('hex')).toBe(digest)
    await shot(alice, 'alice: chat and a received file', testInfo)

    // a reload keeps the nickname and the PeerId
    const before = await alice.locator('#me-id').textContent()
    await alice.reload()
    await expect(alice.getByLabel('Nickname')).toHaveValue('alice')
    await expect(alice.locator('#me-id')).toHaveText(before as string, { timeout: 30_000 })
    await expect(alice.locator('#me-relay')).toContainText('reachable through')
    await shot(alice, 'alice: the You panel after a reload', testInfo)

    // the room's history: alice after her reload (from her browser's store), and dave, who opens the link
    // now, see what was said before, above the line that says so (the file as a line, not offered again);
    // alice's own messages are hers
    const dave = await open(chromeA, 'dave')
    for (const page of [alice, dave]) {
      await expect(page.locator('#messages li.earlier')).toHaveText([/hello from alice/, /hi alice, carol here \(firefox\)/, /shared "data\.bin" \(1\.0 MiB\) earlier/], { timeout: 30_000 })
      await expect(page.locator('#messages li.earlier + li.divider')).toHaveCount(1)
    }
    await expect(alice.locator('#messages li.earlier.mine')).toContainText('hello from alice')
    await expect(dave.locator('#messages li.earlier .who')).toHaveText(['alice', 'carol', /.+/])
    await shot(dave, 'dave: the room\'s earlier messages', testInfo)

    expect(errors).toEqual([])
  } finally {
    child.kill('SIGTERM')
  }
})
