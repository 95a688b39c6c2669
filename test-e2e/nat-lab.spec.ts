// The NAT lab behaves like the NATs it claims: coturn answers STUN Binding in the public namespace on two
// ports, and each NATed host asks both from ONE socket. No browsers here (see nat/lab.ts for those).
import { spawn } from 'node:child_process'
import { createServer } from 'node:net'
import { test, expect } from '@playwright/test'
import { createLab } from './nat/lab.ts'
import { labSupport, removeStaleLabs } from './nat/support.ts'
import { stunBinding } from './stun-client.ts'
import type { RemoteUdpSocket } from './nat/agent.ts'
import type { Lab } from './nat/lab.ts'
import type { AddressInfo } from 'node:net'

const support = labSupport({ commands: ['turnserver'] })
test.skip(!support.ok, support.ok ? '' : support.reason)

const PORT_A = 3478
const PORT_B = 3479
let lab: Lab

async function namespaces (): Promise<string[]> {
  const out = await new Promise<string>((resolve, reject) => {
    const p = spawn('ip', ['netns', 'list'])
    let s = ''
    p.stdout.setEncoding('utf8').on('data', (d: string) => { s += d })
    p.on('error', reject).on('close', () => resolve(s))
  })
  return out.split('\n').map(l => l.split(' ')[0]).filter(Boolean)
}

async function withSocket<T> (target: string, fn: (s: RemoteUdpSocket) => Promise<T>, opts?: { address?: string }): Promise<T> {
  const s = await lab.udpSocket(target, opts)
  try {
    return await fn(s)
  } finally {
    await s.close()
  }
}

function host (name: string): NonNullable<ReturnType<Lab['hosts']['get']>> {
  const h = lab.hosts.get(name)
  if (h == null) throw new Error(`no host ${name}`)
  return h
}

test.beforeAll(async () => {
  await removeStaleLabs()
  lab = await createLab()
  try {
    await Promise.all([
      lab.addHost('cone1', { nat: 'cone' }),
      lab.addHost('cone2', { nat: 'cone' }),
      lab.addHost('sym', { nat: 'symmetric' }),
      lab.addHost('blocked', { nat: 'block-udp' }),
      lab.addHost('public', { nat: 'none' }),
      lab.addHost('officeA', { nat: 'cone', lan: 'office' }),
      lab.addHost('officeB', { nat: 'cone', lan: 'office' })
    ])
    await lab.startCoturn({ ports: [PORT_A, PORT_B] })
  } catch (err) {
    await lab.close()
    throw err
  }
})

test.afterAll(async () => {
  await lab?.close()
})

test('cone: one mapping for every destination, on the router\'s public address; inbound filtered by address and port', async () => {
  await withSocket('cone1', async s => {
    const a = await stunBinding(s, lab.serverAddress, PORT_A)
    const b = await stunBinding(s, lab.serverAddress, PORT_B)
    expect(a).toBeDefined()
    expect(a?.address).toBe(host('cone1').publicAddress)
    expect(b).toEqual(a)
    const mapped = a!

    // unsolicited: from the server's address on another port, and from another address on the STUN port
    await withSocket('pub', async stranger => {
      stranger.send(Buffer.from('unsolicited'), mapped.port, mapped.address)
      expect(await s.receive(300)).toBeUndefined()
    }, { address: lab.serverAddress })
    await withSocket('pub', async stranger => {
      stranger.send(Buffer.from('unsolicited'), mapped.port, mapped.address)
      expect(await s.receive(300)).toBeUndefined()
    }, { address: lab.secondServerAddress })

    // solicited: a third destination sees the same mapping, and its answer gets in
    await withSocket('pub', async peer => {
      s.send(Buffer.from('hello'), peer.localPort, lab.serverAddress)
      const got = await peer.receive(1000)
      expect(got && { address: got.address, port: got.port }).toEqual(mapped)
      peer.send(Buffer.from('welcome'), mapped.port, mapped.address)
      const back = await s.receive(1000)
      expect(back?.data.toString()).toBe('welcome')
      expect(back && { address: back.address, port: back.port }).toEqual({ address: lab.serverAddress, port: peer.localPort })
    }, { address: lab.serverAddress })
  })
})

test('cone: a packet that reaches the router before the host sent to its sender makes the router pick another port for that sender', async () => {
  // Linux conntrack: the unsolicited packet leaves an entry whose reply tuple is exactly what the host's
  // flow to that sender would map to, so masquerade has to choose a new port (ICE sees a peer-reflexive one)
  await withSocket('cone1', async s => {
    const mapped = await stunBinding(s, lab.serverAddress, PORT_A)
    expect(mapped).toBeDefined()
    await withSocket('pub', async peer => {
      peer.send(Buffer.from('early'), mapped!.port, mapped!.address)
      expect(await s.receive(300)).toBeUndefined()
      s.send(Buffer.from('hello'), peer.localPort, lab.serverAddress)
      const got = await peer.receive(1000)
      expect(got?.address).toBe(mapped!.address)
      expect(got?.port).not.toBe(mapped!.port)
    }, { address: lab.serverAddress })
  })
})

test('symmetric: a new mapped port for every destination', async () => {
  await withSocket('sym', async s => {
    const a = await stunBinding(s, lab.serverAddress, PORT_A)
    const b = await stunBinding(s, lab.serverAddress, PORT_B)
    expect(a?.address).toBe(host('sym').publicAddress)
    expect(b?.address).toBe(host('sym').publicAddress)
    expect(b?.port).not.toBe(a?.port)
    // and the mapping for one destination stays put
    expect(await stunBinding(s, lab.serverAddress, PORT_A)).toEqual(a)
  })
})

test('block-udp: STUN gets no answer, TCP to the same server works', async () => {
  await withSocket('blocked', async s => {
    const [a, b] = await Promise.all([stunBinding(s, lab.serverAddress, PORT_A), stunBinding(s, lab.serverAddress, PORT_B)])
    expect(a).toBeUndefined()
    expect(b).toBeUndefined()
  })
  expect(await lab.tcpConnect('blocked', lab.serverAddress, PORT_A)).toBe('connected')
  const web = await lab.httpServer('pub', { address: lab.serverAddress })
  try {
    const page = await lab.fetch('blocked', `http://${lab.serverAddress}:${web.port}/`)
    expect(page.status).toBe(200)
    expect(page.body).toContain('<p id="where">pub</p>')
  } finally {
    await web.close()
  }
})

test('none: the mapped address is the host\'s own', async () => {
  await withSocket('public', async s => {
    const a = await stunBinding(s, lab.serverAddress, PORT_A)
    const b = await stunBinding(s, lab.serverAddress, PORT_B)
    expect(a).toEqual({ address: host('public').address, port: s.localPort })
    expect(b).toEqual(a)
  })
})

test('one LAN behind one router: hosts share its public address and reach each other privately', async () => {
  const [a, b] = await Promise.all(['officeA', 'officeB'].map(async name =>
    await withSocket(name, async s => await stunBinding(s, lab.serverAddress, PORT_A))))
  expect(a?.address).toBe(host('officeA').publicAddress)
  expect(b?.address).toBe(a?.address)
  expect(host('officeA').address).not.toBe(host('officeB').address)
  const srv = await lab.tcpServer('officeB')
  try {
    expect(await lab.tcpConnect('officeA', host('officeB').address, srv.port)).toBe('connected')
  } finally {
    await srv.close()
  }
})

test('isolation: no host reaches another LAN\'s private addresses, another namespace\'s loopback, or a NATed host unsolicited', async () => {
  const servers = await Promise.all([lab.tcpServer('cone2'), lab.tcpServer('officeB'), lab.tcpServer('pub', { address: '127.0.0.1' })])
  const [cone2, officeB, pubLoopback] = servers
  const root = createServer(c => c.end('root\n'))
  await new Promise<void>(resolve => root.listen(0, '127.0.0.1', resolve))
  try {
    const rootPort = (root.address() as AddressInfo).port
    const [toCone2, toOffice, fromPublic, toPubLoopback, toRootLoopback, inPub] = await Promise.all([
      lab.tcpConnect('cone1', host('cone2').address, cone2.port, 500),
      lab.tcpConnect('cone1', host('officeB').address, officeB.port, 500),
      lab.tcpConnect('public', host('cone2').publicAddress, cone2.port, 500),
      lab.tcpConnect('cone1', '127.0.0.1', pubLoopback.port, 500),
      lab.tcpConnect('cone1', '127.0.0.1', rootPort, 500),
      lab.tcpConnect('pub', '127.0.0.1', pubLoopback.port, 500)
    ])
    expect(toCone2).not.toBe('connected')
    expect(toOffice).not.toBe('connected')
    expect(fromPublic).not.toBe('connected')
    expect(toPubLoopback).toBe('ECONNREFUSED')
    expect(toRootLoopback).toBe('ECONNREFUSED')
    expect(inPub).toBe('connected') // the control: that loopback server does listen
  } finally {
    root.close()
    await Promise.all(servers.map(async s => await s.close()))
  }
})

test('the browser wrapper runs its executable inside the host\'s namespace and keeps Playwright\'s pipe fds', async () => {
  const wrapper = lab.wrapper('cone1', process.execPath)
  const child = spawn(wrapper, ['-e', 'require(\'node:fs\').writeSync(3, JSON.stringify(require(\'node:os\').networkInterfaces()))'],
    { stdio: ['ignore', 'ignore', 'inherit', 'pipe'] })
  let out = ''
  const pipe = child.stdio[3] as NodeJS.ReadableStream
  pipe.setEncoding('utf8')
  pipe.on('data', (d: string) => { out += d })
  await new Promise(resolve => child.on('close', resolve))
  const addresses = Object.values(JSON.parse(out) as Record<string, Array<{ address: string }>>).flat().map(a => a.address).sort()
  expect(addresses).toEqual([host('cone1').address, '127.0.0.1'].sort())
  expect(lab.browserCommand('cone1')).toEqual([expect.stringMatching(/(^|\/)ip$/), 'netns', 'exec', host('cone1').namespace, '/usr/bin/chromium'])
})

test('close() kills the lab\'s processes and removes its namespaces; removeStaleLabs() removes a crashed lab\'s only', async () => {
  const other = await createLab()
  let sleeper: number | undefined
  try {
    await other.addHost('x', { nat: 'symmetric' })
    await other.addHost('y', { nat: 'none' })
    sleeper = other.spawn('x', 'sleep', ['60'], { stdio: 'ignore' }).pid
    expect((await namespaces()).filter(ns => ns.startsWith(other.prefix)).sort())
      .toEqual([`${other.prefix}h-x`, `${other.prefix}h-y`, `${other.prefix}pub`, `${other.prefix}r-x`])
  } finally {
    await other.close()
  }
  await other.close() // idempotent
  expect((await namespaces()).filter(ns => ns.startsWith(other.prefix))).toEqual([])
  expect(() => process.kill(sleeper!, 0)).toThrow()
  await expect(other.addHost('z', { nat: 'cone' })).rejects.toThrow(/closed/)

  // a crashed run's namespace (no owner alive), with a process still inside it
  const stale = `pl${other.prefix.slice(2, 6) === 'ffff' ? 'fffe' : 'ffff'}-h-stale`
  await new Promise((resolve, reject) => spawn('ip', ['netns', 'add', stale]).on('error', reject).on('close', resolve))
  const orphan = spawn('ip', ['netns', 'exec', stale, 'sleep', '60'], { stdio: 'ignore', detached: true })
  orphan.unref()
  await new Promise(resolve => setTimeout(resolve, 50))
  const removed = await removeStaleLabs()
  expect(removed).toContain(stale)
  expect(removed.filter(ns => ns.startsWith(lab.prefix))).toEqual([]) // the live lab is left alone
  expect((await namespaces()).filter(ns => ns === stale)).toEqual([])
  await new Promise(resolve => setTimeout(resolve, 50))
  expect(orphan.exitCode ?? orphan.signalCode).not.toBeNull()
})
