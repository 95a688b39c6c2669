// `vite build -c relay-server/test/fuzz.vite.config.ts` (what `npm run fuzz:relay` runs first):
// test/fuzz.ts with the relay, bundled as the relay's own build is (vite.config.ts, mode relay: the same
// dependency patches), into relay-server/dist-test/fuzz.mjs. Not minified, so stack traces read.
import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vite'
import root from '../../vite.config.ts'
import type { UserConfig } from 'vite'

export default defineConfig(async env => {
  const relay: UserConfig = await (root as (env: unknown) => UserConfig | Promise<UserConfig>)({ ...env, mode: 'relay' })
  return {
    ...relay,
    build: {
      ...relay.build,
      outDir: fileURLToPath(new URL('../dist-test', import.meta.url)),
      emptyOutDir: true,
      minify: false,
      rollupOptions: {
        ...relay.build?.rollupOptions,
        input: { fuzz: fileURLToPath(new URL('./fuzz.ts', import.meta.url)) }
      }
    }
  }
})
