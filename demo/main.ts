// A minimal chat on Peerlane: join the room named in the URL hash and chat; members link directly on their own.
import { createPeer } from 'peerlane'
import type { Peer, Room } from 'peerlane'

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T
const status = $('status')
const roomName = decodeURIComponent(location.hash.slice(1)) || 'lobby'
const short = (id: string): string => `…${id.slice(-6)}`

async function relays (): Promise<string[]> {
  const fromUrl = new URLSearchParams(location.search).getAll('relay')
  if (fromUrl.length > 0) return fromUrl
  // written by demo/start.js next to the local relay it starts
  const res = await fetch('./relay.json')
  if (!res.ok) throw new Error('no relay: open this page with ?relay=<multiaddr>, or start it with `npm start`')
  return await res.json()
}

function renderPeers (peer: Peer, room: Room): void {
  const links = new Map(peer.connections().map(c => [c.peerId, c]))
  $('peers').replaceChildren(...room.peers.map(id => {
    const li = document.createElement('li')
    const link = links.get(id)
    const kind = link == null ? 'connecting' : link.direct ? 'direct' : 'relayed'
    li.textContent = short(id)
    const badge = document.createElement('span')
    badge.className = `badge ${kind}`
    badge.textContent = kind
    badge.title = link?.transport ?? 'no link yet'
    li.append(badge)
    return li
  }))
}

function addMessage (from: string, text: string, mine: boolean): void {
  const li = document.createElement('li')
  li.className = mine ? 'mine' : ''
  const who = document.createElement('span')
  who.className = 'from'
  who.textContent = mine ? 'you' : short(from)
  li.append(who, text)
  $('messages').append(li)
  li.scrollIntoView({ block: 'end' })
}

async function main (): Promise<void> {
  const peer = await createPeer({ relays: await relays() })
  $('me').textContent = `${peer.id}${peer.identity === 'ephemeral' ? ' (a temporary identity: another tab holds your saved one)' : ''}`
  status.textContent = `Connected to the relay. Room "${roomName}": share this page's URL to invite someone.`

  const room = await peer.join(roomName)
  const refresh = (): void => { renderPeers(peer, room) }
  // members link directly (WebRTC) on their own: the badges follow the connection events
  room.addEventListener('peer:join', refresh)
  room.addEventListener('peer:leave', refresh)
  peer.addEventListener('peer:connect', refresh)
  peer.addEventListener('connection:direct', refresh)
  peer.addEventListener('peer:disconnect', refresh)
  room.addEventListener('message', ({ detail }) => { addMessage(detail.from, detail.text ?? `(${detail.data.byteLength} bytes)`, false) })

  const input = $<HTMLInputElement>('text')
  const button = document.querySelector<HTMLButtonElement>('#composer button') as HTMLButtonElement
  input.disabled = button.disabled = false
  input.focus()
  $('composer').addEventListener('submit', event => {
    event.preventDefault()
    const text = input.value.trim()
    if (text === '') return
    input.value = ''
    room.send(text).then(() => { addMessage(peer.id, text, true) }, err => { status.textContent = `Not sent: ${err.message}` })
  })
}

main().catch(err => {
  status.textContent = `Could not start: ${err.message}`
  console.error(err)
})
