import { decodeMessage, encodeMessage, message, streamMessage } from 'protons-runtime'
import { alloc as uint8ArrayAlloc } from 'uint8arrays/alloc'
import type { Codec, DecodeOptions } from 'protons-runtime'
import type { Uint8ArrayList } from 'uint8arraylist'

export interface RequestResult {
  ok: boolean
  data: Uint8Array<ArrayBuffer>
  error: string
}

export namespace RequestResult {
  let _codec: Codec<RequestResult>

  export const codec = (): Codec<RequestResult> => {
    if (_codec == null) {
      _codec = message<RequestResult>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.ok != null && obj.ok !== false)) {
          w.uint32(8)
          w.bool(obj.ok)
        }

        if ((obj.data != null && obj.data.byteLength > 0)) {
          w.uint32(18)
          w.bytes(obj.data)
        }

        if ((obj.error != null && obj.error !== '')) {
          w.uint32(26)
          w.string(obj.error)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          ok: false,
          data: uint8ArrayAlloc(0),
          error: ''
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.ok = reader.bool()
              break
            }
            case 2: {
              obj.data = reader.bytes()
              break
            }
            case 3: {
              obj.error = reader.string()
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
                field: `${prefix}.ok`,
                value: reader.bool()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.data`,
                value: reader.bytes()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.error`,
                value: reader.string()
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

  export interface RequestResultOkFieldEvent {
    field: '$.ok'
    value: boolean
  }

  export interface RequestResultDataFieldEvent {
    field: '$.data'
    value: Uint8Array<ArrayBuffer>
  }

  export interface RequestResultErrorFieldEvent {
    field: '$.error'
    value: string
  }

  export function encode (obj: Partial<RequestResult>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, RequestResult.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<RequestResult>): RequestResult {
    return decodeMessage(buf, RequestResult.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<RequestResult>): Generator<RequestResultOkFieldEvent | RequestResultDataFieldEvent | RequestResultErrorFieldEvent> {
    return streamMessage(buf, RequestResult.codec(), opts)
  }
}
