// Peerlane chat: join a room (its name is in the URL, so a link invites a friend), chat, share files
// (peer.share puts a ref in the room; whoever accepts it fetches it from every member who holds it).
// Members link to each other directly (WebRTC) on their own; the relay carries everything until then.
import { createPeer, importIdentity } from 'peerlane'
import { $, short } from './dom.ts'
import { addFile, addSystem, addText, clearMessages, nicknames } from './messages.ts'
import { chooseRelays } from './relays.ts'
import type { ConnectionInfo, ContentRef, Peer, Room, RoomMessage, Route } from 'peerlane'

/** what travels in the room, as JSON */
type DemoMessage =
  | { kind: 'hello', nick: string }
  | { kind: 'chat', nick: string, text: string }
  | { kind: 'file', nick: string, ref: ContentRef }

const NICK_KEY = 'peerlane-demo:nickname'
/** files accepted but not fetched whole yet: fetched again (only their missing blocks) after a reload */
const PENDING_KEY = 'peerlane-demo:pending-files'

const rtts = new Map<string, number>()
const routes = new Map<string, Route>()
let peer: Peer
let room: Room | undefined

function roomFromUrl (): string {
  return decodeURIComponent(location.hash.slice(1)) || 'lobby'
}

function nickname (): string {
  let nick = localStorage.getItem(NICK_KEY)
  if (nick == null || nick === '') {
    nick = `guest-${Math.floor(Math.random() * 10_000)}`
    localStorage.setItem(NICK_KEY, nick)
  }
  return nick
}

function banner (text: string, tone: 'warn' | 'ok' = 'warn', hideAfterMs?: number): void {
  const el = $('banner')
  el.textContent = text
  el.className = `banner ${tone === 'ok' ? 'ok' : ''}`
  el.hidden = false
  if (hideAfterMs != null) setTimeout(() => { if (el.textContent === text) el.hidden = true }, hideAfterMs)
}

/** The relays this page is configured with: relay.json beside it (written by demo/start.js in development, by whoever deploys the static build) */
async function configuredRelays (): Promise<string[]> {
  const res = await fetch('./relay.json').catch(() => undefined)
  const list: unknown = res?.ok === true ? await res.json().catch(() => undefined) : undefined
  if (!Array.isArray(list) || list.length === 0 || !list.every(a => typeof a === 'string')) {
    throw new Error('no relay configured: serve a relay.json (a list of relay multiaddrs) next to this page')
  }
  return list
}

/** The configured relays, or those `?relay=` picks among them; the refused ones are listed for the user, not dialled */
async function relays (): Promise<string[]> {
  const choice = chooseRelays(await configuredRelays(), new URLSearchParams(location.search).getAll('relay'))
  const notice = $('relay-notice')
  notice.replaceChildren(...choice.refused.map(({ address, reason }) => {
    const li = document.createElement('li')
    const code = document.createElement('code')
    code.className = 'mono wrap'
    code.textContent = address
    li.append('Refused relay ', code, `: ${reason}. Not dialled.`)
    return li
  }))
  notice.hidden = choice.refused.length === 0
  return choice.relays
}

// ---- rendering ----

function renderPeers (): void {
  if (room == null) return
  const links = new Map<string, ConnectionInfo>(peer.connections().map(c => [c.peerId, c]))
  const items = room.peers.map(id => {
    const li = document.createElement('li')
    li.dataset.peerId = id
    const link = links.get(id)
    const kind = link == null ? 'connecting' : link.direct ? 'direct' : 'relayed'
    // the path a direct link takes: local addresses, the NAT mappings STUN found, or a TURN server
    const route = routes.get(id)
    const via = kind === 'direct' && route === 'stun' ? ' · STUN' : kind === 'direct' && route === 'turn' ? ' · TURN' : ''
    const nick = document.createElement('span')
    nick.className = 'nick'
    nick.textContent = nicknames.get(id) ?? 'someone'
    const pid = document.createElement('span')
    pid.className = 'mono'
    pid.textContent = short(id)
    const badge = document.createElement('span')
    badge.className = `badge ${kind}${via === ' · TURN' ? ' turn' : ''}`
    badge.textContent = kind + via
    const rtt = rtts.get(id)
    badge.title = link == null
      ? 'no link yet: messages go through the relay'
      : `${link.transport === 'webrtc' ? `WebRTC, browser to browser${via === ' · STUN' ? ' through your NATs (found by STUN)' : via === ' · TURN' ? ' through a TURN server' : ''}` : link.transport === 'relay' ? 'relayed circuit' : link.transport}${rtt != null ? `, round trip ${rtt.toFixed(0)} ms` : ''}`
    badge.setAttribute('aria-label', `${kind} link: ${badge.title}`)
    li.append(nick, pid, badge)
    return li
  })
  $('peers').replaceChildren(...items)
  $('peer-count').textContent = String(items.length)
  $('peers-empty').hidden = items.length > 0
}

function renderYou (): void {
  $('me-id').textContent = peer.id
  $('me-short').textContent = short(peer.id)
  $('me-identity').textContent = peer.identity === 'indexeddb'
    ? 'saved in this browser'
    : peer.identity === 'ephemeral' ? 'temporary: another tab holds your saved identity' : peer.identity
  $('me-relay').textContent = peer.relays.map(r => `${r.reserved ? 'reachable through' : r.connected ? 'connected to (no reservation yet)' : 'reconnecting to'} ${short(r.peerId)}`).join('; ')
  $('me-addresses').replaceChildren(...peer.addresses.map(address => {
    const li = document.createElement('li')
    const code = document.createElement('code')
    code.className = 'mono wrap'
    code.textContent = address
    const button = document.createElement('button')
    button.type = 'button'
    button.className = 'copy'
    button.textContent = 'Copy'
    button.setAttribute('aria-label', `Copy address ${address}`)
    button.addEventListener('click', () => { void copy(address, button) })
    li.append(code, button)
    return li
  }))
}

async function copy (text: string, button: HTMLButtonElement): Promise<void> {
  try {
    await navigator.clipboard.writeText(text)
    button.textContent = 'Copied'
  } catch {
    button.textContent = 'Copy failed'
  }
  setTimeout(() => { button.textContent = 'Copy' }, 1500)
}

// ---- room ----

/** After joins, one hello (our nickname) answers them all: sent HELLO_DEBOUNCE_MS after the last join, and at
 * the latest HELLO_MAX_WAIT_MS after the first, so M members joining cost one hello, not M (each to N members) */
const HELLO_DEBOUNCE_MS = 1_500
const HELLO_MAX_WAIT_MS = 5_000
let hello: { timer: ReturnType<typeof setTimeout>, since: number } | undefined

function helloSoon (target: Room): void {
  const since = hello?.since ?? Date.now()
  clearTimeout(hello?.timer)
  const wait = Math.max(0, Math.min(HELLO_DEBOUNCE_MS, since + HELLO_MAX_WAIT_MS - Date.now()))
  hello = {
    since,
    timer: setTimeout(() => {
      hello = undefined
      if (target === room) void target.send({ kind: 'hello', nick: nickname() } satisfies DemoMessage).catch(() => {})
    }, wait)
  }
}

async function enterRoom (name: string): Promise<void> {
  clearTimeout(hello?.timer)
  hello = undefined
  await room?.leave()
  nicknames.clear()
  clearMessages()
  $<HTMLInputElement>('room-name').value = name
  document.title = `${name} · Peerlane chat`
  room = await peer.join(name)
  const current = room
  current.addEventListener('message', ({ detail }) => { onMessage(detail) })
  current.addEventListener('peer:join', ({ detail }) => {
    renderPeers()
    helloSoon(current)
    // say who joined once their hello (with the nickname) is in, or after a moment without it
    pendingJoins.set(detail.peerId, setTimeout(() => { announceJoin(detail.peerId) }, 3_000))
  })
  current.addEventListener('peer:leave', ({ detail }) => {
    addSystem(`${nicknames.get(detail.peerId) ?? short(detail.peerId)} left`)
    renderPeers()
  })
  await current.send({ kind: 'hello', nick: nickname() } satisfies DemoMessage)
  addSystem(`You joined "${name}". Share the invite link to chat with someone.`)
  renderPeers()
}

const pendingJoins = new Map<string, ReturnType<typeof setTimeout>>()

function announceJoin (peerId: string): void {
  clearTimeout(pendingJoins.get(peerId))
  if (!pendingJoins.delete(peerId)) return
  addSystem(`${nicknames.get(peerId) ?? short(peerId)} joined`)
}

function onMessage (message: RoomMessage): void {
  const m = message.json as DemoMessage | undefined
  if (m == null || typeof m !== 'object' || typeof m.nick !== 'string') return
  const known = nicknames.get(message.from)
  // an earlier nickname (from the room's history) does not replace one heard live
  if (message.history !== true || known == null) nicknames.set(message.from, m.nick.slice(0, 32))
  if (message.history !== true) announceJoin(message.from)
  if (known !== m.nick) renderPeers()
  // the room's history has our own earlier messages too
  if (m.kind === 'chat' && typeof m.text === 'string') addText(message.from, m.text, message.timestamp, message.from === peer.id, message.history === true)
  if (m.kind === 'file' && m.ref != null && typeof m.ref === 'object') {
    // a file shared before we came is listed, not offered: no prompt for each file in the history
    if (message.history === true) addText(message.from, `shared "${String(m.ref.name ?? 'file').slice(0, 128)}" (${(Number(m.ref.size) / 1024 / 1024).toFixed(1)} MiB) earlier`, message.timestamp, message.from === peer.id, true)
    else if (message.from !== peer.id) offerFile(message.from, m.ref)
  }
}

function pendingFiles (): Record<string, { ref: ContentRef, from: string }> {
  try { return JSON.parse(localStorage.getItem(PENDING_KEY) ?? '{}') } catch { return {} }
}

function setPending (ref: ContentRef, from: string | undefined): void {
  const all = pendingFiles()
  if (from == null) delete all[ref.cid]
  else all[ref.cid] = { ref, from }
  localStorage.setItem(PENDING_KEY, JSON.stringify(all))
}

/** Someone shared a file: nothing is fetched until the user says so */
function offerFile (from: string, ref: ContentRef): void {
  const name = String(ref.name ?? 'file').slice(0, 128)
  const size = Number(ref.size)
  if (!confirm(`${nicknames.get(from) ?? short(from)} shares "${name}" (${(size / 1024 / 1024).toFixed(1)} MiB). Fetch it?`)) {
    addSystem(`You did not fetch "${name}".`)
    return
  }
  void fetchFile(from, ref)
}

async function fetchFile (from: string, ref: ContentRef): Promise<void> {
  const name = String(ref.name ?? 'file').slice(0, 128)
  const card = addFile(from, name, ref.size, false)
  setPending(ref, from)
  try {
    // a Blob of a safe type: application/octet-stream unless a PNG, JPEG, GIF or WebP image
    const blob = await peer.fetch(ref, { from: [from], onProgress: p => { if (p.type === 'bytes') card.progress(p.bytes) } })
    setPending(ref, undefined)
    card.done({ blob, note: 'every block checked against its hash; you hold it now too' })
  } catch (err: any) {
    card.done({ error: `Not fetched: ${err.message} (reload to resume)` })
  }
}

async function sendText (text: string): Promise<void> {
  if (room == null) return
  await room.send({ kind: 'chat', nick: nickname(), text } satisfies DemoMessage)
  addText(peer.id, text, Date.now(), true)
}

async function sendFileToRoom (file: File): Promise<void> {
  if (room == null) return
  const card = addFile(peer.id, file.name, file.size, true)
  try {
    const ref = await peer.share(file, { onProgress: p => { if (p.type === 'bytes') card.progress(p.bytes) } })
    await room.send({ kind: 'file', nick: nickname(), ref } satisfies DemoMessage)
    card.done({ blob: file, note: 'shared: members who accept it fetch it from everyone who holds it' })
  } catch (err: any) {
    card.done({ error: `Not shared: ${err.message}` })
  }
}

// ---- identity ----

async function exportIdentity (): Promise<void> {
  const passphrase = prompt('Choose a passphrase for the exported identity (you will need it to import it):')
  if (passphrase == null || passphrase === '') return
  const text = await peer.exportIdentity({ passphrase })
  const a = document.createElement('a')
  a.href = URL.createObjectURL(new Blob([text], { type: 'application/json' }))
  a.download = `peerlane-identity-${peer.id.slice(-8)}.json`
  a.click()
}

async function importIdentityFile (file: File): Promise<void> {
  const passphrase = prompt(`Passphrase for ${file.name}:`)
  if (passphrase == null) return
  if (!confirm('Importing replaces the identity saved in this browser (export it first to keep it). Continue?')) return
  const text = await file.text()
  await peer.stop() // the saved identity is locked while this tab runs with it
  try {
    await importIdentity(text, { passphrase, replace: true })
  } catch (err: any) {
    alert(`Could not import: ${err.message}`)
  }
  location.reload()
}

// ---- start ----

async function main (): Promise<void> {
  // the You panel starts open where there is room for it, folded on a phone
  ;($('you') as HTMLDetailsElement).open = matchMedia('(min-width: 42rem)').matches
  const nickInput = $<HTMLInputElement>('nickname')
  const saveNick = (): void => {
    const nick = nickInput.value.trim().slice(0, 32)
    if (nick === '' || nick === localStorage.getItem(NICK_KEY)) return
    localStorage.setItem(NICK_KEY, nick)
    void room?.send({ kind: 'hello', nick } satisfies DemoMessage).catch(() => {})
  }
  // a name typed while the page was still loading (before this ran) is kept, not replaced by the saved one
  if (nickInput.value.trim() !== '') saveNick()
  else nickInput.value = nickname()
  nickInput.addEventListener('change', saveNick)

  banner('Connecting to the relay…')
  peer = await createPeer({ relays: await relays() })
  $('banner').hidden = true
  renderYou()

  peer.addEventListener('relay:lost', () => { banner('Lost the relay. Reconnecting… (direct links keep working)'); renderYou() })
  peer.addEventListener('relay:reserved', () => { banner('Back online: reachable through the relay again.', 'ok', 4000); renderYou() })
  for (const type of ['peer:connect', 'peer:disconnect', 'connection:direct'] as const) peer.addEventListener(type, renderPeers)
  // round-trip times and routes for the badges' details
  const refreshRoutes = (): void => {
    peer.stats().then(links => {
      for (const link of links) routes.set(link.peerId, link.route)
      renderPeers()
    }, () => {})
  }
  peer.addEventListener('connection:direct', refreshRoutes)
  setInterval(() => {
    for (const id of room?.peers ?? []) {
      peer.ping(id, { signal: AbortSignal.timeout(5_000) }).then(ms => { rtts.set(id, ms); renderPeers() }, () => {})
    }
    refreshRoutes()
  }, 10_000)

  // files accepted before a reload: fetch the rest (the blocks already stored are not fetched again)
  for (const { ref, from } of Object.values(pendingFiles())) void fetchFile(from, ref)

  await enterRoom(roomFromUrl())
  window.addEventListener('hashchange', () => { void enterRoom(roomFromUrl()) })

  $('room-form').addEventListener('submit', event => {
    event.preventDefault()
    location.hash = encodeURIComponent($<HTMLInputElement>('room-name').value.trim())
  })
  $('copy-link').addEventListener('click', event => { void copy(location.href, event.currentTarget as HTMLButtonElement) })
  document.querySelector<HTMLButtonElement>('[data-copy="me-id"]')?.addEventListener('click', event => { void copy(peer.id, event.currentTarget as HTMLButtonElement) })
  $('export-identity').addEventListener('click', () => { void exportIdentity() })
  $<HTMLInputElement>('import-identity').addEventListener('change', event => {
    const file = (event.target as HTMLInputElement).files?.[0]
    if (file != null) void importIdentityFile(file)
  })

  const input = $<HTMLInputElement>('text')
  const fileInput = $<HTMLInputElement>('file')
  const send = document.querySelector<HTMLButtonElement>('#composer button[type=submit]') as HTMLButtonElement
  input.disabled = send.disabled = fileInput.disabled = false
  // ready to chat: the message box takes the focus, unless the user is busy in another field (say, the nickname)
  if (document.activeElement == null || document.activeElement === document.body) input.focus()
  $('composer').addEventListener('submit', event => {
    event.preventDefault()
    const text = input.value.trim()
    if (text === '') return
    input.value = ''
    sendText(text).catch(err => { banner(`Not sent: ${err.message}`) })
  })
  fileInput.addEventListener('change', () => {
    const file = fileInput.files?.[0]
    fileInput.value = ''
    if (file != null) void sendFileToRoom(file)
  })
}

main().catch(err => {
  banner(`Could not start: ${err.message}`)
})
