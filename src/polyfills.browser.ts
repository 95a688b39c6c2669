// libp2p 3 calls Promise.withResolvers; older browsers (Safari < 17.4, Chrome < 119) lack it
if (typeof Promise.withResolvers !== 'function') {
  Promise.withResolvers = function withResolvers<T> () {
    let resolve!: (value: T | PromiseLike<T>) => void
    let reject!: (reason?: unknown) => void
    const promise = new Promise<T>((_resolve, _reject) => { resolve = _resolve; reject = _reject })
    return { promise, resolve, reject }
  }
}

export {}
