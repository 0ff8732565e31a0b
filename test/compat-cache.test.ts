import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { readModuleInterface } from '../src/wasm/imports.js';
import { coreSignature, findWitxFunction, loadWitxDir, lowerFunction } from '../src/witx/index.js';
import { buildJsApp } from './support/js-app.js';
import { GateOrigin, originToml, serveInProcess, streamGet, type InProcessServe } from './support/cache-harness.js';

/*
 * The core cache and purge through adapt + serve over HTTP: a legacy C guest
 * (test/fixtures/c/corecache.c) on an in-process dev server, so the test can also check what
 * the main side holds afterwards. Concurrent requests run on different workers; where a test
 * needs a guest to be at a given point, the guest waits on (or signals) the test's origin.
 */

const here = dirname(fileURLToPath(import.meta.url));
let origin: GateOrigin;
let serve: InProcessServe;

const get = async (query: string, headers: Record<string, string> = {}) => {
  const res = await fetch(`${serve.url}/?${query}`, { headers });
  return { status: res.status, text: await res.text() };
};

/** Nothing a request held is left once every request has ended (their ends are processed after their responses). */
const settledClean = () =>
  vi.waitFor(() => expect(serve.cacheStats()).toMatchObject({ handles: 0, transactions: 0, waiting: 0, readers: 0 }), { timeout: 5000, interval: 20 });

beforeAll(async () => {
  origin = await new GateOrigin().start();
  serve = await serveInProcess(readFileSync(join(here, 'fixtures/c/corecache.wasm')), originToml(origin.port));
}, 120_000);

afterAll(async () => {
  await serve?.close();
  origin?.stop();
});

describe('committed cache guest builds', () => {
  const abi = loadWitxDir(join(here, '../witx'));
  it.each(['test/fixtures/c/corecache.wasm', 'bench/fixtures/cachehit.wasm'])('%s imports each hostcall with the exact WITX-lowered signature', (file) => {
    const { imports } = readModuleInterface(readFileSync(join(here, '..', file)));
    const hostcalls = imports.filter((imp) => imp.module.startsWith('fastly_'));
    expect(hostcalls.length).toBeGreaterThan(0);
    for (const imp of hostcalls) {
      const fn = findWitxFunction(abi, imp.module, imp.name);
      expect(fn, `${imp.module}#${imp.name}`).toBeDefined();
      expect(imp.type, `${imp.module}#${imp.name}`).toEqual(coreSignature(lowerFunction(abi, fn!)));
    }
  });
});

// Lookup states as the legacy flags: found 1, usable 2, stale 4, must-insert-or-update 8.
describe('core cache through a legacy C guest', { timeout: 20_000 }, () => {
  it('misses, inserts, then hits with the same bytes, metadata, length and hit count', async () => {
    expect(await get('op=get&key=basic&body=hello')).toEqual({ status: 200, text: 'state=8 waited=0 inserted' });
    expect((await get('op=get&key=basic')).text).toBe('state=3 waited=0 hit hits=1 length=5 meta=meta body=hello');
    expect((await get('op=get&key=basic')).text).toBe('state=3 waited=0 hit hits=2 length=5 meta=meta body=hello');
    expect(await get('op=read&key=basic')).toEqual({ status: 200, text: 'hello' });
    expect(await get('op=read&key=basic&from=1&to=3')).toEqual({ status: 200, text: 'ell' });
    expect(await get('op=read&key=nothing-here')).toEqual({ status: 404, text: 'miss' });
    await settledClean();
  });

  it('inserts a backend response body appended to the insert body (a main-side stream piped into the cache)', async () => {
    expect((await get('op=get&key=piped&body=head:&origin=/signal%3Fid%3Dpiped')).text).toBe('state=8 waited=0 append=0 inserted');
    expect((await get('op=get&key=piped')).text).toBe('state=3 waited=0 hit hits=1 length=18 meta=meta body=head:/signal piped');
    await settledClean();
  });

  it('collapses two concurrent transaction lookups: exactly one inserts, the other waits and reads the same bytes', async () => {
    const first = get('op=get&key=collapse&body=from-A&pre=gate-A&name=A');
    await origin.arrived('gate-A');
    const second = get('op=get&key=collapse&body=from-B&pre=gate-B&name=B');
    // B is parked behind A's transaction (it said so before blocking); only now may A insert.
    await origin.arrived('B-waiting');
    origin.open('gate-A');
    expect(await first).toEqual({ status: 200, text: 'state=8 waited=0 inserted' });
    expect((await second).text).toBe('state=3 waited=1 hit hits=1 length=6 meta=meta body=from-A');
    await settledClean();
  });

  it('streams an object to a reader on another worker while it is being inserted', async () => {
    const writer = get('op=get&key=stream&body=first-part&rest=second-part&mid=gate-S');
    await origin.arrived('gate-S');
    const reader = await streamGet(`${serve.url}/?op=read&key=stream`);
    expect(reader.status).toBe(200);
    // The writer is still held at its gate: these bytes came before it finished.
    expect(reader.first).toBe('first-part');
    origin.open('gate-S');
    expect(await reader.rest).toBe('first-partsecond-part');
    expect((await writer).text).toBe('state=8 waited=0 inserted');
    await settledClean();
  });

  it('serves a stale object within stale-while-revalidate while exactly one request revalidates', async () => {
    expect((await get('op=get&key=swr&body=v1&ttl=0&swr=100')).text).toBe('state=8 waited=0 inserted');
    const revalidator = get('op=get&key=swr&body=v2&ttl=60&pre=gate-W');
    await origin.arrived('gate-W');
    // Stale but usable, and not obliged: another request already revalidates.
    expect((await get('op=get&key=swr')).text).toBe('state=7 waited=0 hit hits=2 length=2 meta=meta body=v1');
    origin.open('gate-W');
    expect((await revalidator).text).toBe('state=15 waited=0 inserted');
    expect((await get('op=get&key=swr')).text).toBe('state=3 waited=0 hit hits=1 length=2 meta=meta body=v2');
    await settledClean();
  });

  it('purges by surrogate key: hard removes, soft leaves a stale object usable within stale-while-revalidate', async () => {
    await get('op=get&key=p1&body=one&sk=group%20p1');
    await get('op=get&key=p2&body=two&sk=group');
    await get('op=get&key=p3&body=three&sk=other');
    const verbose = await get('op=purge&sk=group&verbose=1');
    expect(verbose.text).toMatch(/^purge status=0 \{"status":"ok","id":"[0-9]+-[0-9]+-[0-9]+"\}$/);
    expect((await get('op=read&key=p1')).status).toBe(404);
    expect((await get('op=read&key=p2')).status).toBe(404);
    expect(await get('op=read&key=p3')).toEqual({ status: 200, text: 'three' });

    await get('op=get&key=s1&body=kept&sk=soft&swr=100');
    await get('op=get&key=s2&body=dropped&sk=soft');
    expect((await get('op=purge&sk=soft&soft=1')).text).toMatch(/^purge status=0 /);
    expect(await get('op=read&key=s1')).toEqual({ status: 200, text: 'kept' });
    expect((await get('op=read&key=s2')).status).toBe(404);
    // A transaction sees it stale and is told to revalidate.
    expect((await get('op=get&key=s1&body=fresh')).text).toBe('state=15 waited=0 inserted');
    expect(await get('op=read&key=s1')).toEqual({ status: 200, text: 'fresh' });
    await settledClean();
  });

  it('replaces: immediate keeps the old object until the new one is complete; force-miss shows the new one at once', async () => {
    await get('op=get&key=rep&body=old');
    expect((await get('op=replace&key=rep&body=new&strategy=1')).text).toBe('replaced old-state=3 old=old');
    expect(await get('op=read&key=rep')).toEqual({ status: 200, text: 'new' });

    const immediate = get('op=replace&key=rep&body=newer&rest=-tail&mid=gate-R1&strategy=1');
    await origin.arrived('gate-R1');
    expect(await get('op=read&key=rep')).toEqual({ status: 200, text: 'new' });
    origin.open('gate-R1');
    expect((await immediate).text).toBe('replaced old-state=3 old=new');
    expect(await get('op=read&key=rep')).toEqual({ status: 200, text: 'newer-tail' });

    const forced = get('op=replace&key=rep&body=forced&rest=-end&mid=gate-R2&strategy=2');
    await origin.arrived('gate-R2');
    const reader = await streamGet(`${serve.url}/?op=read&key=rep`);
    expect(reader.first).toBe('forced');
    origin.open('gate-R2');
    expect(await reader.rest).toBe('forced-end');
    expect((await forced).text).toBe('replaced old-state=3 old=newer-tail');
    await settledClean();
  });

  it('fails a transaction lookup that would wait on the obligation its own request holds, rather than hang', async () => {
    expect((await get('op=twice&key=self')).text).toBe('first: status 0 state 8\nsecond: status 1\nasync: status 1\ncancel: status 0\n');
    await settledClean();
  });

  it('hands the obligation on when the request holding it traps', async () => {
    expect((await get('op=trap&key=trapped')).status).toBe(500);
    expect((await get('op=get&key=trapped&body=after')).text).toBe('state=8 waited=0 inserted');
    await settledClean();
  });

  it('keeps Vary variants apart by the request headers the rule names', async () => {
    const en = { 'accept-language': 'en' };
    const fr = { 'accept-language': 'fr' };
    expect((await get('op=get&key=vary&vary=1&body=hello', en)).text).toBe('state=8 waited=0 inserted');
    expect((await get('op=get&key=vary&vary=1&body=bonjour', fr)).text).toBe('state=8 waited=0 inserted');
    expect((await get('op=get&key=vary&vary=1', en)).text).toMatch(/body=hello$/);
    expect((await get('op=get&key=vary&vary=1', fr)).text).toMatch(/body=bonjour$/);
    await settledClean();
  });

  it('selects over a cache entry, a replace entry, a pending request, a body and an HTTP-cache entry, with and without timeout, and leaves nothing behind', async () => {
    const holder = get('op=get&key=sel&body=held&pre=gate-H');
    await origin.arrived('gate-H');
    const selecting = get('op=select&key=sel&gate=gate-P&name=S&spin=2000');
    await origin.arrived('S-selecting');
    origin.open('gate-H');
    await origin.arrived('S-pending');
    origin.open('gate-P');
    const { status, text } = await selecting;
    expect(status).toBe(200);
    expect(text).toBe(
      [
        'transaction_lookup: status 0',
        'replace: status 0',
        'send_async: status 0',
        'select with timeout: status 0 index -1',
        'is_ready: entry 0 replace 0 pending 0 body 1',
        'select with a body: status 0 index 3',
        'http_cache transaction_lookup: status 0 ready 1',
        'select with an HTTP-cache entry: status 0 index 3',
        'http_cache close: status 0',
        'spins: 2000 of 2000 not ready',
        'select after the insert: status 0 index 0',
        'entry state: status 0 state 3',
        'select replace or pending: status 0 index 0',
        'replace state: status 0 state 3',
        'select pending: status 0 index 0',
        'is_ready: entry 1 replace 1 pending 1',
        'pending_req_wait: status 0',
        'close: status 0',
        '',
      ].join('\n'),
    );
    expect((await holder).text).toBe('state=8 waited=0 inserted');
    await settledClean();
  });
});

describe('core cache through a js-compute app (SimpleCache, CoreCache)', { timeout: 20_000 }, () => {
  let js: InProcessServe;
  const jsGet = async (path: string) => {
    const res = await fetch(`${js.url}${path}`);
    return `${res.status} ${await res.text()}`;
  };

  beforeAll(async () => {
    const app = await buildJsApp(join(here, 'fixtures/js-apps/cache.js'));
    js = await serveInProcess(readFileSync(app), originToml(origin.port));
  }, 180_000);

  afterAll(async () => {
    await js?.close();
  });

  it('SimpleCache.getOrSet computes once, then serves the cached value; purge removes it', async () => {
    expect(await jsGet('/simple-get?key=s')).toBe('200 none');
    expect(await jsGet('/simple?key=s&value=first')).toBe('200 computed:first');
    expect(await jsGet('/simple?key=s&value=second')).toBe('200 cached:first');
    expect(await jsGet('/simple-get?key=s')).toBe('200 found:first');
    expect(await jsGet('/simple-purge?key=s')).toBe('200 purged');
    expect(await jsGet('/simple?key=s&value=third')).toBe('200 computed:third');
    await settledClean();
  });

  it('CoreCache: transaction miss inserts, the next lookup hits with metadata; insert, lookup with a range, insert-and-stream-back', async () => {
    expect(await jsGet('/core?key=c&value=hello')).toBe('200 inserted');
    expect(await jsGet('/core?key=c')).toBe('200 hit:hello found=true stale=false hits=1 length=5 meta=meta maxAge=60000');
    expect(await jsGet('/core-lookup?key=none')).toBe('200 miss');
    expect(await jsGet('/core-insert?key=i&value=0123456789')).toBe('200 inserted');
    expect(await jsGet('/core-lookup?key=i')).toBe('200 found:0123456789');
    expect(await jsGet('/core-lookup?key=i&start=2&end=5')).toBe('200 found:2345');
    expect(await jsGet('/core-stream-back?key=b&value=round-trip')).toBe('200 streamed:round-trip');
    expect(await jsGet('/core-stream-back?key=b&value=other')).toBe('200 already:round-trip');
    await settledClean();
  });

  it('CoreCache.transactionLookupAsync: a busy handle that waits (with and without timeout) behind another request', async () => {
    expect(await jsGet('/core-async?key=a&value=first')).toBe('200 async inserted (pending=false)');
    expect(await jsGet('/core-async?key=a')).toBe('200 async hit (pending=false): first');
    const holder = jsGet('/core-hold?key=held&value=late&gate=js-gate');
    await origin.arrived('js-gate');
    expect(await jsGet('/core-async?key=held&timeout=50')).toBe('200 timed out (pending=true)');
    const waiter = jsGet('/core-async?key=held&signal=js-looked');
    // The waiter is parked: the holder has not inserted (its gate is shut), so nothing else can answer it.
    await vi.waitFor(() => expect(js.cacheStats().waiting).toBe(1), { timeout: 5000, interval: 20 });
    // Regression (flaky under load): parked is not yet looked. The gate opened as soon as the
    // lookup was parked, and the holder could insert before the waiter asked `pending()`.
    await origin.arrived('js-looked');
    origin.open('js-gate');
    expect(await holder).toBe('200 held and inserted');
    expect(await waiter).toBe('200 async hit (pending=true): late');
    await settledClean();
  });
});
