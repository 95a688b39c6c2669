import { decodeMessage, encodeMessage, enumeration, message, streamMessage } from 'protons-runtime'
import { alloc as uint8ArrayAlloc } from 'uint8arrays/alloc'
import type { Codec, DecodeOptions } from 'protons-runtime'
import type { Uint8ArrayList } from 'uint8arraylist'

export interface RoomEnvelope {
  id: string
  timestamp: bigint
  encoding: RoomEnvelope.Encoding
  data: Uint8Array<ArrayBuffer>
  presence: RoomEnvelope.Presence
  hidden: boolean
  version: number
  seq: bigint
  sealed: Uint8Array<ArrayBuffer>
}

export namespace RoomEnvelope {
  export enum Encoding {
    BYTES = 'BYTES',
    TEXT = 'TEXT',
    JSON = 'JSON'
  }

  enum __EncodingValues {
    BYTES = 0,
    TEXT = 1,
    JSON = 2
  }

  export namespace Encoding {
    export const codec = (): Codec<Encoding> => {
      return enumeration<Encoding>(__EncodingValues)
    }
  }

  export enum Presence {
    NONE = 'NONE',
    HERE = 'HERE',
    LEAVE = 'LEAVE'
  }

  enum __PresenceValues {
    NONE = 0,
    HERE = 1,
    LEAVE = 2
  }

  export namespace Presence {
    export const codec = (): Codec<Presence> => {
      return enumeration<Presence>(__PresenceValues)
    }
  }

  let _codec: Codec<RoomEnvelope>

  export const codec = (): Codec<RoomEnvelope> => {
    if (_codec == null) {
      _codec = message<RoomEnvelope>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.id != null && obj.id !== '')) {
          w.uint32(10)
          w.string(obj.id)
        }

        if ((obj.timestamp != null && obj.timestamp !== 0n)) {
          w.uint32(16)
          w.uint64(obj.timestamp)
        }

        if (obj.encoding != null && __EncodingValues[obj.encoding] !== 0) {
          w.uint32(24)
          RoomEnvelope.Encoding.codec().encode(obj.encoding, w)
        }

        if ((obj.data != null && obj.data.byteLength > 0)) {
          w.uint32(34)
          w.bytes(obj.data)
        }

        if (obj.presence != null && __PresenceValues[obj.presence] !== 0) {
          w.uint32(40)
          RoomEnvelope.Presence.codec().encode(obj.presence, w)
        }

        if ((obj.hidden != null && obj.hidden !== false)) {
          w.uint32(48)
          w.bool(obj.hidden)
        }

        if ((obj.version != null && obj.version !== 0)) {
          w.uint32(56)
          w.uint32(obj.version)
        }

        if ((obj.seq != null && obj.seq !== 0n)) {
          w.uint32(64)
          w.uint64(obj.seq)
        }

        if ((obj.sealed != null && obj.sealed.byteLength > 0)) {
          w.uint32(74)
          w.bytes(obj.sealed)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          id: '',
          timestamp: 0n,
          encoding: Encoding.BYTES,
          data: uint8ArrayAlloc(0),
          presence: Presence.NONE,
          hidden: false,
          version: 0,
          seq: 0n,
          sealed: uint8ArrayAlloc(0)
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.id = reader.string()
              break
            }
            case 2: {
              obj.timestamp = reader.uint64()
              break
            }
            case 3: {
              obj.encoding = RoomEnvelope.Encoding.codec().decode(reader)
              break
            }
            case 4: {
              obj.data = reader.bytes()
              break
            }
            case 5: {
              obj.presence = RoomEnvelope.Presence.codec().decode(reader)
              break
            }
            case 6: {
              obj.hidden = reader.bool()
              break
            }
            case 7: {
              obj.version = reader.uint32()
              break
            }
            case 8: {
              obj.seq = reader.uint64()
              break
            }
            case 9: {
              obj.sealed = reader.bytes()
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.id`,
                value: reader.string()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.timestamp`,
                value: reader.uint64()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.encoding`,
                value: RoomEnvelope.Encoding.codec().decode(reader)
              }
              break
            }
            case 4: {
              yield {
                field: `${prefix}.data`,
                value: reader.bytes()
              }
              break
            }
            case 5: {
              yield {
                field: `${prefix}.presence`,
                value: RoomEnvelope.Presence.codec().decode(reader)
              }
              break
            }
            case 6: {
              yield {
                field: `${prefix}.hidden`,
                value: reader.bool()
              }
              break
            }
            case 7: {
              yield {
                field: `${prefix}.version`,
                value: reader.uint32()
              }
              break
            }
            case 8: {
              yield {
                field: `${prefix}.seq`,
                value: reader.uint64()
              }
              break
            }
            case 9: {
              yield {
                field: `${prefix}.sealed`,
                value: reader.bytes()
              }
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface RoomEnvelopeIdFieldEvent {
    field: '$.id'
    value: string
  }

  export interface RoomEnvelopeTimestampFieldEvent {
    field: '$.timestamp'
    value: bigint
  }

  export interface RoomEnvelopeEncodingFieldEvent {
    field: '$.encoding'
    value: RoomEnvelope.Encoding
  }

  export interface RoomEnvelopeDataFieldEvent {
    field: '$.data'
    value: Uint8Array<ArrayBuffer>
  }

  export interface RoomEnvelopePresenceFieldEvent {
    field: '$.presence'
    value: RoomEnvelope.Presence
  }

  export interface RoomEnvelopeHiddenFieldEvent {
    field: '$.hidden'
    value: boolean
  }

  export interface RoomEnvelopeVersionFieldEvent {
    field: '$.version'
    value: number
  }

  export interface RoomEnvelopeSeqFieldEvent {
    field: '$.seq'
    value: bigint
  }

  export interface RoomEnvelopeSealedFieldEvent {
    field: '$.sealed'
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: Partial<RoomEnvelope>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, RoomEnvelope.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<RoomEnvelope>): RoomEnvelope {
    return decodeMessage(buf, RoomEnvelope.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<RoomEnvelope>): Generator<RoomEnvelopeIdFieldEvent | RoomEnvelopeTimestampFieldEvent | RoomEnvelopeEncodingFieldEvent | RoomEnvelopeDataFieldEvent | RoomEnvelopePresenceFieldEvent | RoomEnvelopeHiddenFieldEvent | RoomEnvelopeVersionFieldEvent | RoomEnvelopeSeqFieldEvent | RoomEnvelopeSealedFieldEvent> {
    return streamMessage(buf, RoomEnvelope.codec(), opts)
  }
}
