// How a browser runs inside a lab namespace yet is driven by Playwright from the root namespace: Playwright
// launches an executable we write (Lab.wrapper), which starts the browser inside the namespace.
import { chmodSync, writeFileSync } from 'node:fs'
import { IP } from './namespaces.ts'

/**
 * The body of a BiDi wrapper (see writeWrapper; IP, NS and EXE are defined above it): CommonJS run by Node in the
 * root namespace. PIPE runs inside the namespace, one per WebSocket connection: stdio ⇄ the browser's port.
 */
const BIDI_WRAPPER = String.raw`
const { spawn } = require('node:child_process')
const net = require('node:net')
const PIPE = "const c = require('node:net').connect(Number(process.argv[1]), '127.0.0.1'); process.stdin.pipe(c); c.pipe(process.stdout); c.on('error', () => process.exit(1)).on('close', () => process.exit(0))"
const browser = spawn(IP, ['netns', 'exec', NS, EXE, ...process.argv.slice(2)], { stdio: ['inherit', 'inherit', 'pipe'] })
const pipes = new Set()
let server
require('node:readline').createInterface({ input: browser.stderr }).on('line', line => {
  const m = /^WebDriver BiDi listening on ws:\/\/127\.0\.0\.1:(\d+)(.*)$/.exec(line)
  if (m == null || server != null) { process.stderr.write(line + '\n'); return }
  server = net.createServer(socket => {
    const pipe = spawn(IP, ['netns', 'exec', NS, process.execPath, '-e', PIPE, m[1]], { stdio: ['pipe', 'pipe', 'ignore'] })
    pipes.add(pipe)
    // Firefox refuses a handshake whose Host header names another port than its own: the first chunk is that request
    socket.once('data', head => {
      pipe.stdin.write(head.toString('latin1').replace(/^Host: 127\.0\.0\.1:\d+\r$/im, 'Host: 127.0.0.1:' + m[1] + '\r'), 'latin1')
      socket.pipe(pipe.stdin)
    })
    pipe.stdout.pipe(socket)
    pipe.stdin.on('error', () => {})
    socket.on('error', () => pipe.kill()).on('close', () => pipe.kill())
    pipe.on('exit', () => { pipes.delete(pipe); socket.destroy() })
  })
  server.listen(0, '127.0.0.1', () => process.stderr.write('WebDriver BiDi listening on ws://127.0.0.1:' + server.address().port + m[2] + '\n'))
}).on('close', () => {
  server?.close()
  for (const pipe of pipes) pipe.kill()
})
browser.on('exit', code => { process.exitCode = code ?? 1 })
for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP']) process.on(signal, () => browser.kill(signal))
`

/**
 * Writes `file`, an executable that starts `executable` inside namespace `ns`, for Playwright's `executablePath`.
 * Playwright drives Chromium (and its own Firefox build's Juggler) over a pipe on fds 3/4, which `ip netns exec` keeps,
 * and the wrapper execs, so the PID Playwright kills is the browser's.
 *
 * `bidi`: the browser is driven over WebDriver BiDi instead (a stock Firefox, e.g. Debian's firefox-esr with
 * `channel: 'moz-firefox'`), whose WebSocket listens on the namespace's own loopback, which Playwright cannot
 * reach. The wrapper is then a small Node process in Playwright's namespace: it starts the browser, forwards
 * that WebSocket to a port on its own loopback (each connection through a pipe into the namespace) and
 * rewrites the "WebDriver BiDi listening on" line Playwright waits for. Its helpers stay in its process group,
 * so Playwright's kill of the group ends them all.
 */
export function writeWrapper (file: string, ns: string, executable: string, bidi: boolean): string {
  const q = (s: string): string => `'${s.replaceAll("'", "'\\''")}'`
  writeFileSync(file, bidi
    ? `#!${process.execPath}\nconst [IP, NS, EXE] = ${JSON.stringify([IP, ns, executable])}\n${BIDI_WRAPPER}`
    : `#!/bin/sh\nexec ${q(IP)} netns exec ${q(ns)} ${q(executable)} "$@"\n`)
  chmodSync(file, 0o755)
  return file
}
