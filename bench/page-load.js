// The load figure's calls in the benchmark pages (bench/figures/load.ts), added to bench/page.js's window.bench:
// a Peerlane room, or a full mesh of raw RTCDataChannels signalled over the plain WebSocket server, each page
// sending timestamped messages at a fixed rate and recording when every message from the others arrived. Times are
// epoch ms (performance.timeOrigin + performance.now()), which the pages of one machine share.
(() => {
  const { now, state } = window.benchPage
  const epoch = () => performance.timeOrigin + performance.now()
  const sleep = ms => new Promise(resolve => setTimeout(resolve, ms))
  const filler = n => 'x'.repeat(Math.max(0, n))

  /** Sends `rate` messages a second for `seconds` through `send(seq, sentAt)`, paced against the clock; resolves to the count */
  async function paced (rate, seconds, send) {
    const start = now()
    let seq = 0
    while (now() - start < seconds * 1000) {
      const due = start + seq * 1000 / rate
      if (now() < due) await sleep(due - now())
      send(seq, epoch())
      seq++
    }
    return seq
  }

  Object.assign(window.bench, {
    /** Joins `room` and records [from, seq, sentAt, receivedAt] for each load message */
    async loadJoin ({ room }) {
      state.load = { room: await state.peer.join(room), received: [] }
      state.load.room.addEventListener('message', e => {
        const json = e.detail.json
        if (json?.load == null) return
        state.load.received.push([e.detail.from, json.load, json.at, epoch()])
      })
    },
    /** Waits until the room has `count` other members, each linked directly */
    async loadReady ({ count }) {
      const deadline = now() + 60_000
      const linked = () => state.load.room.peers.length >= count && state.load.room.peers.every(p => state.peer.connections().some(c => c.peerId === p && c.transport === 'webrtc'))
      while (!linked()) {
        if (now() > deadline) throw new Error(`${state.load.room.peers.length} members, not ${count} all linked, after 60 s`)
        await sleep(50)
      }
    },
    async loadSend ({ rate, seconds, size }) {
      const pad = filler(size - 40)
      const to = state.load.room.peers.length
      return { sent: await paced(rate, seconds, (seq, at) => { state.load.room.send({ load: seq, at, pad }).catch(() => {}) }), to }
    },
    loadResults () { return state.load.received },

    /** Raw baseline: a data channel to each of `peers` (the lower id offers), over the signalling server */
    async rawMeshJoin ({ signalling, id, peers }) {
      const ws = new WebSocket(`${signalling}/?id=${encodeURIComponent(id)}`)
      await new Promise((resolve, reject) => { ws.onopen = resolve; ws.onerror = () => reject(new Error('no signalling server')) })
      const mesh = state.mesh = { ws, pcs: new Map(), channels: new Map(), received: [] }
      const ice = window.BENCH_ICE_SERVERS ?? []
      const onChannel = (peer, channel) => {
        channel.onmessage = e => {
          const msg = JSON.parse(e.data)
          mesh.received.push([peer, msg.load, msg.at, epoch()])
        }
        channel.onopen = () => mesh.channels.set(peer, channel)
        if (channel.readyState === 'open') mesh.channels.set(peer, channel)
      }
      const pcFor = peer => {
        let pc = mesh.pcs.get(peer)
        if (pc == null) {
          pc = new RTCPeerConnection({ iceServers: ice })
          pc.onicecandidate = c => { if (c.candidate != null) ws.send(JSON.stringify({ to: peer, type: 'candidate', candidate: c.candidate })) }
          pc.ondatachannel = ({ channel }) => onChannel(peer, channel)
          mesh.pcs.set(peer, pc)
        }
        return pc
      }
      let chain = Promise.resolve()
      ws.onmessage = e => {
        const msg = JSON.parse(e.data)
        chain = chain.then(async () => {
          const pc = pcFor(msg.from)
          if (msg.type === 'offer') {
            await pc.setRemoteDescription(msg.description)
            await pc.setLocalDescription(await pc.createAnswer())
            ws.send(JSON.stringify({ to: msg.from, type: 'answer', description: pc.localDescription }))
          } else if (msg.type === 'answer') {
            await pc.setRemoteDescription(msg.description)
          } else if (msg.type === 'candidate') {
            await pc.addIceCandidate(msg.candidate)
          }
        }).catch(err => console.error('raw mesh:', err))
      }
      for (const peer of peers.filter(p => p > id)) {
        const pc = pcFor(peer)
        onChannel(peer, pc.createDataChannel('load'))
        await pc.setLocalDescription(await pc.createOffer())
        ws.send(JSON.stringify({ to: peer, type: 'offer', description: pc.localDescription }))
      }
    },
    /** Waits up to 60 s for `count` open channels; resolves to how many are open (a pair whose ICE failed is left out) */
    async rawMeshReady ({ count }) {
      const deadline = now() + 60_000
      while (state.mesh.channels.size < count && now() < deadline) await sleep(50)
      return state.mesh.channels.size
    },
    async rawMeshSend ({ rate, seconds, size }) {
      const pad = filler(size - 40)
      const to = state.mesh.channels.size
      return { sent: await paced(rate, seconds, (seq, at) => { const text = JSON.stringify({ load: seq, at, pad }); for (const c of state.mesh.channels.values()) c.send(text) }), to }
    },
    rawMeshResults () { return state.mesh.received },
    rawMeshClose () {
      for (const pc of state.mesh?.pcs.values() ?? []) pc.close()
      state.mesh?.ws.close()
      state.mesh = undefined
    }
  })
})()
