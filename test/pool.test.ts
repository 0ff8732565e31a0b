/**
 * The worker pool on its own (compiled, since workers load JavaScript): parked runs make it start
 * workers in the background, and once idle the extra ones are retired down to one per core plus
 * the spares. The guest is test/fixtures/c/proxy.wasm; the fake host parks its backend call.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { expect, it } from 'vitest';
import type { HostConfig } from '../src/host/config.js';
import type { RunMessage, SyncReply, WorkerToMain } from '../src/host/protocol.js';
import type { WorkerPool as Pool } from '../src/server/pool.js';
import { compileSources } from './fixtures/components/harness.js';

it('starts workers for parked runs in the background, then retires the idle extra ones', async () => {
  const dist = await compileSources();
  const { WorkerPool } = (await import(pathToFileURL(join(dist, 'server/pool.js')).href)) as { WorkerPool: typeof Pool };
  const { prepareGuest } = (await import(pathToFileURL(join(dist, 'server/artifacts.js')).href)) as typeof import('../src/server/artifacts.js');
  const { emptyHostConfig, DEFAULT_TIMEOUTS } = (await import(pathToFileURL(join(dist, 'host/config.js')).href)) as typeof import('../src/host/config.js');
  const artifacts = await prepareGuest(new Uint8Array(readFileSync(join(import.meta.dirname, 'fixtures/c/proxy.wasm'))), join(dist, '..', 'artifacts'));
  const config: HostConfig = emptyHostConfig();
  config.backends.origin = { name: 'origin', url: 'http://127.0.0.1:9', useSni: true, dynamic: false, ...DEFAULT_TIMEOUTS };
  const pool = new WorkerPool(artifacts, config, { computeLimit: 1, spareWorkers: 0, idleRetireMs: 300 });
  try {
    await pool.warm();
    expect(pool.stats()).toMatchObject({ workers: 1, busy: 0 });
    const parked: Array<() => void> = [];
    const message: RunMessage = {
      kind: 'run',
      request: { id: 'pool', method: 'GET', uri: 'http://localhost/', version: 'http11', headers: [], originalHeaderNames: [], body: 1, knownLength: 0n },
      env: {},
    };
    const runs = Array.from({ length: 3 }, () =>
      pool.run((reply: (message: SyncReply) => void) => ({
        host: {
          handle(incoming: WorkerToMain) {
            if (incoming.kind === 'finished') return incoming;
            if (incoming.kind === 'call' && incoming.op === 'await-response') parked.push(() => reply({ op: 'await-response', result: { err: 'connection-refused', message: 'held by the test' } }));
            return undefined;
          },
        } as never,
        message,
      })),
    );
    // One worker, one core: the other two runs get workers started while the first is parked.
    while (parked.length < 3) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(pool.stats()).toMatchObject({ workers: 3, busy: 3, queued: 0 });
    parked.forEach((release) => release());
    for (const { finished } of await Promise.all(runs)) expect(finished.outcome).toBe('ok');
    // Idle past idleRetireMs: back to the floor of one per core plus no spares.
    while (pool.stats().workers > 1) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(pool.stats()).toMatchObject({ workers: 1, retired: 2, killed: 0 });
  } finally {
    await pool.close();
  }
}, 120_000);

it('boots a worker while the app still loads; a load that fails fails warm and leaves no worker', async () => {
  const dist = await compileSources();
  const { WorkerPool } = (await import(pathToFileURL(join(dist, 'server/pool.js')).href)) as { WorkerPool: typeof Pool };
  const { prepareGuest } = (await import(pathToFileURL(join(dist, 'server/artifacts.js')).href)) as typeof import('../src/server/artifacts.js');
  const { emptyHostConfig } = (await import(pathToFileURL(join(dist, 'host/config.js')).href)) as typeof import('../src/host/config.js');
  const loaded = prepareGuest(new Uint8Array(readFileSync(join(import.meta.dirname, 'fixtures/c/proxy.wasm'))), join(dist, '..', 'artifacts'));
  const later = pendingPool(emptyHostConfig());
  // The worker exists (booting) before the artifacts do.
  expect(later.pool.stats()).toMatchObject({ workers: 0 });
  const warming = later.pool.warm();
  expect(later.pool.stats()).toMatchObject({ workers: 1, starting: 1 });
  later.resolve(await loaded);
  await warming;
  expect(later.pool.stats().workers).toBeGreaterThanOrEqual(1);
  await later.pool.close();

  const failing = pendingPool(emptyHostConfig());
  const warmingFailed = failing.pool.warm();
  failing.reject(new Error('the app did not load'));
  await expect(warmingFailed).rejects.toThrow('the app did not load');
  await expect.poll(() => failing.pool.stats().workers, { timeout: 10_000 }).toBe(0);
  await failing.pool.close();

  /** A pool whose artifacts the test hands over (or fails) later. */
  function pendingPool(config: HostConfig) {
    let resolve!: (artifacts: Awaited<typeof loaded>) => void;
    let reject!: (err: Error) => void;
    const artifacts = new Promise<Awaited<typeof loaded>>((res, rej) => ((resolve = res), (reject = rej)));
    return { pool: new WorkerPool(artifacts, config, { computeLimit: 1, spareWorkers: 0 }), resolve, reject };
  }
}, 120_000);
