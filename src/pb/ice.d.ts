import type { Codec, DecodeOptions } from 'protons-runtime';
import type { Uint8ArrayList } from 'uint8arraylist';
export interface IceRequest {
}
export declare namespace IceRequest {
    const codec: () => Codec<IceRequest>;
    function encode(obj: Partial<IceRequest>): Uint8Array<ArrayBuffer>;
    function decode(buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<IceRequest>): IceRequest;
    function stream(buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<IceRequest>): Generator<{}>;
}
export interface IceResponse {
    servers: IceServer[];
    expires: bigint;
}
export declare namespace IceResponse {
    const codec: () => Codec<IceResponse>;
    interface IceResponseServersUrlsFieldEvent {
        field: '$.servers[].urls[]';
        index: number;
        value: string;
    }
    interface IceResponseServersUsernameFieldEvent {
        field: '$.servers[].username';
        value: string;
        index: number;
    }
    interface IceResponseServersCredentialFieldEvent {
        field: '$.servers[].credential';
        value: string;
        index: number;
    }
    interface IceResponseExpiresFieldEvent {
        field: '$.expires';
        value: bigint;
    }
    function encode(obj: Partial<IceResponse>): Uint8Array<ArrayBuffer>;
    function decode(buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<IceResponse>): IceResponse;
    function stream(buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<IceResponse>): Generator<IceResponseServersUrlsFieldEvent | IceResponseServersUsernameFieldEvent | IceResponseServersCredentialFieldEvent | IceResponseExpiresFieldEvent>;
}
export interface IceServer {
    urls: string[];
    username: string;
    credential: string;
}
export declare namespace IceServer {
    const codec: () => Codec<IceServer>;
    interface IceServerUrlsFieldEvent {
        field: '$.urls[]';
        index: number;
        value: string;
    }
    interface IceServerUsernameFieldEvent {
        field: '$.username';
        value: string;
    }
    interface IceServerCredentialFieldEvent {
        field: '$.credential';
        value: string;
    }
    function encode(obj: Partial<IceServer>): Uint8Array<ArrayBuffer>;
    function decode(buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<IceServer>): IceServer;
    function stream(buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<IceServer>): Generator<IceServerUrlsFieldEvent | IceServerUsernameFieldEvent | IceServerCredentialFieldEvent>;
}
