// Files over Peerlane byte streams: one stream per recipient carrying a small JSON header, then the bytes;
// the recipient checks the SHA-256 from the header and answers "ok" or why not.
import type { Peer, PeerStream } from 'peerlane'

export const FILE_PROTOCOL = '/peerlane-demo/file/1.0.0'
/** the demo refuses bigger files: they would sit in memory whole */
export const MAX_FILE_SIZE = 64 * 1024 * 1024
const CHUNK = 64 * 1024

export interface FileHeader {
  id: string
  name: string
  type: string
  size: number
  /** hex SHA-256 of the whole file */
  sha256: string
}

export interface IncomingFile {
  header: FileHeader
  from: string
  /** called as bytes arrive */
  onProgress?: (received: number) => void
}

async function sha256 (data: ArrayBuffer): Promise<string> {
  return [...new Uint8Array(await crypto.subtle.digest('SHA-256', data))].map(b => b.toString(16).padStart(2, '0')).join('')
}

export async function describeFile (file: File): Promise<{ header: FileHeader, bytes: Uint8Array }> {
  if (file.size > MAX_FILE_SIZE) throw new Error(`${file.name} is over the demo's ${MAX_FILE_SIZE / 1024 / 1024} MiB limit`)
  const buffer = await file.arrayBuffer()
  const id = [...crypto.getRandomValues(new Uint8Array(8))].map(b => b.toString(16).padStart(2, '0')).join('')
  return { header: { id, name: file.name, type: file.type, size: file.size, sha256: await sha256(buffer) }, bytes: new Uint8Array(buffer) }
}

/** Sends a file to one peer; resolves once it confirmed the checksum, rejects with its reason otherwise */
export async function sendFile (peer: Peer, to: string, header: FileHeader, bytes: Uint8Array, onProgress: (sent: number) => void): Promise<void> {
  const stream = await peer.openStream(to, FILE_PROTOCOL, { signal: AbortSignal.timeout(30_000) })
  const writer = stream.writable.getWriter()
  const head = new TextEncoder().encode(JSON.stringify(header))
  const prefix = new Uint8Array(4)
  new DataView(prefix.buffer).setUint32(0, head.byteLength)
  await writer.write(prefix)
  await writer.write(head)
  for (let at = 0; at < bytes.byteLength; at += CHUNK) {
    await writer.write(bytes.subarray(at, at + CHUNK)) // resolves as the stream drains: backpressure
    onProgress(Math.min(at + CHUNK, bytes.byteLength))
  }
  await writer.close()
  const answer = await readAll(stream)
  const text = new TextDecoder().decode(answer)
  if (text !== 'ok') throw new Error(text || 'no answer')
}

/** Serves incoming files: `onFile` is told when one starts, `onDone` when it arrived (checked) or failed */
export async function receiveFiles (peer: Peer, onFile: (file: IncomingFile) => void, onDone: (file: IncomingFile, result: { blob: Blob } | { error: string }) => void): Promise<void> {
  await peer.handleStream(FILE_PROTOCOL, async (stream, { from }) => {
    const reader = stream.readable.getReader()
    let buffered: Uint8Array = new Uint8Array(0)
    const take = async (n: number): Promise<Uint8Array> => {
      while (buffered.byteLength < n) {
        const { value, done } = await reader.read()
        if (done) throw new Error('the sender stopped early')
        buffered = concat([buffered, value])
      }
      const out = buffered.subarray(0, n)
      buffered = buffered.subarray(n)
      return out
    }
    const headLength = new DataView((await take(4)).slice().buffer).getUint32(0)
    if (headLength > 4096) throw new Error('file header too large')
    const header = JSON.parse(new TextDecoder().decode(await take(headLength))) as FileHeader
    const incoming: IncomingFile = { header, from }
    const reply = async (text: string): Promise<void> => {
      const writer = stream.writable.getWriter()
      await writer.write(new TextEncoder().encode(text))
      await writer.close()
    }
    if (!(header.size >= 0 && header.size <= MAX_FILE_SIZE)) {
      await reply(`refused: ${header.size} bytes is over the limit`)
      return
    }
    onFile(incoming)
    const chunks: Uint8Array[] = [buffered]
    let received = buffered.byteLength
    while (received < header.size) {
      const { value, done } = await reader.read()
      if (done) break
      chunks.push(value)
      received += value.byteLength
      incoming.onProgress?.(received)
    }
    const bytes = concat(chunks)
    if (bytes.byteLength !== header.size || await sha256(bytes.slice().buffer) !== header.sha256) {
      onDone(incoming, { error: `arrived damaged (${bytes.byteLength} of ${header.size} bytes, checksum mismatch)` })
      await reply('checksum mismatch')
      return
    }
    onDone(incoming, { blob: new Blob([bytes.slice().buffer], { type: header.type || 'application/octet-stream' }) })
    await reply('ok')
  })
}

async function readAll (stream: PeerStream): Promise<Uint8Array> {
  const chunks: Uint8Array[] = []
  for await (const chunk of stream.readable as unknown as AsyncIterable<Uint8Array>) chunks.push(chunk)
  return concat(chunks)
}

function concat (chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0))
  let at = 0
  for (const c of chunks) { out.set(c, at); at += c.byteLength }
  return out
}
