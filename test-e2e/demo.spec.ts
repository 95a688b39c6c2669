// The demo chat as people use it: `npm start` (relay + page), two Chromium processes and a Firefox on one
// invite link, chatting both ways, a 1 MiB file shared to the room (peer.share, fetched after consent), and a reload that keeps who you are.
import { spawn } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { fileURLToPath } from 'node:url'
import { test, expect } from './fixtures.ts'
import type { Page } from '@playwright/test'

const START = fileURLToPath(new URL('../demo/start.js', import.meta.url))

/** `npm start` on free ports: the page's URL (no hash), the relay's PeerId, and a stop function */
async function startDemo (testInfo: any): Promise<{ url: string, relayId: string, stop: () => void }> {
  const child = spawn(process.execPath, [START], {
    env: { ...process.env, PORT: '0', PEERLANE_RELAY_PORT: '0', PEERLANE_RELAY_HTTP_PORT: '0', PEERLANE_RELAY_KEY_FILE: testInfo.outputPath('relay.key') },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let output = ''
  child.stdout.on('data', (d: Buffer) => { output += d.toString() })
  child.stderr.on('data', (d: Buffer) => { output += d.toString() })
  try {
    await expect.poll(() => /Peerlane chat: (\S+)/.exec(output)?.[1], { timeout: 30_000 }).toBeTruthy()
  } catch (err) {
    child.kill('SIGTERM')
    throw err
  }
  return {
    url: (/Peerlane chat: (\S+)/.exec(output)?.[1] as string).replace(/#.*$/, ''),
    relayId: /Relay (\S+) on/.exec(output)?.[1] as string,
    stop: () => { child.kill('SIGTERM') }
  }
}

async function shot (page: Page, name: string, testInfo: any): Promise<void> {
  await testInfo.attach(name, { body: await page.screenshot({ fullPage: true }), contentType: 'image/png' })
}

test('npm start: three browsers on one room link see each other directly, chat, share a 1 MiB file, and keep their identity', async ({ launch }, testInfo) => {
  const demo = await startDemo(testInfo)
  try {
    const url = `${demo.url}#team-room`

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
    // the page's CSP allows no fetch of blob: URLs: alice's bytes are checked as she gets them (downloaded);
    // carol's page (Firefox) says every block matched its hash
    for (const page of [alice, carol]) await expect(page.getByRole('link', { name: 'Download data.bin' })).toBeVisible({ timeout: 60_000 })
    await expect(carol.locator('#messages .file')).toContainText('every block checked against its hash')
    const [download] = await Promise.all([alice.waitForEvent('download'), alice.getByRole('link', { name: 'Download data.bin' }).click()])
    expect(createHash('sha256').update(readFileSync(await download.path())).digest('hex')).toBe(digest)
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
    demo.stop()
  }
})

test('?relay= outside the configured relays is refused and not dialled; the CSP stops inline script', async ({ launch }, testInfo) => {
  const demo = await startDemo(testInfo)
  // a WebSocket "relay" on this machine that counts who dials it
  let dialled = 0
  const trap = createServer(socket => { dialled++; socket.destroy() })
  await new Promise<void>(resolve => trap.listen(0, '127.0.0.1', resolve))
  try {
    const port = (trap.address() as { port: number }).port
    const local = `/ip4/127.0.0.1/tcp/${port}/ws/p2p/${demo.relayId}`
    const remote = `/dns4/relay.invalid/tcp/443/wss/p2p/${demo.relayId}`
    const page = await (await (await launch('chromium')).newContext()).newPage()
    const sockets: string[] = []
    page.on('websocket', ws => { sockets.push(ws.url()) })
    await page.goto(`${demo.url}?relay=${encodeURIComponent(local)}&relay=${encodeURIComponent(remote)}#hostile`)
    const notice = page.locator('#relay-notice')
    await expect(notice).toBeVisible()
    await expect(notice.locator('li')).toHaveCount(2)
    await expect(notice).toContainText(local)
    await expect(notice).toContainText(remote)
    await expect(notice).toContainText('not one of this page\'s configured relays')
    // the page runs on its configured relay instead
    if (!await page.locator('#me-relay').isVisible()) await page.locator('#you summary').click()
    await expect(page.locator('#me-relay')).toContainText('reachable through', { timeout: 30_000 })
    await page.waitForTimeout(1_000)
    expect(dialled).toBe(0)
    expect(sockets.filter(u => u.includes(`:${port}`) || u.includes('relay.invalid'))).toEqual([])
    await shot(page, 'a refused ?relay=', testInfo)

    // Content-Security-Policy: markup that carries script (an inline handler, an inline <script>) does not run
    const csp = await page.evaluate(async () => {
      const w = window as any
      const violations: string[] = []
      document.addEventListener('securitypolicyviolation', e => { violations.push(e.effectiveDirective) })
      const div = document.createElement('div')
      div.innerHTML = '<img src="data:," onload="window.ranHandler = true"><img src="./missing.png" onerror="window.ranHandler = true">'
      document.body.append(div)
      const script = document.createElement('script')
      script.textContent = 'window.ranScript = true'
      document.body.append(script)
      await new Promise(resolve => setTimeout(resolve, 1_000))
      return { ranHandler: w.ranHandler === true, ranScript: w.ranScript === true, violations }
    })
    expect(csp).toMatchObject({ ranHandler: false, ranScript: false })
    expect(csp.violations).toContain('script-src-elem')
    expect(csp.violations).toContain('script-src-attr')
  } finally {
    trap.close()
    demo.stop()
  }
})

test('members joining at once get one hello, not one each; a shared HTML or SVG file only downloads', async ({ launch }, testInfo) => {
  const { createPeer } = await import('../dist/node/index.mjs' as string) as typeof import('../src/index.ts')
  const demo = await startDemo(testInfo)
  const peers: Array<Awaited<ReturnType<typeof createPeer>>> = []
  try {
    const relays = await (await fetch(new URL('./relay.json', demo.url))).json() as string[]
    const context = await (await launch('chromium')).newContext()
    const alice = await context.newPage()
    alice.on('dialog', d => { void (d.message().endsWith('Fetch it?') ? d.accept() : d.dismiss()) })
    await alice.goto(`${demo.url}#crowd`)
    await expect(alice.getByRole('textbox', { name: 'Message' })).toBeEnabled({ timeout: 30_000 })
    const aliceId = await alice.locator('#me-id').textContent() as string
    const node = async (): Promise<Awaited<ReturnType<typeof createPeer>>> => {
      const p = await createPeer({ relays, identity: 'memory', relayIceServers: false })
      peers.push(p)
      return p
    }

    // an observer in the room counts alice's hellos
    const observer = await node()
    const room = await observer.join('crowd')
    const hellos: number[] = []
    room.addEventListener('message', ({ detail }) => {
      if (detail.from === aliceId && detail.history !== true && (detail.json as any)?.kind === 'hello') hellos.push(Date.now())
    })
    await expect.poll(() => hellos.length, { timeout: 20_000 }).toBe(1) // alice answers the observer's join
    await expect(alice.locator('#peer-count')).toHaveText('1')

    // five more join at once: alice answers them with one hello (two if the joins straddle her debounce window)
    const joiners = await Promise.all([1, 2, 3, 4, 5].map(async () => await node()))
    await Promise.all(joiners.map(async p => await p.join('crowd')))
    await expect(alice.locator('#peer-count')).toHaveText('6', { timeout: 30_000 })
    await alice.waitForTimeout(4_000)
    expect(hellos.length - 1).toBeGreaterThanOrEqual(1)
    expect(hellos.length - 1).toBeLessThanOrEqual(2)

    // a hostile member shares an HTML page and an SVG with script in them: alice's page gets files to
    // download (application/octet-stream, a download link, no preview), never a document of the page's origin
    for (const [name, type, text] of [
      ['evil.html', 'text/html', '<script>opener && (opener.pwned = true); top.pwned = true</script><h1>hi</h1>'],
      ['evil.svg', 'image/svg+xml', '<svg xmlns="http://www.w3.org/2000/svg"><script>top.pwned = true</script></svg>']
    ]) {
      const ref = await observer.share(new Blob([text], { type }), { name, type })
      await room.send({ kind: 'file', nick: 'mallory', ref })
      const link = alice.getByRole('link', { name: `Download ${name}` })
      await expect(link).toBeVisible({ timeout: 30_000 })
      await expect(link).toHaveAttribute('download', name)
      await expect(alice.locator('#messages .file img')).toHaveCount(0)
      const [download] = await Promise.all([alice.waitForEvent('download'), link.click()])
      expect(readFileSync(await download.path(), 'utf8')).toBe(text)
      // opened as a page of its own (a new tab), it downloads rather than renders
      const tab = await context.newPage()
      const opened = await tab.goto(await link.getAttribute('href') as string).then(() => 'rendered', (err: Error) => err.message)
      expect(opened).toMatch(/Download is starting/)
      await tab.close()
    }
    expect(alice.url()).toBe(`${demo.url}#crowd`)
    expect(await alice.evaluate(() => (window as any).pwned)).toBeUndefined()
    await shot(alice, 'alice: hostile files, download only', testInfo)
  } finally {
    await Promise.all(peers.map(async p => await p.stop()))
    demo.stop()
  }
})
