// Real browsers behind real NATs: the NAT lab (nat/lab.ts) runs each browser inside its own host's namespace,
// behind its own router, with the relay and coturn in the public namespace; the scenarios and what each expects
// are in nat/scenarios.ts. `npm test` runs each scenario once per browser pair; `npm run test:nat -- --tries N`
// (nat-run.js) runs N tries of each (PEERLANE_NAT_TRIES) and prints the table of the rows written to
// PEERLANE_NAT_RESULTS.
import { appendFile } from 'node:fs/promises'
import { test, expect } from '@playwright/test'
import { NatEnv } from './nat/env.ts'
import { pairLabel, spuriousDirect } from './nat/result.ts'
import { GROUPS, PAIRS, SCENARIOS } from './nat/scenarios.ts'
import { summarize } from './nat/summary.ts'
import { labSupport, removeStaleLabs } from './nat/support.ts'
import type { Side, TryResult } from './nat/result.ts'

const support = labSupport({ commands: ['turnserver'] })
test.skip(!support.ok, support.ok ? '' : support.reason)

const attemptsLabel = (side?: Side): string => `[${(side?.attempts ?? []).map(a => `${a.states.join('>')}=${a.state}`).join(', ')}] direct×${side?.directEvents ?? 0}`

const TRIES = Math.max(1, Number(process.env.PEERLANE_NAT_TRIES ?? 1))
const RESULTS = process.env.PEERLANE_NAT_RESULTS

test.beforeAll(async () => { await removeStaleLabs() })

for (const [key, group] of Object.entries(GROUPS)) {
  test.describe(group.name, () => {
    let env: NatEnv | undefined
    test.beforeAll(async () => { env = await NatEnv.start(group) })
    test.afterAll(async () => { await env?.close() })

    for (const scenario of SCENARIOS.filter(s => s.group === key)) {
      for (const pair of PAIRS) {
        test(`${scenario.id}. ${scenario.title} · ${pair.name}`, async () => {
          const testInfo = test.info()
          test.setTimeout(30_000 + TRIES * 100_000)
          const results: TryResult[] = []
          for (let i = 0; i < TRIES; i++) results.push(await env!.try(scenario, pair))
          await testInfo.attach('tries.json', { body: JSON.stringify(results, null, 2), contentType: 'application/json' })
          const row = summarize(scenario, pair, results)
          if (RESULTS != null) await appendFile(RESULTS, `${JSON.stringify(row)}\n`)

          const spuriousTries: string[] = []
          for (const [i, r] of results.entries()) {
            console.log(`${scenario.id} ${pair.name} #${i + 1}: ${pairLabel(r.a?.stats)} ‖ ${pairLabel(r.b?.stats)}, connect() ${r.connectMs} ms` +
              `${r.directMs != null ? `, direct after ${r.directMs} ms` : ''}${r.settleMs != null ? `, settled ${r.settleMs} ms after the failed attempt` : ''}` +
              `${r.error != null ? `, error: ${r.error}` : ''}; attempts a ${attemptsLabel(r.a)}, b ${attemptsLabel(r.b)}`)
            // a WebRTC connection that never connected must not be announced as a direct link (it was, until the
            // build patch webrtc-until-connected)
            const spurious = [spuriousDirect(r.a) > 0 && 'a', spuriousDirect(r.b) > 0 && 'b'].filter(Boolean)
            if (spurious.length > 0) spuriousTries.push(`try ${i + 1}: connection:direct on ${spurious.join(' and ')} for a WebRTC connection that never connected`)
          }
          expect(spuriousTries).toEqual([])
          // the runner measures: there only a try that could not run at all fails the test
          if (TRIES > 1) expect(results.filter(r => r.error != null), JSON.stringify(row.problems)).toEqual([])
          else expect(row.problems[0], JSON.stringify(results[0], null, 1)).toEqual([])
        })
      }
    }
  })
}
