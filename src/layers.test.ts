// The data path, read top-down (docs/architecture.md): each step's modules may use the steps before them,
// never a later one. Utility modules (errors, addresses, wire formats) sit below every step and use none.
import { readdirSync, readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'

const SRC = new URL('.', import.meta.url)

/** module (file name without .ts / .browser.ts) → its step; a module not listed fails the test */
const STEPS: Record<string, number> = {
  // 0: utilities, imported by anyone, importing nothing of the steps
  errors: 0,
  address: 0,
  version: 0,
  polyfills: 0,
  protocols: 0,
  'pb/room': 0,
  'pb/request': 0,
  'pb/routing': 0,
  'pb/ice': 0,
  'pb/history': 0,
  // 1: identity, and the options that name it
  protection: 1,
  identity: 1,
  config: 1.5,
  // 2: the libp2p node
  logger: 2,
  guard: 2,
  gossip: 2,
  node: 2,
  // 3: relays and federation
  relays: 3,
  routing: 3,
  ice: 3,
  // 4: links to other peers
  connect: 4,
  links: 4,
  stats: 4,
  // 4.5: content (docs section 6b), below rooms: a room shares into it (room.share, sealed in a private room)
  content: 4.5,
  'content/load': 4.5,
  'content/engine': 4.5,
  'content/bitswap': 4.5,
  'content/fetcher': 4.5,
  'content/store': 4.5,
  'content/records': 4.5,
  'content/open-store': 4.5,
  'content/seal': 4.5,
  // 5: rooms
  envelope: 5,
  presence: 5,
  room: 5,
  replay: 5,
  'room-key': 5,
  'history-store': 5,
  'history-wire': 5,
  history: 5,
  'room-api': 5,
  // 6: requests and streams
  stream: 6,
  request: 6,
  // 7: the page, the peer that puts it all together, the public surfaces
  lifecycle: 7,
  'peer-api': 8,
  peer: 8,
  index: 9,
  global: 9,
  shared: 9
}

function modules (): string[] {
  const files = [...readdirSync(SRC), ...['pb', 'content'].flatMap(dir => readdirSync(new URL(`${dir}/`, SRC)).map(f => `${dir}/${f}`))]
  return files.filter(f => f.endsWith('.ts') && !f.endsWith('.test.ts'))
}

const name = (file: string): string => file.replace(/(\.browser|\.sibling|\.script)?\.ts$/, '')

describe('src/ layers', () => {
  it('every module has a step', () => {
    expect(modules().map(name).filter(m => STEPS[m] == null)).toEqual([])
  })

  it('no module imports a module of a later step', () => {
    const wrong: string[] = []
    for (const file of modules()) {
      const text = readFileSync(new URL(file, SRC), 'utf8')
      const dir = file.includes('/') ? file.slice(0, file.lastIndexOf('/') + 1) : ''
      for (const [, spec] of [...text.matchAll(/^(?:import|export)\b[^'"]*?from\s+'(\.[^']+)'|^import\s+'(\.[^']+)'/gm)].map(m => [m[0], m[1] ?? m[2]])) {
        const target = name(new URL(spec, new URL(dir, 'file:///src/')).pathname.replace(/^\/src\//, ''))
        if (STEPS[target] > STEPS[name(file)]) wrong.push(`${file} (step ${STEPS[name(file)]}) imports ${target} (step ${STEPS[target]})`)
      }
    }
    expect(wrong).toEqual([])
  })
})
