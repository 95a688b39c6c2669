#!/usr/bin/env node
// The `peerlane-relay` command. A committed, executable launcher rather than the bundle itself: a rebuild
// writes relay-server/dist/ anew (mode 0644), which made the next `npx peerlane-relay` fail with
// "Permission denied" when the bin pointed into dist/.
import '../dist/peerlane-relay.mjs'
