// ready: createPeer → reservation in Chromium and Firefox, next to a stock js-libp2p node waiting for its relay
// address two ways; and where the stock start-up spends its time in Chromium (ready.phases).
import { addPhases, call, closePages, log, openPage, row, warmUpOrSample } from '../shared.ts'
import type { Context, Env } from '../shared.ts'
import type { Figure, Row } from '../stats.ts'

async function readyFigure (env: Env, kind: 'chromium' | 'firefox'): Promise<Figure> {
  const browser = kind === 'chromium' ? env.browsers.chromiumA : env.browsers.firefox
  const peerlane = row('Peerlane createPeer', 'subject')
  const stock = row('stock js-libp2p, waits for self:peer:update')
  const stockFast = row('stock js-libp2p, waits for transport:listening')
  const figure: Figure = {
    id: `ready.${kind}`,
    title: `ready: createPeer → reservation, ${kind === 'chromium' ? 'Chromium' : 'Firefox'}`,
    unit: 'ms',
    better: 'lower',
    rows: [peerlane, stock, stockFast],
    notes: ['stock node: same transports and services, fresh Ed25519 key; Peerlane: identity \'memory\' (a fresh key too)',
      'self:peer:update is how libp2p\'s examples wait for a relay address; libp2p emits it a debounced 1 s after the change'],
    targets: kind === 'chromium' ? [{ kind: 'median', value: 150, text: '≤ 150 ms median' }] : undefined
  }
  if (browser == null) { figure.unavailable = `no ${kind}`; return figure }
  const once = async (subject: Row | undefined, bundle: 'peerlane' | 'stock', on?: string): Promise<void> => {
    const page = await openPage(env, browser, bundle)
    try {
      await warmUpOrSample(subject, async () => (await call(page, `${bundle}Ready`, { relay: env.relay.address, on })).ms)
      await call(page, `${bundle}Stop`, {}, 10_000).catch(() => {})
    } finally {
      await closePages(page)
    }
  }
  await once(undefined, 'peerlane')
  await once(undefined, 'stock')
  for (let i = 0; i < env.options.runs; i++) {
    // alternate the order so that neither always runs right after the other
    const order: Array<[Row, 'peerlane' | 'stock', string?]> = [[peerlane, 'peerlane'], [stock, 'stock', 'self:peer:update'], [stockFast, 'stock', 'transport:listening']]
    for (let j = 0; j < order.length; j++) {
      const [subject, bundle, on] = order[(i + j) % order.length]
      await once(subject, bundle, on)
    }
  }
  return figure
}

/** Where the stock start-up spends its time (Chromium): ms from the start at which each phase is reached */
async function readyPhasesFigure (env: Env): Promise<Figure> {
  const figure: Figure = {
    id: 'ready.phases.chromium',
    title: 'ready, phases: stock js-libp2p start-up in Chromium, ms from the start at which each step was reached',
    unit: 'ms',
    better: 'lower',
    breakdown: true,
    rows: [],
    notes: ['Peerlane\'s createPeer runs the same steps (plus identity); its own overhead is the difference in the ready figure']
  }
  for (let i = 0; i <= env.options.runs; i++) {
    const page = await openPage(env, env.browsers.chromiumA, 'stock')
    try {
      const phases = await call<Record<string, number>>(page, 'stockReadyPhases', { relay: env.relay.address })
      if (i > 0) addPhases(figure, phases) // the first is a warm-up
      await call(page, 'stockStop', {}, 10_000).catch(() => {})
    } catch (err: any) {
      log(`ready phases: run failed: ${String(err?.message ?? err).split('\n')[0]}`)
    } finally {
      await closePages(page)
    }
  }
  return figure
}

export async function ready (ctx: Context): Promise<Figure[]> {
  const env = await ctx.env()
  const figures: Figure[] = []
  log('ready, Chromium')
  figures.push(await readyFigure(env, 'chromium'))
  log('ready, Firefox')
  figures.push(await readyFigure(env, 'firefox'))
  log('ready, phases')
  figures.push(await readyPhasesFigure(env))
  return figures
}
