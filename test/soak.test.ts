/**
 * The short soak `npm test` runs (issue 11): a few seconds of load at concurrency 16 on the C
 * hello, then the server's counts: no failed request, nothing in flight or queued, no worker
 * busy, no socket left open. `npm run soak` is the full run (60 s at 64, with the RSS trend).
 */
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { soak } from '../bench/soak.js';
import { compileSources } from './fixtures/components/harness.js';

it('a short soak: zero failed requests, and the server back to idle with no sockets left', async () => {
  const dist = await compileSources();
  const [result] = await soak({ apps: [join(import.meta.dirname, '../bench/fixtures/hello.wasm')], seconds: 4, concurrency: 16, dist });
  expect(result!.requests).toBeGreaterThan(50);
  expect(result!.failed).toBe(0);
  expect(result!.after).toMatchObject({ inflight: 0, queued: 0, busy: 0, killed: 0 });
  // Workers stay bounded by demand: CPU-bound load needs one per core plus the spares.
  expect(result!.maxWorkers).toBeLessThanOrEqual(8);
  if (result!.before.sockets !== undefined) expect(result!.after.sockets).toBeLessThanOrEqual(result!.before.sockets + 2);
}, 120_000);
