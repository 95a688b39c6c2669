// Runs inside the benchmark pages (plain JS, loaded after dist/peerlane.min.js or the stock bundle, or with no
// bundle for the raw WebRTC baselines), then page-stock.js and page-raw.js, which add their calls to its
// window.bench. The figures (bench/figures/*.ts) call these as `window.bench.<name>(args)`. Every timing is taken
// in the page, with performance.now(), so that Playwright's round trips are not part of any figure. This script
// has what the three share (the clock, the page's state) and the Peerlane calls (dist/peerlane.min.js).
(() => {
  const now = () => performance.now()
  /** [start, end] of a span in epoch ms (performance.timeOrigin-based), which the delay proxy's clock shares */
  const span = (t0) => [performance.timeOrigin + t0, performance.timeOrigin + now()]
  const SINK = '/peerlane-bench/sink/1.0.0'
  const ECHO = '/peerlane-bench/echo/1.0.0'
  const state = { node: undefined, peer: undefined, room: undefined, raw: undefined }

  const sleep = ms => new Promise(resolve => setTimeout(resolve, ms))
  const waitFor = async (check, timeout, what) => {
    const deadline = now() + timeout
    while (!check()) {
      if (now() > deadline) throw new Error(`timed out waiting for ${what}`)
      await sleep(5)
    }
  }
  const pad = (text, size) => text.length >= size ? text : text + ' '.repeat(size - text.length)

  /** An unlimited (not relayed) WebRTC connection to `peerId` on a libp2p node, if there is one */
  const directConnection = (node, peerId) => node.getConnections()
    .find(c => c.remotePeer.toString() === peerId && c.limits == null && /\/webrtc(\/|$)/.test(c.remoteAddr.toString()))

  /** Counts the bytes of each stream of the sink protocol; after `expect` bytes answers one byte */
  const handleSink = async (node, expect) => {
    await node.handle(SINK, async (stream) => {
      let received = 0
      let acknowledged = false
      for await (const chunk of stream) {
        received += chunk.byteLength
        if (!acknowledged && received >= expect) {
          acknowledged = true
          stream.send(new Uint8Array([1]))
        }
      }
      await stream.close().catch(() => {})
    }, { runOnLimitedConnection: false })
  }

  /** Sends `total` bytes in `chunk`-byte writes over a new sink stream on `connection`; resolves when acknowledged */
  const sendToSink = async (connection, total, chunk) => {
    const stream = await connection.newStream(SINK)
    const data = new Uint8Array(chunk)
    const t0 = now()
    for (let sent = 0; sent < total; sent += chunk) {
      if (!stream.send(data)) await stream.onDrain()
    }
    await stream[Symbol.asyncIterator]().next() // the one-byte acknowledgement
    const ms = now() - t0
    await stream.close().catch(() => {})
    return ms
  }

  const bench = {
    /** createPeer → reservation, in ms */
    async peerlaneReady ({ relay }) {
      const t0 = now()
      state.peer = await window.Peerlane.createPeer({ relays: [relay], identity: 'memory' })
      const ms = now() - t0
      const at = span(t0)
      state.node = state.peer.libp2p
      // for peerlaneConnectUsable's request right after connect()
      await state.peer.handle(ECHO, data => data)
      return { ms, at, id: state.peer.id }
    },

    /** peer.connect(peerId) → a direct WebRTC link, in ms */
    async peerlaneConnect ({ peerId }) {
      const t0 = now()
      const info = await state.peer.connect(peerId, { signal: AbortSignal.timeout(20_000), allowRelayed: false })
      const ms = now() - t0
      const at = span(t0)
      if (!info.direct || info.transport !== 'webrtc') throw new Error(`not direct: ${JSON.stringify(info)}`)
      return { ms, at }
    },

    /**
     * peer.connect(peerId) as apps call it (relayed first): ms until it resolves (usable: a request can go
     * out) and until the direct WebRTC link is up (connection:direct)
     */
    async peerlaneConnectUsable ({ peerId }) {
      const t0 = now()
      const direct = new Promise(resolve => {
        const on = (e) => { if (e.detail.peerId === peerId) { state.peer.removeEventListener('connection:direct', on); resolve(now() - t0) } }
        state.peer.addEventListener('connection:direct', on)
      })
      await state.peer.connect(peerId, { signal: AbortSignal.timeout(20_000) })
      const usable = now() - t0
      const at = span(t0)
      // usable means usable: a request at once, over whatever link there is while WebRTC comes up
      const answer = new TextDecoder().decode(await state.peer.request(peerId, ECHO, 'right after connect', { signal: AbortSignal.timeout(20_000) }))
      if (answer !== 'right after connect') throw new Error(`the request right after connect() was answered ${JSON.stringify(answer)}`)
      const directMs = await Promise.race([direct, new Promise((resolve, reject) => setTimeout(() => reject(new Error('no direct link within 20 s')), 20_000))])
      // on one host the pair is the relay's STUN (srflx) or host/peer-reflexive, never TURN (none is offered) nor unknown
      const [link] = await state.peer.stats(peerId)
      if (link?.route !== 'stun' && link?.route !== 'direct') throw new Error(`direct link on route ${link?.route}`)
      return { ms: usable, at, direct: directMs, route: link.route }
    },

    /**
     * Closes this page's RTCPeerConnection to `peerId` under libp2p (as a network change would) and measures
     * how long until a direct WebRTC link to it is open again (links.ts heals room members' links)
     */
    async peerlaneHeal ({ peerId }) {
      const isLink = (c) => c.remotePeer.toString() === peerId && c.remoteAddr.toString().includes('/webrtc') && c.status === 'open'
      const conn = state.node.getConnections().find(isLink)
      const pc = conn?.maConn?.peerConnection ?? conn?.muxer?.peerConnection
      if (pc == null) throw new Error('no direct link to heal')
      const t0 = now()
      pc.close()
      while (state.node.getConnections().some(c => c === conn && c.status === 'open')) await new Promise(resolve => setTimeout(resolve, 20))
      while (!state.node.getConnections().some(isLink)) {
        if (now() - t0 > 30_000) throw new Error('not healed within 30 s')
        await new Promise(resolve => setTimeout(resolve, 20))
      }
      return { ms: now() - t0 }
    },

    async peerlaneJoin ({ room, echo }) {
      state.room = await state.peer.join(room)
      state.pongs = new Map()
      state.room.addEventListener('message', e => {
        const text = e.detail.text ?? ''
        if (echo && text.startsWith('ping:')) state.room.send('pong:' + text.slice(5)).catch(() => {})
        if (text.startsWith('pong:')) state.pongs.get(text.slice(5))?.()
      })
    },

    async peerlaneWaitForMember ({ peerId }) {
      await waitFor(() => state.room.peers.includes(peerId), 20_000, 'the other room member')
    },

    /** Steady state: the relay stands by (GossipSub sends it none of the room's messages) once the member is linked directly */
    async peerlaneWaitForStandby ({ relay }) {
      const pubsub = state.node.services.pubsub
      await waitFor(() => !pubsub.selectPeersToPublish(state.room.topic).tosend.has(relay), 10_000, 'the relay to stand by')
    },

    /** Round trips of room messages (ping, echoed as pong); one-way latency is each round trip / 2, in ms */
    async peerlaneRoomLatency ({ count, size }) {
      const samples = []
      for (let i = 0; i < count; i++) {
        const id = pad(`${i}:${Math.random().toString(16).slice(2)}`, size - 5)
        const pong = new Promise((resolve, reject) => {
          state.pongs.set(id, resolve)
          setTimeout(() => reject(new Error('no pong within 5 s')), 5_000)
        })
        const t0 = now()
        await state.room.send('ping:' + id)
        await pong
        samples.push((now() - t0) / 2)
        state.pongs.delete(id)
      }
      return samples
    },

    /** A libp2p stream on the peer's direct WebRTC link (peer.libp2p, until peer.openStream is merged) */
    async peerlaneHandleSink ({ expect }) { await handleSink(state.node, expect) },
    async peerlaneLibp2pStream ({ peerId, total, chunk }) {
      const connection = directConnection(state.node, peerId)
      if (connection == null) throw new Error('no direct WebRTC connection')
      return { ms: await sendToSink(connection, total, chunk) }
    },

    /** Peerlane's own streams: peer.handleStream / peer.openStream, web ReadableStream / WritableStream */
    async peerlaneHandleStreamSink ({ expect }) {
      await state.peer.handleStream(SINK + '/web', async (stream) => {
        let received = 0
        const reader = stream.readable.getReader()
        while (received < expect) {
          const { value, done } = await reader.read()
          if (done) break
          received += value.byteLength
        }
        const writer = stream.writable.getWriter()
        await writer.write(new Uint8Array([1]))
        await writer.close()
      })
    },
    async peerlaneStream ({ peerId, total, chunk }) {
      const data = new Uint8Array(chunk)
      const t0 = now()
      const stream = await state.peer.openStream(peerId, SINK + '/web')
      const writer = stream.writable.getWriter()
      for (let sent = 0; sent < total; sent += chunk) await writer.write(data)
      const reader = stream.readable.getReader()
      await reader.read() // the one-byte acknowledgement
      const ms = now() - t0
      await writer.close().catch(() => {})
      return { ms }
    },

    /** peer.share of `size` deterministic bytes (the same in every page for one seed): the ref, and ms */
    async peerlaneShare ({ size, seed }) {
      let made = 0
      let x = seed
      const stream = new ReadableStream({
        pull (controller) {
          if (made >= size) { controller.close(); return }
          const chunk = new Uint32Array(Math.min(1024 * 1024, size - made) / 4)
          for (let i = 0; i < chunk.length; i++) { x ^= x << 13; x ^= x >>> 17; x ^= x << 5; chunk[i] = x >>> 0 }
          made += chunk.byteLength
          controller.enqueue(new Uint8Array(chunk.buffer))
        }
      }, { highWaterMark: 0 })
      const t0 = now()
      const ref = await state.peer.share(stream, { name: 'bench.bin' })
      return { ref, ms: now() - t0 }
    },

    /** peer.fetch(ref, { from, as: 'stream' }), read to the end: ms, bytes, and the blocks each holder sent */
    async peerlaneFetch ({ ref, from }) {
      const byHolder = {}
      const t0 = now()
      const stream = await state.peer.fetch(ref, {
        from,
        as: 'stream',
        signal: AbortSignal.timeout(300_000),
        onProgress: p => { if (p.type === 'bytes' && p.from != null) byHolder[p.from] = (byHolder[p.from] ?? 0) + 1 }
      })
      let bytes = 0
      for await (const chunk of stream) bytes += chunk.byteLength
      return { ms: now() - t0, bytes, byHolder }
    },

    async peerlaneStop () {
      await state.peer?.stop()
      state.peer = undefined
    }
  }

  // for page-stock.js and page-raw.js, loaded after this script
  window.benchPage = { now, span, state, pad }
  window.bench = bench
})()
