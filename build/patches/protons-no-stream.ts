// protons 8+ generates, beside each message's encode and decode, a streaming decoder (a generator yielding
// `{ field, value }` per field) that only protons-runtime's `streamMessage()` calls, and nothing in a Peerlane
// page calls that: every codec here is used through encode/decode (encodeMessage, decodeMessage, pbStream).
// Each generated file's third argument to `message()` is left out of the browser build (~16 KB minified,
// ~2 KB gzip over the nine dependency files and Peerlane's own src/pb/). A codec without it throws if its
// `stream` were ever called (`codec.stream is not a function`), which a test would show at once.
// Upstream: not applicable (a size choice; protons has no option to skip them). Delete if something in the
// browser build starts to use streaming decoding.
import { StalePatchError } from '../patch.ts'
import type { Patch, Replacement } from '../patch.ts'

const name = 'protons-no-stream'

/** The generated files in the browser build that have streaming decoders */
const FILES = [
  '/@libp2p/circuit-relay-v2/dist/src/pb/index.js',
  '/@libp2p/crypto/dist/src/keys/keys.js',
  '/@libp2p/gossipsub/dist/src/message/rpc.js',
  '/@libp2p/identify/dist/src/pb/message.js',
  '/@libp2p/peer-record/dist/src/envelope/envelope.js',
  '/@libp2p/peer-record/dist/src/peer-record/peer-record.js',
  '/@libp2p/peer-store/dist/src/pb/peer.js',
  '/@libp2p/webrtc/dist/src/private-to-private/pb/message.js',
  '/@libp2p/webrtc/dist/src/private-to-public/pb/message.js',
  '/src/pb/ice.ts',
  '/src/pb/request.ts',
  '/src/pb/room.ts',
  '/src/pb/routing.ts'
]

/** The index just past the block that opens at `open` (a '{'), skipping strings and template literals */
function blockEnd (code: string, open: number): number {
  let depth = 0
  for (let i = open; i < code.length; i++) {
    const c = code[i]
    if (c === '"' || c === "'" || c === '`') {
      for (i++; code[i] !== c; i++) if (code[i] === '\\') i++
    } else if (c === '{') {
      depth++
    } else if (c === '}' && --depth === 0) {
      return i + 1
    }
  }
  throw new Error('unbalanced braces')
}

/** Removes every `, function* (reader, length, prefix, opts = {}) { … }` argument from `code` */
export function withoutStreams (code: string, file: string): string {
  const start = /,\s*function\s*\*\s*\(reader, length, prefix, opts = \{\}\)\s*\{/g
  let out = ''
  let last = 0
  let n = 0
  for (let m = start.exec(code); m != null; m = start.exec(code)) {
    const end = blockEnd(code, m.index + m[0].length - 1)
    out += code.slice(last, m.index)
    last = end
    start.lastIndex = end
    n++
  }
  if (n === 0) throw new StalePatchError(name, `no streaming decoder in ${file}`)
  return out + code.slice(last)
}

export const protonsNoStream: Patch = {
  name,
  targets: ['browser'],
  replacements: FILES.map((file): Replacement => ({ file, code: (original) => withoutStreams(original, file) }))
}
