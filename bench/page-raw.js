// The raw WebRTC baseline of the benchmark pages: an RTCPeerConnection pair, signalled over a plain WebSocket
// server (bench/env.ts). Its calls are added to the window.bench of bench/page.js, which is loaded before this
// script (and has the clock and the state)
(() => {
  const { now, span, state, pad } = window.benchPage

  Object.assign(window.bench, {
    /** Connects to the signalling server as `id` and answers offers; answers 'ping:' with 'pong:' and counts bytes */
    async rawListen ({ signalling, id }) {
      const raw = state.raw = { id, ws: await openSignalling(signalling, id), pcs: [] }
      let chain = Promise.resolve()
      let pc
      raw.ws.addEventListener('message', e => {
        const msg = JSON.parse(e.data)
        chain = chain.then(async () => {
          if (msg.type === 'offer') {
            pc = new RTCPeerConnection({ iceServers: window.BENCH_ICE_SERVERS ?? [] })
            raw.pcs.push(pc)
            pc.addEventListener('icecandidate', c => { if (c.candidate != null) raw.ws.send(JSON.stringify({ to: msg.from, type: 'candidate', candidate: c.candidate })) })
            pc.addEventListener('datachannel', ({ channel }) => serveChannel(channel))
            await pc.setRemoteDescription(msg.description)
            await pc.setLocalDescription(await pc.createAnswer())
            raw.ws.send(JSON.stringify({ to: msg.from, type: 'answer', description: pc.localDescription }))
          } else if (msg.type === 'candidate') {
            await pc.addIceCandidate(msg.candidate)
          }
        }).catch(err => console.error('raw answerer:', err))
      })
    },

    /** Offer → open data channel to `target`, with trickle ICE over the signalling server, in ms */
    async rawConnect ({ signalling, id, target }) {
      const ws = await openSignalling(signalling, id)
      const t0 = now()
      const pc = new RTCPeerConnection({ iceServers: window.BENCH_ICE_SERVERS ?? [] })
      const channel = pc.createDataChannel('bench')
      channel.binaryType = 'arraybuffer'
      let chain = Promise.resolve()
      ws.addEventListener('message', e => {
        const msg = JSON.parse(e.data)
        chain = chain.then(async () => {
          if (msg.type === 'answer') await pc.setRemoteDescription(msg.description)
          else if (msg.type === 'candidate') await pc.addIceCandidate(msg.candidate)
        }).catch(err => console.error('raw offerer:', err))
      })
      pc.addEventListener('icecandidate', c => { if (c.candidate != null) ws.send(JSON.stringify({ to: target, type: 'candidate', candidate: c.candidate })) })
      const open = new Promise((resolve, reject) => {
        channel.addEventListener('open', resolve, { once: true })
        setTimeout(() => reject(new Error('raw data channel did not open within 20 s')), 20_000)
      })
      await pc.setLocalDescription(await pc.createOffer())
      ws.send(JSON.stringify({ to: target, type: 'offer', description: pc.localDescription }))
      await open
      const ms = now() - t0
      const at = span(t0)
      state.raw = { id, ws, pc, channel, pongs: new Map() }
      channel.addEventListener('message', e => {
        if (typeof e.data === 'string') state.raw.pongs.get(e.data.slice(5))?.(e.data)
      })
      return { ms, at }
    },

    async rawLatency ({ count, size }) {
      const { channel, pongs } = state.raw
      const samples = []
      for (let i = 0; i < count; i++) {
        const id = pad(`${i}:${Math.random().toString(16).slice(2)}`, size - 5)
        const pong = new Promise((resolve, reject) => {
          pongs.set(id, resolve)
          setTimeout(() => reject(new Error('no pong within 5 s')), 5_000)
        })
        const t0 = now()
        channel.send('ping:' + id)
        await pong
        samples.push((now() - t0) / 2)
        pongs.delete(id)
      }
      return samples
    },

    /** `total` bytes in `chunk`-byte messages, paced by bufferedAmount; timed until the receiver acknowledges */
    async rawThroughput ({ total, chunk }) {
      const { channel, pongs } = state.raw
      const data = new Uint8Array(chunk)
      const done = new Promise(resolve => pongs.set('done', resolve))
      channel.bufferedAmountLowThreshold = 256 * 1024
      channel.send(`expect:${total}`)
      const t0 = now()
      for (let sent = 0; sent < total; sent += chunk) {
        if (channel.bufferedAmount > 1024 * 1024) {
          await new Promise(resolve => channel.addEventListener('bufferedamountlow', resolve, { once: true }))
        }
        channel.send(data)
      }
      await done
      pongs.delete('done')
      return { ms: now() - t0 }
    },

    async rawClose () {
      state.raw?.channel?.close()
      state.raw?.pc?.close()
      for (const pc of state.raw?.pcs ?? []) pc.close()
      state.raw?.ws?.close()
      state.raw = undefined
    }
  })

  async function openSignalling (url, id) {
    const ws = new WebSocket(`${url}/?id=${encodeURIComponent(id)}`)
    await new Promise((resolve, reject) => {
      ws.addEventListener('open', resolve, { once: true })
      ws.addEventListener('error', () => reject(new Error(`cannot reach the signalling server ${url}`)), { once: true })
    })
    return ws
  }

  /** The answering side of the raw channel: echoes pings, counts bulk bytes and says 'done:…' */
  function serveChannel (channel) {
    channel.binaryType = 'arraybuffer'
    let expect = 0
    let received = 0
    channel.addEventListener('message', e => {
      if (typeof e.data === 'string') {
        if (e.data.startsWith('ping:')) channel.send('pong:' + e.data.slice(5))
        if (e.data.startsWith('expect:')) { expect = Number(e.data.slice(7)); received = 0 }
        return
      }
      received += e.data.byteLength
      if (expect > 0 && received >= expect) { expect = 0; channel.send('pong:done') }
    })
  }
})()
