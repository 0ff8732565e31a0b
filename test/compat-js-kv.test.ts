import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileSources, startServe, type ServeProcess } from './fixtures/components/harness.js';
import { buildJsApp } from './support/js-app.js';

/*
 * A js-compute app using `KVStore` (fastly:kv-store) and `RateCounter` / `PenaltyBox` /
 * `EdgeRateLimiter` (fastly:edge-rate-limiter): test/fixtures/js-apps/kv-erl.js, built by the
 * installed js-compute-runtime into a legacy module and served by `witshim serve`.
 */

const here = dirname(fileURLToPath(import.meta.url));
let serve: ServeProcess;

beforeAll(async () => {
  const [dist, app] = await Promise.all([compileSources(), buildJsApp(join(here, 'fixtures/js-apps/kv-erl.js'))]);
  const dir = mkdtempSync(join(tmpdir(), 'witshim-js-kv-'));
  writeFileSync(
    join(dir, 'fastly.toml'),
    `manifest_version = 3
[[local_server.kv_stores.store]]
key = "seeded"
data = "from toml"
metadata = "seed-meta"
`,
  );
  serve = await startServe(dist, app, ['-C', join(dir, 'fastly.toml')]);
});

afterAll(async () => {
  await serve?.stop();
});

async function call(path: string, params: Record<string, string | number | string[]> = {}): Promise<{ status: number; text: string }> {
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) for (const one of Array.isArray(value) ? value : [value]) query.append(name, String(one));
  const res = await fetch(`${serve.url}${path}?${query}`);
  return { status: res.status, text: await res.text() };
}

const json = async (path: string, params: Record<string, string | number | string[]> = {}) => {
  const { status, text } = await call(path, params);
  expect(status, text).toBe(200);
  return JSON.parse(text) as Record<string, unknown>;
};

describe('js-compute KVStore under witshim serve', { timeout: 30_000 }, () => {
  it('opens configured stores; an unknown one throws', async () => {
    expect(await call('/open', { store: 'store' })).toEqual({ status: 200, text: 'opened' });
    const missing = await call('/open', { store: 'nope' });
    expect(missing.status).toBe(500);
    expect(missing.text).toMatch(/^error: /);
  });

  it('gets a seeded entry with its metadata; a missing key is null', async () => {
    expect(await json('/get', { key: 'seeded' })).toEqual({ text: 'from toml', metadata: 'seed-meta' });
    expect(await call('/get', { key: 'absent' })).toEqual({ status: 404, text: 'missing' });
  });

  it('put with modes and metadata; add on an existing key fails', async () => {
    expect((await call('/put', { key: 'js-modes', value: 'one', mode: 'add', meta: 'm' })).status).toBe(200);
    const again = await call('/put', { key: 'js-modes', value: 'two', mode: 'add' });
    expect(again.status).toBe(500);
    await call('/put', { key: 'js-modes', value: '>', mode: 'append' });
    await call('/put', { key: 'js-modes', value: '<', mode: 'prepend', meta: 'last' });
    expect(await json('/get', { key: 'js-modes' })).toEqual({ text: '<one>', metadata: 'last' });
  });

  it('a generation that does not match refuses the put', async () => {
    await call('/put', { key: 'js-gen', value: 'v1' });
    const stale = await call('/put', { key: 'js-gen', value: 'v2', gen: 1 });
    expect(stale.status).toBe(500);
    expect((await json('/get', { key: 'js-gen' })).text).toBe('v1');
  });

  it('delete, then the key is gone', async () => {
    await call('/put', { key: 'js-doomed', value: 'x' });
    expect((await call('/delete', { key: 'js-doomed' })).status).toBe(200);
    expect((await call('/get', { key: 'js-doomed' })).status).toBe(404);
  });

  it('lists with prefix and limit, paging through the cursor', async () => {
    for (const key of ['js-list/b', 'js-list/a', 'js-list/c']) await call('/put', { key, value: key });
    const first = await json('/list', { prefix: 'js-list/', limit: 2 });
    expect(first.list).toEqual(['js-list/a', 'js-list/b']);
    expect(typeof first.cursor).toBe('string');
    const second = await json('/list', { prefix: 'js-list/', limit: 2, cursor: first.cursor as string });
    expect(second).toEqual({ list: ['js-list/c'] });
  });

  it('several lookups in flight at once resolve together', async () => {
    await call('/put', { key: 'js-many-1', value: 'first' });
    await call('/put', { key: 'js-many-2', value: 'second' });
    const found = await call('/many', { key: ['js-many-1', 'absent', 'js-many-2', 'seeded'] });
    expect(JSON.parse(found.text)).toEqual(['first', null, 'second', 'from toml']);
  });
});

describe('js-compute edge rate limiting under witshim serve', { timeout: 30_000 }, () => {
  it('RateCounter counts across requests', async () => {
    await json('/erl/counter', { entry: 'js-client', delta: 30 });
    expect(await json('/erl/counter', { entry: 'js-client', delta: 40 })).toEqual({ count: 70, rate10: 7 });
  });

  it('EdgeRateLimiter blocks over the limit and penalises; PenaltyBox add / has', async () => {
    expect(await json('/erl/check', { entry: 'js-abuser', delta: 1, window: 1, limit: 10, ttl: 2 })).toEqual({ blocked: false });
    expect(await json('/erl/box', { entry: 'js-abuser' })).toEqual({ has: false });
    expect(await json('/erl/check', { entry: 'js-abuser', delta: 500, window: 1, limit: 10, ttl: 2 })).toEqual({ blocked: true });
    expect(await json('/erl/box', { entry: 'js-abuser' })).toEqual({ has: true });
    expect(await json('/erl/box', { box: 'js-box', entry: 'someone', ttl: 1 })).toEqual({ has: true });
    expect(await json('/erl/box', { box: 'js-box', entry: 'someone-else' })).toEqual({ has: false });
  });
});
