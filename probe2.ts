import { chromium } from '@playwright/test'
import { chromiumLaunchOptions } from './test-e2e/browsers.ts'
import { execSync } from 'node:child_process'
const ctx = await chromium.launchPersistentContext('/tmp/pid-probe2', await chromiumLaunchOptions())
await ctx.newPage()
console.log(execSync("ps -eo pid,ppid,args --forest | grep -v grep | cut -c1-170 | grep -A14 'pid-probe2' | head -30").toString())
await ctx.close()
