// `npm start` as a person uses it: the start script's relay and page, two tabs of one browser chatting directly.
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { test, expect } from './fixtures.ts'

const START = fileURLToPath(new URL('../demo/start.js', import.meta.url))

test('npm start serves a chat page where two tabs link directly and chat', async ({ launch }, testInfo) => {
  const child = spawn(process.execPath, [START], {
    env: { ...process.env, PORT: '0', PEERLANE_RELAY_PORT: '0', PEERLANE_RELAY_HTTP_PORT: '0', PEERLANE_RELAY_KEY_FILE: testInfo.outputPath('relay.key') },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let output = ''
  child.stdout.on('data', (d: Buffer) => { output += d.toString() })
  child.stderr.on('data', (d: Buffer) => { output += d.toString() })
  try {
    await expect.poll(() => /Peerlane chat: (\S+)/.exec(output)?.[1], { timeout: 30_000 }).toBeTruthy()
    const url = /Peerlane chat: (\S+)/.exec(output)?.[1] as string

    const context = await (await launch('chromium')).newContext()
    const errors: string[] = []
    const [one, two] = [await context.newPage(), await context.newPage()]
    for (const page of [one, two]) page.on('console', m => { if (m.type() === 'error') errors.push(m.text()) })
    await one.goto(url)
    await two.goto(url)

    // each tab lists the other with a "direct" badge: a WebRTC link between the two tabs
    await expect(one.locator('#peers .badge.direct')).toHaveCount(1, { timeout: 30_000 })
    await expect(two.locator('#peers .badge.direct')).toHaveCount(1, { timeout: 30_000 })
    await expect(two.locator('#me')).toContainText('temporary identity')

    await one.getByRole('textbox', { name: 'Message' }).fill('hello from tab one')
    await one.getByRole('button', { name: 'Send' }).click()
    await expect(two.locator('#messages')).toContainText('hello from tab one')
    await two.getByRole('textbox', { name: 'Message' }).fill('and back from tab two')
    await two.getByRole('textbox', { name: 'Message' }).press('Enter')
    await expect(one.locator('#messages')).toContainText('and back from tab two')
    await testInfo.attach('tab one', { body: await one.screenshot(), contentType: 'image/png' })
    expect(errors).toEqual([])
  } finally {
    child.kill('SIGTERM')
  }
})
