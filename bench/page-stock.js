// The stock js-libp2p calls of the benchmark pages (bench/dist/stock-libp2p.min.js, window.StockLibp2p), added
// to the window.bench of bench/page.js, which is loaded before this script (and has the clock and the state)
(() => {
  const { now, span, state } = window.benchPage

  Object.assign(window.bench, {
    async stockReady ({ relay, on }) {
      const t0 = now()
      state.node = await window.StockLibp2p.startStockNode(relay, on)
      const ms = now() - t0
      return { ms, at: span(t0), id: state.node.peerId.toString() }
    },

    /**
     * The stock start-up again, split into phases (ms from the start at which each was reached): node created
     * (key generated), started, WebSocket open, connection upgraded (Noise, Yamux), relay identified, reservation
     */
    async stockReadyPhases ({ relay }) {
      const { createStockNode, multiaddr } = window.StockLibp2p
      const t0 = now()
      const phases = {}
      const mark = name => { phases[name] ??= now() - t0 }
      const NativeWebSocket = window.WebSocket
      window.WebSocket = class extends NativeWebSocket {
        constructor (...args) { super(...args); this.addEventListener('open', () => mark('WebSocket open')) }
      }
      try {
        const node = state.node = await createStockNode(relay)
        mark('node created')
        node.addEventListener('connection:open', () => mark('connection upgraded'))
        node.addEventListener('peer:identify', () => mark('relay identified'))
        const reserved = new Promise(resolve => node.addEventListener('transport:listening', () => {
          if (node.getMultiaddrs().some(ma => ma.toString().includes('/p2p-circuit'))) resolve()
        }))
        await node.start()
        mark('node started')
        await node.dial(multiaddr(relay))
        await reserved
        mark('reserved')
        return phases
      } finally {
        window.WebSocket = NativeWebSocket
      }
    },

    /** libp2p.dial of `<relay>/p2p-circuit/webrtc/p2p/<peerId>`, in ms */
    async stockConnect ({ relay, peerId }) {
      const { multiaddr } = window.StockLibp2p
      const t0 = now()
      // libp2p's progress events: when each step of the WebRTC dial began, in ms from the start
      const phases = {}
      const onProgress = evt => { phases[evt.type] ??= now() - t0 }
      const connection = await state.node.dial(multiaddr(`${relay}/p2p-circuit/webrtc/p2p/${peerId}`), { signal: AbortSignal.timeout(20_000), onProgress })
      const ms = now() - t0
      const at = span(t0)
      if (connection.limits != null) throw new Error('the connection is relayed, not direct')
      return { ms, at, phases: { ...phases, 'dial resolved': ms } }
    },

    async stockStop () {
      await state.node?.stop()
      state.node = undefined
    }
  })
})()
