import { decodeMessage, encodeMessage, message, streamMessage } from 'protons-runtime'
import type { Codec, DecodeOptions } from 'protons-runtime'
import type { Uint8ArrayList } from 'uint8arraylist'

export interface HistoryRequest {
  topic: string
  since: bigint
  limit: number
}

export namespace HistoryRequest {
  let _codec: Codec<HistoryRequest>

  export const codec = (): Codec<HistoryRequest> => {
    if (_codec == null) {
      _codec = message<HistoryRequest>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.topic != null && obj.topic !== '')) {
          w.uint32(10)
          w.string(obj.topic)
        }

        if ((obj.since != null && obj.since !== 0n)) {
          w.uint32(16)
          w.uint64(obj.since)
        }

        if ((obj.limit != null && obj.limit !== 0)) {
          w.uint32(24)
          w.uint32(obj.limit)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          topic: '',
          since: 0n,
          limit: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.topic = reader.string()
              break
            }
            case 2: {
              obj.since = reader.uint64()
              break
            }
            case 3: {
              obj.limit = reader.uint32()
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
                field: `${prefix}.topic`,
                value: reader.string()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.since`,
                value: reader.uint64()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.limit`,
                value: reader.uint32()
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

  export interface HistoryRequestTopicFieldEvent {
    field: '$.topic'
    value: string
  }

  export interface HistoryRequestSinceFieldEvent {
    field: '$.since'
    value: bigint
  }

  export interface HistoryRequestLimitFieldEvent {
    field: '$.limit'
    value: number
  }

  export function encode (obj: Partial<HistoryRequest>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, HistoryRequest.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<HistoryRequest>): HistoryRequest {
    return decodeMessage(buf, HistoryRequest.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<HistoryRequest>): Generator<HistoryRequestTopicFieldEvent | HistoryRequestSinceFieldEvent | HistoryRequestLimitFieldEvent> {
    return streamMessage(buf, HistoryRequest.codec(), opts)
  }
}

export interface HistoryResponse {
  kept: boolean
  count: number
}

export namespace HistoryResponse {
  let _codec: Codec<HistoryResponse>

  export const codec = (): Codec<HistoryResponse> => {
    if (_codec == null) {
      _codec = message<HistoryResponse>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.kept != null && obj.kept !== false)) {
          w.uint32(8)
          w.bool(obj.kept)
        }

        if ((obj.count != null && obj.count !== 0)) {
          w.uint32(16)
          w.uint32(obj.count)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          kept: false,
          count: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.kept = reader.bool()
              break
            }
            case 2: {
              obj.count = reader.uint32()
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
                field: `${prefix}.kept`,
                value: reader.bool()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.count`,
                value: reader.uint32()
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

  export interface HistoryResponseKeptFieldEvent {
    field: '$.kept'
    value: boolean
  }

  export interface HistoryResponseCountFieldEvent {
    field: '$.count'
    value: number
  }

  export function encode (obj: Partial<HistoryResponse>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, HistoryResponse.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<HistoryResponse>): HistoryResponse {
    return decodeMessage(buf, HistoryResponse.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<HistoryResponse>): Generator<HistoryResponseKeptFieldEvent | HistoryResponseCountFieldEvent> {
    return streamMessage(buf, HistoryResponse.codec(), opts)
  }
}
