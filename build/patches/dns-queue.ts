// @multiformats/dns's DNS-over-HTTPS resolver (what a browser peer resolves /dnsaddr with) limits its concurrent
// queries with p-queue, which brings eventemitter3 along: ~3.8 KB gzip of the browser bundle for one queue,
// while @libp2p/utils' Queue (in the bundle anyway: libp2p's dialer, identify and others use it) does the same
// (`new Queue({ concurrency })`, `add(fn, { signal })` resolving to fn's result; it was modelled on p-queue).
// Same behaviour: at most `queryConcurrency` (4) queries at a time, abortable while queued.
// Upstream: not filed (p-queue is a fine choice where nothing else has a queue). Delete if @multiformats/dns
// stops using p-queue, or if the browser build ever bundles p-queue for something else anyway.
import { replaceText } from '../patch.ts'
import type { Patch } from '../patch.ts'

export const dnsQueue: Patch = {
  name: 'dns-queue',
  targets: ['browser'],
  replacements: [
    replaceText('dns-queue', '/@multiformats/dns/dist/src/resolvers/dns-json-over-https.js', 'the p-queue import',
      "import PQueue from 'p-queue';", "import { Queue as PQueue } from '@libp2p/utils';")
  ]
}
