import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import type http from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readModuleInterface } from '../src/wasm/imports.js';
import { coreSignature, findWitxFunction, loadWitxDir, lowerFunction } from '../src/witx/index.js';
import { compileSources, startServe, type ServeProcess } from './fixtures/components/harness.js';
import { startOrigin, stopOrigin } from './support/serve-harness.js';

/*
 * KV stores, object stores and edge rate limiting end to end: the legacy C guest kv.c (raw
 * fastly_kv_store / fastly_object_store / fastly_erl hostcalls, see its header for the query
 * it takes) adapted and served by `witshim serve`, state kept on the server's main thread.
 */

const here = dirname(fileURLToPath(import.meta.url));
const guest = join(here, 'fixtures/c/kv.wasm');
/** fastly_status and kv_error values the guest reports. */
const INVAL = 2;
const KV = { ok: 1, badRequest: 2, notFound: 3, preconditionFailed: 4 } as const;

function toml(originPort: number, seed: string): string {
  return `manifest_version = 3
[local_server.backends.origin]
url = "http://127.0.0.1:${originPort}"
[[local_server.kv_stores.store]]
key = "seeded"
data = "${seed}"
metadata = "seed-meta"
[[local_server.object_stores.objects]]
key = "first"
data = "object one"
`;
}

let origin: http.Server;
let originPort: number;
let serve: ServeProcess;
let dist: string;

beforeAll(async () => {
  dist = await compileSources();
  ({ server: origin, port: originPort } = await startOrigin());
  const dir = mkdtempSync(join(tmpdir(), 'witshim-kv-'));
  writeFileSync(join(dir, 'fastly.toml'), toml(originPort, 'from toml'));
  serve = await startServe(dist, guest, ['-C', join(dir, 'fastly.toml')]);
});

afterAll(async () => {
  await serve?.stop();
  stopOrigin(origin);
});

/** The guest's report as `name → value` (the first word of each line is the name). */
async function call(params: Record<string, string | number>, on: ServeProcess = serve): Promise<Record<string, string>> {
  const query = new URLSearchParams(Object.entries(params).map(([name, value]) => [name, String(value)]));
  const res = await fetch(`${on.url}/?${query}`);
  const text = await res.text();
  expect(res.status, text).toBe(200);
  return Object.fromEntries(
    text
      .split('\n')
      .filter(Boolean)
      .map((line) => {
        const space = line.indexOf(' ');
        return space < 0 ? [line, ''] : [line.slice(0, space), line.slice(space + 1)];
      }),
  );
}

const put = (key: string, value: string, extra: Record<string, string | number> = {}) => call({ op: 'put', key, value, ...extra });
const get = (key: string, extra: Record<string, string | number> = {}) => call({ op: 'get', key, ...extra });

describe('kv.wasm build', () => {
  it('imports each hostcall with the exact WITX-lowered signature', () => {
    const abi = loadWitxDir(join(here, '../witx'));
    const { imports } = readModuleInterface(readFileSync(guest));
    const modules = new Set<string>();
    for (const imp of imports.filter((entry) => entry.module.startsWith('fastly_'))) {
      const fn = findWitxFunction(abi, imp.module, imp.name);
      expect(fn, `${imp.module}#${imp.name}`).toBeDefined();
      expect(imp.type, `${imp.module}#${imp.name}`).toEqual(coreSignature(lowerFunction(abi, fn!)));
      modules.add(imp.module);
    }
    expect([...modules]).toEqual(expect.arrayContaining(['fastly_kv_store', 'fastly_object_store', 'fastly_erl']));
  });
});

describe('KV store under witshim serve', { timeout: 30_000 }, () => {
  it('opens stores from fastly.toml; an unknown name is inval, as the legacy ABI answers (the component interface says not-found)', async () => {
    expect((await call({ op: 'open' })).open).toBe('0');
    expect((await call({ op: 'open', store: 'nope' })).open).toBe(String(INVAL));
  });

  it('looks up a seeded entry with metadata and generation (v1 reports generation 0)', async () => {
    const found = await get('seeded');
    expect(found).toMatchObject({ lookup: '0', wait: '0', kverr: String(KV.ok), meta: 'seed-meta', body: 'from toml' });
    expect(BigInt(found.gen!)).toBeGreaterThan(0n);
    expect((await get('seeded', { v1: 1 })).gen).toBe('0');
    expect(await get('no-such-key')).toMatchObject({ wait: '0', kverr: String(KV.notFound) });
  });

  it('insert modes: add only when absent, append, prepend, overwrite', async () => {
    expect((await put('modes', 'one', { mode: 'add' })).kverr).toBe(String(KV.ok));
    expect((await put('modes', 'two', { mode: 'add' })).kverr).toBe(String(KV.preconditionFailed));
    await put('modes', '>', { mode: 'append' });
    await put('modes', '<', { mode: 'prepend' });
    expect((await get('modes')).body).toBe('<one>');
    await put('modes', 'fresh', { meta: 'm1' });
    expect(await get('modes')).toMatchObject({ body: 'fresh', meta: 'm1' });
  });

  it('stores a request body streamed in from the client (a main-side source read whole)', async () => {
    const value = Buffer.alloc(300_000, 'abcdefghij');
    const res = await fetch(`${serve.url}/?op=put&key=uploaded&from=request`, { method: 'POST', body: value });
    expect(await res.text()).toContain(`kverr ${KV.ok}`);
    expect((await get('uploaded')).body).toBe(value.toString());
  });

  it('if-generation-match: a stale generation is a precondition failure, the current one writes', async () => {
    await put('gen', 'v1');
    const first = (await get('gen')).gen!;
    expect((await put('gen', 'v2', { gen: first })).kverr).toBe(String(KV.ok));
    const second = (await get('gen')).gen!;
    expect(second).not.toBe(first);
    expect((await put('gen', 'v3', { gen: first })).kverr).toBe(String(KV.preconditionFailed));
    expect((await get('gen')).body).toBe('v2');
  });

  it('delete reports whether the key was there', async () => {
    await put('doomed', 'x');
    expect((await call({ op: 'del', key: 'doomed' })).kverr).toBe(String(KV.ok));
    expect((await call({ op: 'del', key: 'doomed' })).kverr).toBe(String(KV.notFound));
    expect((await get('doomed')).kverr).toBe(String(KV.notFound));
  });

  it('lists pages as the platform JSON, following next_cursor to the end', async () => {
    for (const key of ['page/c', 'page/a', 'page/b']) await put(key, key);
    const first = JSON.parse((await call({ op: 'list', prefix: 'page/', limit: 2 })).json!);
    expect(first).toEqual({ data: ['page/a', 'page/b'], meta: { limit: 2, prefix: 'page/', next_cursor: Buffer.from('page/b').toString('base64') } });
    const second = JSON.parse((await call({ op: 'list', prefix: 'page/', limit: 2, cursor: first.meta.next_cursor })).json!);
    expect(second).toEqual({ data: ['page/c'], meta: { limit: 2, prefix: 'page/' } });
    const all = JSON.parse((await call({ op: 'list' })).json!);
    expect(all.meta).toEqual({ limit: 1000 });
    expect(all.data).toEqual([...all.data].sort());
    expect(all.data).toEqual(expect.arrayContaining(['page/a', 'seeded']));
  });

  it('refuses keys and metadata outside the documented limits', async () => {
    expect((await get('a#b')).lookup).toBe(String(INVAL));
    expect((await get('..')).lookup).toBe(String(INVAL));
    expect((await get('k'.repeat(1025))).lookup).toBe(String(INVAL));
    expect((await put('k'.repeat(1024), 'longest key')).kverr).toBe(String(KV.ok));
    expect((await put('.well-known/acme-challenge/x', 'v')).insert).toBe(String(INVAL));
    expect((await put('meta', 'v', { meta_len: 2001 })).kverr).toBe(String(KV.badRequest));
    expect((await put('meta', 'v', { meta_len: 2000 })).kverr).toBe(String(KV.ok));
    expect((await get('meta')).meta).toBe('m'.repeat(2000));
  });

  it('an entry with a TTL is there at first and vanishes once it runs out', async () => {
    // Three seconds are many times what a loaded machine adds between two requests.
    expect((await put('ttl', 'brief', { ttl: 3 })).kverr).toBe(String(KV.ok));
    expect((await get('ttl')).body).toBe('brief');
    const deadline = Date.now() + 20_000;
    let gone = false;
    while (!gone && Date.now() < deadline) {
      gone = (await get('ttl')).kverr === String(KV.notFound);
      if (!gone) await new Promise((resolve) => setTimeout(resolve, 250));
    }
    expect(gone).toBe(true);
  });

  it('a value one request inserts is seen by a request on another worker, and the other way round', async () => {
    // The relay request holds its worker until it sees `pong`, so the requests below run on others.
    const relay = call({ op: 'relay', key: 'ping', value: 'from the relay', key2: 'pong' });
    let seen = '';
    for (let i = 0; i < 200 && seen !== 'from the relay'; i++) {
      seen = (await get('ping')).body ?? '';
      if (seen !== 'from the relay') await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(seen).toBe('from the relay');
    await put('pong', 'from another worker');
    expect((await relay).seen).toMatch(/^after \d+ tries: from another worker$/);
  });

  it('a pending lookup goes into select with a pending request: ready first, is_ready, timeouts', async () => {
    const report = await call({ op: 'select', key: 'seeded', ms: 2000 });
    expect(report).toMatchObject({
      send_async: '0',
      lookup: '0',
      select: '0 index 1',
      ready: 'lookup 1 request 0',
      'select-timeout': `0 index ${0xffff_ffff}`,
      wait: '0',
      kverr: String(KV.ok),
      body: 'from toml',
      request: '0',
    });
  });

  it('object stores: lookup (missing is OK with no body), insert, async lookup and delete', async () => {
    expect(await call({ op: 'oget', store: 'objects', key: 'first' })).toMatchObject({ open: '0', lookup: '0', body: 'object one' });
    expect(await call({ op: 'oget', store: 'objects', key: 'absent' })).toMatchObject({ lookup: '0', missing: '' });
    expect((await call({ op: 'oput', store: 'objects', key: 'second', value: 'object two' })).insert).toBe('0');
    expect(await call({ op: 'oasync', store: 'objects', key: 'second' })).toMatchObject({
      lookup_async: '0',
      pending_lookup_wait: '0',
      body: 'object two',
      delete_async: '0',
      pending_delete_wait: '0',
      after: 'delete 0',
      missing: '',
    });
    expect((await call({ op: 'open', store: 'objects' })).open).toBe('0');
  });
});

describe('edge rate limiting under witshim serve', { timeout: 30_000 }, () => {
  it('counts increments across requests: lookup-count and lookup-rate', async () => {
    expect((await call({ op: 'inc', entry: 'counted', delta: 70 })).inc).toBe('0');
    expect((await call({ op: 'count', entry: 'counted', duration: 60 })).out).toBe('70');
    // 70 events over a 10-second window estimate 7 per second (the test takes far less than 10 s).
    expect((await call({ op: 'rate', entry: 'counted', window: 10 })).out).toBe('7');
    expect((await call({ op: 'count', entry: 'counted', duration: 15 })).count).toBe(String(INVAL));
    expect((await call({ op: 'rate', entry: 'counted', window: 2 })).rate).toBe(String(INVAL));
  });

  it('check-rate blocks over the limit and puts the entry in the penalty box', async () => {
    expect(await call({ op: 'check', entry: 'abuser', delta: 5, window: 1, limit: 10, ttl: 120 })).toMatchObject({ check: '0', out: '0' });
    expect((await call({ op: 'pbhas', entry: 'abuser' })).out).toBe('0');
    // 100 in the current second alone is over 10 per second, whichever second this lands in.
    expect(await call({ op: 'check', entry: 'abuser', delta: 100, window: 1, limit: 10, ttl: 120 })).toMatchObject({ check: '0', out: '1' });
    expect((await call({ op: 'pbhas', entry: 'abuser' })).out).toBe('1');
    // Penalised entries stay blocked whatever their rate.
    expect((await call({ op: 'check', entry: 'abuser', delta: 0, window: 60, limit: 1000, ttl: 120 })).out).toBe('1');
    expect((await call({ op: 'pbhas', entry: 'someone-else' })).out).toBe('0');
    expect((await call({ op: 'check', entry: 'abuser', window: 5 })).check).toBe(String(INVAL));
    expect((await call({ op: 'check', entry: 'abuser', ttl: 30 })).check).toBe(String(INVAL));
  });

  it('penalty boxes: add and has, TTLs of one minute to an hour', async () => {
    expect((await call({ op: 'pbadd', entry: 'boxed', ttl: 60 })).pbadd).toBe('0');
    expect((await call({ op: 'pbhas', entry: 'boxed' })).out).toBe('1');
    expect((await call({ op: 'pbhas', pb: 'another-box', entry: 'boxed' })).out).toBe('0');
    expect((await call({ op: 'pbadd', entry: 'boxed', ttl: 3601 * 2 })).pbadd).toBe(String(INVAL));
    expect((await call({ op: 'pbadd', entry: 'x'.repeat(257) })).pbadd).toBe(String(INVAL));
  });
});

describe('--watch reloads', { timeout: 60_000 }, () => {
  it('keep KV and rate-limit state unless fastly.toml changed, which reseeds the stores', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'witshim-kv-watch-'));
    const app = join(dir, 'kv.wasm');
    const config = join(dir, 'fastly.toml');
    copyFileSync(guest, app);
    writeFileSync(config, toml(originPort, 'seed one'));
    const watched = await startServe(dist, app, ['-C', config, '--watch']);
    const reloads = async (count: number) => {
      for (let i = 0; i < 400 && watched.stdout.filter((line) => /Reloaded/.test(line)).length < count; i++) await new Promise((resolve) => setTimeout(resolve, 50));
      expect(watched.stdout.filter((line) => /Reloaded/.test(line)).length).toBe(count);
    };
    try {
      await call({ op: 'put', key: 'kept', value: 'state' }, watched);
      await call({ op: 'pbadd', entry: 'kept' }, watched);
      // The same app bytes and the same fastly.toml: a reload that keeps every store.
      copyFileSync(guest, app);
      await reloads(1);
      expect((await call({ op: 'get', key: 'kept' }, watched)).body).toBe('state');
      expect((await call({ op: 'pbhas', entry: 'kept' }, watched)).out).toBe('1');
      // A changed fastly.toml starts afresh from its seeds.
      writeFileSync(config, toml(originPort, 'seed two'));
      await reloads(2);
      expect((await call({ op: 'get', key: 'kept' }, watched)).kverr).toBe(String(KV.notFound));
      expect((await call({ op: 'get', key: 'seeded' }, watched)).body).toBe('seed two');
      expect((await call({ op: 'pbhas', entry: 'kept' }, watched)).out).toBe('0');
    } finally {
      // Regression: the pools reloads replaced used to hold the process open for their 30 s grace period.
      const stopping = Date.now();
      await watched.stop();
      expect(Date.now() - stopping).toBeLessThan(15_000);
    }
  });
});
