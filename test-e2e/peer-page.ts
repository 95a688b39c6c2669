// Drives window.Peerlane inside a test page, the way a user's own script would.
import type { Page } from '@playwright/test'

export interface StartedPeer {
  id: string
  addresses: string[]
  identity: string
}

export interface ReceivedMessage {
  id: string
  from: string
  text?: string
  json?: unknown
  size: number
  /** true for a message from the room's history (stored, or served by a member) */
  history?: boolean
}

/** createPeer in the page; keeps the peer and its events on window for later calls */
export async function startPeer (page: Page, relays: string[], options: Record<string, unknown> = {}): Promise<StartedPeer> {
  return await page.evaluate(async ({ relays, options }) => {
    const w = window as any
    const peer = await w.Peerlane.createPeer({ relays, ...options })
    w.peer = peer
    w.events = w.events ?? []
    for (const type of ['peer:connect', 'peer:disconnect', 'connection:direct', 'relay:reserved', 'relay:lost']) {
      peer.addEventListener(type, (e: CustomEvent) => { w.events.push({ type, detail: e.detail, wallClock: Date.now() }) })
    }
    return { id: peer.id, addresses: peer.addresses, identity: peer.identity }
  }, { relays, options })
}

/** createPeer in the page, expecting it to fail; resolves to the error's name and message */
export async function startPeerError (page: Page, options: Record<string, unknown>): Promise<{ name: string, message: string }> {
  return await page.evaluate(async (options) => {
    try {
      await (window as any).Peerlane.createPeer(options)
      return { name: 'none', message: 'createPeer resolved' }
    } catch (err: any) {
      return { name: err.name, message: err.message }
    }
  }, options)
}

/** Events the peer dispatched so far, by type */
export async function events (page: Page, type: string): Promise<any[]> {
  return await page.evaluate((type) => (window as any).events.filter((e: any) => e.type === type).map((e: any) => e.detail), type)
}

/** Joins `name` (with `peer.join` options, e.g. `{ secret }`) and records every message that arrives */
export async function joinRoom (page: Page, name: string, options: Record<string, unknown> = {}): Promise<void> {
  await page.evaluate(async ({ name, options }) => {
    const w = window as any
    const room = await w.peer.join(name, options)
    w.rooms = w.rooms ?? {}
    w.inbox = w.inbox ?? {}
    w.rooms[name] = room
    w.inbox[name] = []
    room.addEventListener('message', (e: CustomEvent) => {
      const { id, from, text, json, data, history } = e.detail
      w.inbox[name].push({ id, from, text, json, size: data.byteLength, history })
    })
  }, { name, options })
}

/** The messages room `name` delivered so far, in order */
export async function inbox (page: Page, name: string): Promise<ReceivedMessage[]> {
  return await page.evaluate((name) => (window as any).inbox[name], name)
}

/** Waits until the room lists exactly these peers (in any order) */
export async function waitForRoomPeers (page: Page, name: string, peerIds: string[], timeout = 20_000): Promise<void> {
  await page.waitForFunction(({ name, peerIds }) => {
    const peers: string[] = (window as any).rooms[name].peers
    return peers.length === peerIds.length && peerIds.every(id => peers.includes(id))
  }, { name, peerIds }, { timeout })
}

export async function send (page: Page, name: string, data: unknown): Promise<string> {
  return await page.evaluate(async ({ name, data }) => (window as any).rooms[name].send(data), { name, data })
}

/** Waits for a message whose text is `text` and resolves to it */
export async function waitForMessage (page: Page, name: string, text: string, timeout = 20_000): Promise<ReceivedMessage> {
  const handle = await page.waitForFunction(({ name, text }) => {
    return (window as any).inbox[name].find((m: any) => m.text === text)
  }, { name, text }, { timeout })
  return await handle.jsonValue() as ReceivedMessage
}

/** peer.connections() in the page */
export async function connections (page: Page): Promise<Array<{ peerId: string, direct: boolean, transport: string }>> {
  return await page.evaluate(() => (window as any).peer.connections())
}

/** peer.request(peerId, protocol, text) in the page: the answer as text, or the error's name and message */
export async function request (page: Page, peerId: string, protocol: string, text: string): Promise<{ text?: string, error?: string, name?: string }> {
  return await page.evaluate(async ({ peerId, protocol, text }) => {
    try {
      const bytes = await (window as any).peer.request(peerId, protocol, text, { signal: AbortSignal.timeout(20_000) })
      return { text: new TextDecoder().decode(bytes) }
    } catch (err: any) {
      return { name: err.name, error: err.message }
    }
  }, { peerId, protocol, text })
}
