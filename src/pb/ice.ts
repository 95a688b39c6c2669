/* eslint-disable require-yield */

import { decodeMessage, encodeMessage, MaxLengthError, message, streamMessage } from 'protons-runtime'
import type { Codec, DecodeOptions } from 'protons-runtime'
import type { Uint8ArrayList } from 'uint8arraylist'

export interface IceRequest {}

export namespace IceRequest {
  let _codec: Codec<IceRequest>

  export const codec = (): Codec<IceRequest> => {
    if (_codec == null) {
      _codec = message<IceRequest>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {}

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
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

  export function encode (obj: Partial<IceRequest>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, IceRequest.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<IceRequest>): IceRequest {
    return decodeMessage(buf, IceRequest.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<IceRequest>): Generator<{}> {
    return streamMessage(buf, IceRequest.codec(), opts)
  }
}

export interface IceResponse {
  servers: IceServer[]
  expires: bigint
}

export namespace IceResponse {
  let _codec: Codec<IceResponse>

  export const codec = (): Codec<IceResponse> => {
    if (_codec == null) {
      _codec = message<IceResponse>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if (obj.servers != null && obj.servers.length > 0) {
          for (const value of obj.servers) {
            w.uint32(10)
            IceServer.codec().encode(value, w)
          }
        }

        if ((obj.expires != null && obj.expires !== 0n)) {
          w.uint32(16)
          w.uint64(obj.expires)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          servers: [],
          expires: 0n
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              if (opts.limits?.servers != null && obj.servers.length === opts.limits.servers) {
                throw new MaxLengthError('Decode error - repeated field "servers" had too many elements')
              }

              obj.servers.push(IceServer.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.servers$
              }))
              break
            }
            case 2: {
              obj.expires = reader.uint64()
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
        const obj = {
          servers: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              if (opts.limits?.servers != null && obj.servers === opts.limits.servers) {
                throw new MaxLengthError('Streaming decode error - repeated field "servers" had too many elements')
              }

              for (const evt of IceServer.codec().stream(reader, reader.uint32(), `${prefix}.servers[]`, {
                limits: opts.limits?.servers$
              })) {
                yield {
                  ...evt,
                  index: obj.servers
                }
              }

              obj.servers++

              break
            }
            case 2: {
              yield {
                field: `${prefix}.expires`,
                value: reader.uint64()
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

  export interface IceResponseServersUrlsFieldEvent {
    field: '$.servers[].urls[]'
    index: number
    value: string
  }

  export interface IceResponseServersUsernameFieldEvent {
    field: '$.servers[].username'
    value: string
    index: number
  }

  export interface IceResponseServersCredentialFieldEvent {
    field: '$.servers[].credential'
    value: string
    index: number
  }

  export interface IceResponseExpiresFieldEvent {
    field: '$.expires'
    value: bigint
  }

  export function encode (obj: Partial<IceResponse>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, IceResponse.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<IceResponse>): IceResponse {
    return decodeMessage(buf, IceResponse.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<IceResponse>): Generator<IceResponseServersUrlsFieldEvent | IceResponseServersUsernameFieldEvent | IceResponseServersCredentialFieldEvent | IceResponseExpiresFieldEvent> {
    return streamMessage(buf, IceResponse.codec(), opts)
  }
}

export interface IceServer {
  urls: string[]
  username: string
  credential: string
}

export namespace IceServer {
  let _codec: Codec<IceServer>

  export const codec = (): Codec<IceServer> => {
    if (_codec == null) {
      _codec = message<IceServer>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if (obj.urls != null && obj.urls.length > 0) {
          for (const value of obj.urls) {
            w.uint32(10)
            w.string(value)
          }
        }

        if ((obj.username != null && obj.username !== '')) {
          w.uint32(18)
          w.string(obj.username)
        }

        if ((obj.credential != null && obj.credential !== '')) {
          w.uint32(26)
          w.string(obj.credential)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          urls: [],
          username: '',
          credential: ''
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              if (opts.limits?.urls != null && obj.urls.length === opts.limits.urls) {
                throw new MaxLengthError('Decode error - repeated field "urls" had too many elements')
              }

              obj.urls.push(reader.string())
              break
            }
            case 2: {
              obj.username = reader.string()
              break
            }
            case 3: {
              obj.credential = reader.string()
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
        const obj = {
          urls: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              if (opts.limits?.urls != null && obj.urls === opts.limits.urls) {
                throw new MaxLengthError('Streaming decode error - repeated field "urls" had too many elements')
              }

              yield {
                field: `${prefix}.urls[]`,
                index: obj.urls,
                value: reader.string()
              }

              obj.urls++

              break
            }
            case 2: {
              yield {
                field: `${prefix}.username`,
                value: reader.string()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.credential`,
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

  export interface IceServerUrlsFieldEvent {
    field: '$.urls[]'
    index: number
    value: string
  }

  export interface IceServerUsernameFieldEvent {
    field: '$.username'
    value: string
  }

  export interface IceServerCredentialFieldEvent {
    field: '$.credential'
    value: string
  }

  export function encode (obj: Partial<IceServer>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, IceServer.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<IceServer>): IceServer {
    return decodeMessage(buf, IceServer.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<IceServer>): Generator<IceServerUrlsFieldEvent | IceServerUsernameFieldEvent | IceServerCredentialFieldEvent> {
    return streamMessage(buf, IceServer.codec(), opts)
  }
}
