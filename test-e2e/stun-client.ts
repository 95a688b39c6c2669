// A minimal STUN Binding client (RFC 8489): a 20-byte request, and XOR-MAPPED-ADDRESS out of the answer.
// It drives any socket with send/receive, e.g. a lab.udpSocket() living in a NAT lab namespace.
import { randomBytes } from 'node:crypto'

export const MAGIC_COOKIE = 0x2112a442
const BINDING_REQUEST = 0x0001
const BINDING_SUCCESS = 0x0101
const XOR_MAPPED_ADDRESS = 0x0020

export interface StunSocket {
  send: (data: Uint8Array, port: number, address: string) => void
  receive: (timeoutMs: number, accept?: (d: { data: Buffer, address: string, port: number }) => boolean) => Promise<{ data: Buffer } | undefined>
}

export function bindingRequest (transactionId = randomBytes(12)): Buffer {
  const b = Buffer.alloc(20)
  b.writeUInt16BE(BINDING_REQUEST, 0)
  b.writeUInt16BE(0, 2) // no attributes
  b.writeUInt32BE(MAGIC_COOKIE, 4)
  transactionId.copy(b, 8)
  return b
}

/** The IPv4 XOR-MAPPED-ADDRESS of a Binding success answering `transactionId`, or undefined */
export function parseBindingResponse (b: Buffer, transactionId: Buffer): { address: string, port: number } | undefined {
  if (b.length < 20 || b.readUInt16BE(0) !== BINDING_SUCCESS || b.readUInt32BE(4) !== MAGIC_COOKIE) return undefined
  if (!b.subarray(8, 20).equals(transactionId)) return undefined
  const end = Math.min(b.length, 20 + b.readUInt16BE(2))
  for (let i = 20; i + 4 <= end;) {
    const type = b.readUInt16BE(i)
    const length = b.readUInt16BE(i + 2)
    if (type === XOR_MAPPED_ADDRESS && length >= 8 && b[i + 5] === 0x01) {
      const port = b.readUInt16BE(i + 6) ^ (MAGIC_COOKIE >>> 16)
      const ip = (b.readUInt32BE(i + 8) ^ MAGIC_COOKIE) >>> 0
      return { address: [ip >>> 24, (ip >>> 16) & 255, (ip >>> 8) & 255, ip & 255].join('.'), port }
    }
    i += 4 + Math.ceil(length / 4) * 4
  }
  return undefined
}

/**
 * Sends a Binding request to server:port (resent once after a third of the time) and resolves to the
 * mapped address the server saw, or undefined when nothing answers within timeoutMs.
 */
export async function stunBinding (socket: StunSocket, server: string, port: number, timeoutMs = 1000): Promise<{ address: string, port: number } | undefined> {
  const id = randomBytes(12)
  const request = bindingRequest(id)
  socket.send(request, port, server)
  const resend = setTimeout(() => socket.send(request, port, server), timeoutMs / 3)
  try {
    const answer = await socket.receive(timeoutMs, d => d.address === server && d.port === port && parseBindingResponse(d.data, id) != null)
    return answer == null ? undefined : parseBindingResponse(answer.data, id)
  } finally {
    clearTimeout(resend)
  }
}
