// The chat's message list: text messages, notices and file cards, each with who sent it and when. Messages from
// the room's history (sent before this page was there) go above a line that says so, oldest first.
import { SAFE_CONTENT_TYPES } from 'peerlane'
import { $, short, time } from './dom.ts'

/** Nicknames members announced (their `hello` messages), by PeerId */
export const nicknames = new Map<string, string>()

/** the line between the room's earlier messages (history, above it) and what arrived live (below it) */
let divider: HTMLLIElement | undefined

/** Empties the list (a new room) */
export function clearMessages (): void {
  divider = undefined
  $('messages').replaceChildren()
}

function addEarlier (li: HTMLLIElement): void {
  if (divider == null) {
    divider = document.createElement('li')
    divider.className = 'system divider'
    divider.textContent = 'Earlier messages, from the room\'s history, are above this line'
    $('messages').prepend(divider)
  }
  li.classList.add('earlier')
  divider.before(li)
}

function addItem (li: HTMLLIElement): void {
  const list = $('messages')
  const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40
  list.append(li)
  if (atBottom) list.scrollTop = list.scrollHeight
}

export function messageItem (from: string, timestamp: number, mine: boolean): HTMLLIElement {
  const li = document.createElement('li')
  li.className = mine ? 'mine' : ''
  const meta = document.createElement('div')
  meta.className = 'meta'
  const who = document.createElement('span')
  who.className = 'who'
  who.textContent = mine ? 'You' : (nicknames.get(from) ?? 'someone')
  const id = document.createElement('span')
  id.className = 'mono'
  id.textContent = short(from)
  const when = document.createElement('time')
  when.dateTime = new Date(timestamp).toISOString()
  when.textContent = time(timestamp)
  meta.append(who, id, when)
  li.append(meta)
  return li
}

/** A text message; `earlier` for one from the room's history */
export function addText (from: string, text: string, timestamp: number, mine: boolean, earlier = false): void {
  const li = messageItem(from, timestamp, mine)
  const body = document.createElement('div')
  body.textContent = text
  li.append(body)
  if (earlier) addEarlier(li)
  else addItem(li)
}

export function addSystem (text: string): void {
  const li = document.createElement('li')
  li.className = 'system'
  li.textContent = text
  addItem(li)
}

/** A file card: progress while it moves, then a download link (and a preview for images) */
export function addFile (from: string, name: string, size: number, mine: boolean): { progress: (n: number) => void, done: (result: { blob?: Blob, error?: string, note?: string }) => void } {
  const li = messageItem(from, Date.now(), mine)
  const card = document.createElement('div')
  card.className = 'file'
  const label = document.createElement('span')
  label.textContent = `${name} (${formatBytes(size)})`
  const bar = document.createElement('progress')
  bar.max = Math.max(size, 1)
  bar.value = 0
  bar.setAttribute('aria-label', `${mine ? 'Sending' : 'Receiving'} ${name}`)
  card.append(label, bar)
  li.append(card)
  addItem(li)
  return {
    progress: n => { bar.value = n },
    done: ({ blob, error, note }) => {
      bar.remove()
      if (error != null) {
        const p = document.createElement('span')
        p.className = 'warn'
        p.textContent = error
        card.append(p)
        return
      }
      if (note != null) {
        const p = document.createElement('span')
        p.className = 'hint'
        p.textContent = note
        card.append(p)
      }
      if (blob != null) {
        const url = URL.createObjectURL(blob)
        if (SAFE_CONTENT_TYPES.includes(blob.type)) {
          const img = document.createElement('img')
          img.src = url
          img.alt = name
          card.append(img)
        }
        const a = document.createElement('a')
        a.href = url
        a.download = name
        a.textContent = `Download ${name}`
        card.append(a)
      }
    }
  }
}

function formatBytes (n: number): string {
  return n < 1024 ? `${n} B` : n < 1024 ** 2 ? `${(n / 1024).toFixed(1)} KiB` : `${(n / 1024 ** 2).toFixed(1)} MiB`
}
