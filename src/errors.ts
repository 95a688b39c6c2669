/**
 * Every error Peerlane throws on purpose is one of these classes. Test `err.name`
 * (it survives structured cloning and bundling) rather than `instanceof`.
 */

/** An option or argument passed to `createPeer` (or another call: a room name, a protocol id) is missing or has the wrong shape */
export class InvalidConfigError extends Error {
  static name = 'InvalidConfigError'
  /** The option that was wrong, e.g. `relays[1]` */
  readonly field: string
  constructor (field: string, message: string, options?: ErrorOptions) {
    super(`${field}: ${message}`, options)
    this.name = 'InvalidConfigError'
    this.field = field
  }
}

/** A string that should be a multiaddr or a PeerId is neither; `value` holds it */
export class InvalidAddressError extends Error {
  static name = 'InvalidAddressError'
  /** the value that is not a valid address */
  readonly value: string
  constructor (value: unknown, message: string, options?: ErrorOptions) {
    super(`${JSON.stringify(String(value))} ${message}`, options)
    this.name = 'InvalidAddressError'
    this.value = String(value)
  }
}

/** The identity stored in IndexedDB cannot be decoded. It was left untouched. */
export class IdentityCorruptError extends Error {
  static name = 'IdentityCorruptError'
  constructor (message: string, options?: ErrorOptions) {
    super(message, options)
    this.name = 'IdentityCorruptError'
  }
}

/** IndexedDB or Web Locks are missing or refused (private mode, Node, an old browser) */
export class IdentityUnavailableError extends Error {
  static name = 'IdentityUnavailableError'
  constructor (message: string, options?: ErrorOptions) {
    super(message, options)
    this.name = 'IdentityUnavailableError'
  }
}

/** Another tab of this origin runs with the stored identity, and `whenIdentityInUse` was `'error'` */
export class IdentityInUseError extends Error {
  static name = 'IdentityInUseError'
  constructor (message: string, options?: ErrorOptions) {
    super(message, options)
    this.name = 'IdentityInUseError'
  }
}

/** No configured relay gave us a reservation in time */
export class RelayUnavailableError extends Error {
  static name = 'RelayUnavailableError'
  constructor (message: string, options?: ErrorOptions) {
    super(message, options)
    this.name = 'RelayUnavailableError'
  }
}

/** `connect()` tried every path it knows to a peer and none worked */
export class PeerUnreachableError extends Error {
  static name = 'PeerUnreachableError'
  /** the peer that could not be reached */
  readonly peerId: string
  constructor (peerId: string, message: string, options?: ErrorOptions) {
    super(message, options)
    this.name = 'PeerUnreachableError'
    this.peerId = peerId
  }
}

/** A request handler on the remote peer threw; `message` is the message it threw */
export class RemoteError extends Error {
  static name = 'RemoteError'
  /** the peer whose handler threw */
  readonly peerId: string
  /** the protocol that was called */
  readonly protocol: string
  constructor (peerId: string, protocol: string, message: string) {
    super(message)
    this.name = 'RemoteError'
    this.peerId = peerId
    this.protocol = protocol
  }
}

/** A payload is bigger than the limit that applies to it (`limit`, in bytes) */
export class MessageTooLargeError extends Error {
  static name = 'MessageTooLargeError'
  /** the size of what was refused, in bytes */
  readonly size: number
  /** the limit it is over, in bytes */
  readonly limit: number
  constructor (what: string, size: number, limit: number) {
    super(`${what} is ${size} bytes, over the limit of ${limit} bytes`)
    this.name = 'MessageTooLargeError'
    this.size = size
    this.limit = limit
  }
}

/** The peer (or room) was stopped (or left) before or during the call */
export class PeerStoppedError extends Error {
  static name = 'PeerStoppedError'
  constructor (message = 'The peer has been stopped') {
    super(message)
    this.name = 'PeerStoppedError'
  }
}

/** A room name or message payload cannot be used (e.g. a value JSON cannot serialise) */
export class InvalidMessageError extends Error {
  static name = 'InvalidMessageError'
  constructor (message: string, options?: ErrorOptions) {
    super(message, options)
    this.name = 'InvalidMessageError'
  }
}

/** The stored (or exported) identity is encrypted and the passphrase (or this browser's device key) is missing or wrong. It was left untouched. */
export class IdentityLockedError extends Error {
  static name = 'IdentityLockedError'
  constructor (message: string, options?: ErrorOptions) {
    super(message, options)
    this.name = 'IdentityLockedError'
  }
}

/** `importIdentity` found an identity stored already and was not told to `replace` it */
export class IdentityExistsError extends Error {
  static name = 'IdentityExistsError'
  constructor (message: string, options?: ErrorOptions) {
    super(message, options)
    this.name = 'IdentityExistsError'
  }
}

/** A dependency no longer has the shape Peerlane relies on (after an update); `dependency` names it */
export class IncompatibleDependencyError extends Error {
  static name = 'IncompatibleDependencyError'
  /** the npm package that changed */
  readonly dependency: string
  constructor (dependency: string, message: string) {
    super(`${dependency}: ${message}`)
    this.name = 'IncompatibleDependencyError'
    this.dependency = dependency
  }
}

/** What went wrong, as text, for any rejection reason: an Error's message, or a DOM Event's type (a WebSocket's 'error' event carries no message) */
export function reasonText (reason: unknown): string {
  if (reason instanceof Error) return reason.message !== '' ? reason.message : reason.name
  if (typeof Event !== 'undefined' && reason instanceof Event) return `${reason.type} event from ${(reason.target as any)?.constructor?.name ?? 'the transport'} (the browser gives no detail)`
  return String(reason)
}

/** The content store is full: `quota` bytes (the `content.quota` option, or the browser's storage quota) and nothing left to evict */
export class StorageQuotaError extends Error {
  static name = 'StorageQuotaError'
  /** bytes that did not fit */
  readonly size: number
  /** the configured quota in bytes */
  readonly quota: number
  constructor (size: number, quota: number, message: string, options?: ErrorOptions) {
    super(message, options)
    this.name = 'StorageQuotaError'
    this.size = size
    this.quota = quota
  }
}

/** `peer.fetch` found no holder that has the content (or one of its blocks); `cid` names what was missing */
export class ContentUnavailableError extends Error {
  static name = 'ContentUnavailableError'
  /** the CID of the content, or of the block nobody had */
  readonly cid: string
  constructor (cid: string, message: string, options?: ErrorOptions) {
    super(message, options)
    this.name = 'ContentUnavailableError'
    this.cid = cid
  }
}

/** Sealed content (shared into a private room) cannot be opened: a segment fails authentication (a different room's key, a wrong or altered ref, altered or truncated content), or a sealed ref was fetched outside its room */
export class ContentSealedError extends Error {
  static name = 'ContentSealedError'
  /** the CID of the content */
  readonly cid: string
  constructor (cid: string, message: string, options?: ErrorOptions) {
    super(message, options)
    this.name = 'ContentSealedError'
    this.cid = cid
  }
}
