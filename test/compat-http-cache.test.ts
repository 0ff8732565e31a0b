import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readModuleInterface } from '../src/wasm/imports.js';
import { coreSignature, findWitxFunction, loadWitxDir, lowerFunction } from '../src/witx/index.js';
import { compileSources, startServe, type ServeProcess } from './fixtures/components/harness.js';
import { buildJsApp } from './support/js-app.js';
import { stopOrigin } from './support/serve-harness.js';

/*
 * The HTTP cache through adapt + serve: a legacy C guest (test/fixtures/c/httpcache.c) runs the
 * readthrough flow with the `fastly_http_cache` hostcalls against an origin whose response
 * headers decide what is cached; the guest reports each step in `x-*` headers.
 */

const here = dirname(fileURLToPath(import.meta.url));
const wasm = join(here, 'fixtures/c/httpcache.wasm');

/** Origin requests seen per path (with query). */
const seen = new Map<string, number>();
/** `/held/<name>` requests park here until the test releases them. */
const held = new Map<string, () => void>();
const arrived = new Map<string, () => void>();

function arrival(name: string): Promise<void> {
  return new Promise((resolve) => arrived.set(name, resolve));
}

/**
 * Answers `/r?…` with the headers its query names (cc → Cache-Control, sc → Surrogate-Control,
 * sk → Surrogate-Key, vary, etag, cookie, status) and a body counting the requests for that URL;
 * `/held/<name>` waits for `held.get(name)()` then answers max-age=60. A request whose
 * If-None-Match matches the etag gets 304.
 */
function originHandler(req: http.IncomingMessage, res: http.ServerResponse): void {
  const url = new URL(req.url ?? '/', 'http://origin');
  const count = (seen.get(req.url!) ?? 0) + 1;
  seen.set(req.url!, count);
  const body = `origin #${count} ${url.pathname} lang=${req.headers['accept-language'] ?? ''}`;
  if (url.pathname.startsWith('/held/')) {
    const name = url.pathname.slice('/held/'.length);
    held.set(name, () => {
      held.delete(name);
      res.writeHead(200, { 'cache-control': 'max-age=60' });
      res.end(body);
    });
    arrived.get(name)?.();
    return;
  }
  const q = url.searchParams;
  const headers: Record<string, string> = {};
  const map: Record<string, string> = { cc: 'cache-control', sc: 'surrogate-control', sk: 'surrogate-key', vary: 'vary', etag: 'etag', cookie: 'set-cookie' };
  for (const [param, name] of Object.entries(map)) if (q.has(param)) headers[name] = q.get(param)!;
  if (q.has('etag') && req.headers['if-none-match'] === q.get('etag')) {
    res.writeHead(304, headers);
    res.end();
    return;
  }
  res.writeHead(Number(q.get('status') ?? 200), headers);
  res.end(body);
}

let origin: http.Server;
let serve: ServeProcess;
let toml: string;

beforeAll(async () => {
  const dist = await compileSources();
  origin = http.createServer(originHandler);
  await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', () => resolve()));
  const dir = mkdtempSync(join(tmpdir(), 'witshim-http-cache-'));
  toml = join(dir, 'fastly.toml');
  writeFileSync(toml, `manifest_version = 3\n[local_server.backends.origin]\nurl = "http://127.0.0.1:${(origin.address() as AddressInfo).port}"\n`);
  serve = await startServe(dist, wasm, ['-C', toml]);
  // Two workers up front, so requests that wait on each other do not wait for a worker to start.
  await Promise.all([get('/r?warm=1'), get('/r?warm=2')]);
});

afterAll(async () => {
  for (const release of held.values()) release();
  await serve?.stop();
  stopOrigin(origin);
});

interface Answer {
  status: number;
  body: string;
  h: (name: string) => string | null;
}

async function get(path: string, extra = ''): Promise<Answer> {
  const res = await fetch(`${serve.url}/?p=${encodeURIComponent(path)}${extra}`);
  const body = await res.text();
  return { status: res.status, body, h: (name) => res.headers.get(name) };
}

const FOUND = 1;
const USABLE = 2;
const STALE = 4;
const MUST_INSERT_OR_UPDATE = 8;
const INSERT = '0';
const UPDATE = '1';
const DO_NOT_STORE = '2';
const RECORD_UNCACHEABLE = '3';

describe('committed HTTP-cache guest build', () => {
  it('imports each hostcall with the exact WITX-lowered signature', () => {
    const abi = loadWitxDir(join(here, '../witx'));
    const { imports } = readModuleInterface(readFileSync(wasm));
    for (const imp of imports.filter((entry) => entry.module.startsWith('fastly_'))) {
      const fn = findWitxFunction(abi, imp.module, imp.name);
      expect(fn, `${imp.module}#${imp.name}`).toBeDefined();
      expect(imp.type, `${imp.module}#${imp.name}`).toEqual(coreSignature(lowerFunction(abi, fn!)));
    }
  });
});

describe('HTTP cache under witshim serve (C guest)', { timeout: 30_000 }, () => {
  it('miss, insert, then hit: the origin is asked once; Age and hits on the hit', async () => {
    const path = '/r?cc=max-age%3D60&sk=a%20b&n=hit';
    const miss = await get(path);
    expect([miss.status, miss.h('x-cacheable'), miss.h('x-key'), miss.h('x-state'), miss.h('x-action'), miss.h('x-path')]).toEqual([200, '0 1', '0 32', `0 ${MUST_INSERT_OR_UPDATE}`, INSERT, 'MISS']);
    expect(miss.h('x-ttl')).toBe('60 swr=0 vary= keys=a b');
    expect(miss.body).toBe('origin #1 /r lang=');
    const hit = await get(path);
    expect([hit.status, hit.h('x-state'), hit.h('x-path'), hit.h('x-hits')]).toEqual([200, `0 ${FOUND | USABLE}`, 'HIT', '1']);
    // Whole seconds since the insert: 0 unless the machine is very slow.
    expect(Number(hit.h('x-age'))).toBeLessThan(30);
    expect(hit.body).toBe('origin #1 /r lang=');
    expect(seen.get(path)).toBe(1);
  });

  it('prefers Surrogate-Control max-age to s-maxage and max-age', async () => {
    const miss = await get('/r?sc=max-age%3D100%2C%20stale-while-revalidate%3D7&cc=max-age%3D10%2C%20s-maxage%3D20&n=sc');
    expect(miss.h('x-ttl')).toBe('100 swr=7 vary= keys=');
  });

  it.each([
    ['Cache-Control: private', 'cc=private%2C%20max-age%3D60'],
    ['Cache-Control: no-store', 'cc=no-store'],
    ['Set-Cookie', 'cc=max-age%3D60&cookie=a%3Db'],
    ['an uncacheable status (201)', 'status=201'],
  ])('records %s as uncacheable; the next request passes to the origin', async (_what, query) => {
    const path = `/r?${query}&n=uncacheable`;
    const first = await get(path);
    expect([first.h('x-action'), first.h('x-path'), first.h('x-record')]).toEqual([RECORD_UNCACHEABLE, 'UNCACHEABLE', '0']);
    const second = await get(path);
    // Not found, and not obliged to insert: collapsing is off for the key, the guest goes to the origin.
    expect([second.h('x-state'), second.h('x-path')]).toEqual(['0 0', 'PASS']);
    expect(second.body).toMatch(/^origin #2 /);
  });

  it('does not store a server error, and the next request is asked to fill the key again', async () => {
    const path = '/r?status=503&cc=max-age%3D60&n=error';
    const first = await get(path);
    expect([first.status, first.h('x-action'), first.h('x-path'), first.h('x-abandon')]).toEqual([503, DO_NOT_STORE, 'NOSTORE', '0']);
    const second = await get(path);
    expect([second.h('x-state'), second.h('x-path')]).toEqual([`0 ${MUST_INSERT_OR_UPDATE}`, 'NOSTORE']);
  });

  it('keeps one variant per Vary value', async () => {
    const path = '/r?cc=max-age%3D60&vary=accept-language&n=vary';
    expect((await get(path, '&lang=en')).h('x-path')).toBe('MISS');
    expect((await get(path, '&lang=en')).body).toBe('origin #1 /r lang=en');
    const fr = await get(path, '&lang=fr');
    expect([fr.h('x-path'), fr.h('x-ttl'), fr.body]).toEqual(['MISS', '60 swr=0 vary=accept-language keys=', 'origin #2 /r lang=fr']);
    const frAgain = await get(path, '&lang=fr');
    expect([frAgain.h('x-path'), frAgain.body]).toEqual(['HIT', 'origin #2 /r lang=fr']);
    expect((await get(path, '&lang=en')).body).toBe('origin #1 /r lang=en');
  });

  it('revalidates a stale object with its etag; a 304 updates it and the stored body is served', async () => {
    const path = '/r?cc=no-cache&etag=%22v1%22&n=revalidate';
    const first = await get(path);
    expect([first.h('x-path'), first.h('x-ttl')?.split(' ')[0]]).toEqual(['MISS', '0']);
    const second = await get(path);
    expect([second.h('x-state'), second.h('x-conditional'), second.h('x-action'), second.h('x-path')]).toEqual([`0 ${FOUND | STALE | MUST_INSERT_OR_UPDATE}`, '"v1"', UPDATE, 'UPDATE']);
    expect(second.body).toBe('origin #1 /r lang=');
    expect(seen.get(path)).toBe(2);
  });

  it('serves a stale object under stale-while-revalidate, obliging one request to revalidate', async () => {
    const path = '/r?cc=max-age%3D1%2C%20stale-while-revalidate%3D60&n=swr';
    await get(path);
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const stale = await get(path);
    expect([stale.h('x-state'), stale.h('x-path'), stale.body]).toEqual([`0 ${FOUND | USABLE | STALE | MUST_INSERT_OR_UPDATE}`, 'HIT', 'origin #1 /r lang=']);
  });

  it('collapses concurrent transactions: one fetches, the others wait (one in select) and get its bytes', async () => {
    const came = arrival('collapse');
    const leader = get('/held/collapse');
    await came;
    const selecting = get('/held/collapse', '&select=50&tag=s1');
    const waiting = get('/held/collapse', '&tag=w1');
    // The leader answers only once both followers have looked up and the select has timed out.
    await serve.waitForLine(/\] select timed out s1$/, 20_000);
    await serve.waitForLine(/\] looked up w1$/, 20_000);
    held.get('collapse')!();
    const [first, second, third] = await Promise.all([leader, selecting, waiting]);
    expect(first.h('x-path')).toBe('MISS');
    expect([second.h('x-path'), third.h('x-path')]).toEqual(['HIT', 'HIT']);
    // The select timed out while the leader held the transaction, is_ready said no, then it waited.
    // is_ready right after the timeout may already see the leader done on a loaded machine.
    expect(second.h('x-select')).toMatch(/^0 -1 ready=[01] then 0 0 tagged=1$/);
    expect(new Set([first.body, second.body, third.body])).toEqual(new Set(['origin #1 /held/collapse lang=']));
    expect(seen.get('/held/collapse')).toBe(1);
  });

  it('a lookup on a key whose transaction the same request holds fails instead of hanging', async () => {
    const answer = await get('/r?cc=max-age%3D60&n=twice', '&twice=1');
    expect([answer.h('x-twice'), answer.h('x-path')]).toEqual(['0 1', 'MISS']);
  });

  it('answers the non-transactional lookup as unsupported', async () => {
    expect((await get('/r?n=plain', '&plain=1')).h('x-plain')).toBe('5');
  });
});

/*
 * The same app twice: as the runtime builds it by default, `fetch` sends with the cache override
 * and the host caches (the cache-override path of `send`); with `--enable-http-cache` the
 * runtime drives the HTTP-cache hostcalls itself (transaction lookup, suggested backend
 * request, prepare-response-for-storage, suggested options, insert-and-stream-back or
 * record-not-cacheable, found response) and adds the same headers.
 */
describe.each([
  ['host caching: send with the cache override', [], 'host'],
  ['guest caching: the runtime drives the HTTP-cache hostcalls (--enable-http-cache)', ['--enable-http-cache'], 'guest'],
])('CacheOverride on fetch in a js-compute app, %s', { timeout: 60_000 }, (_title, flags, mode) => {
  let js: ServeProcess;
  beforeAll(async () => {
    const [dist, app] = await Promise.all([compileSources(), buildJsApp(join(here, 'fixtures/js-apps/http-cache.js'), flags)]);
    js = await startServe(dist, app, ['-C', toml]);
  });
  afterAll(async () => {
    await js?.stop();
  });

  interface Seen {
    status: number;
    body: string;
    headers: Record<string, string | null>;
  }
  const fetchVia = async (path: string, extra = ''): Promise<Seen> => (await fetch(`${js.url}/?p=${encodeURIComponent(path)}${extra}`)).json() as Promise<Seen>;

  it('caches under the override TTL even when the origin says no-cache: MISS, then HIT from the cache', async () => {
    const path = `/r?cc=max-age%3D0&sk=origin-key&n=js-ttl-${mode}`;
    const miss = await fetchVia(path, '&ttl=60');
    expect(miss.headers['x-cache']).toBe('MISS');
    expect(miss.body).toBe('origin #1 /r lang=');
    const hit = await fetchVia(path, '&ttl=60');
    expect([hit.headers['x-cache'], hit.headers['x-cache-hits'], hit.body]).toEqual(['HIT', '1', 'origin #1 /r lang=']);
    expect(hit.headers.age).toMatch(/^\d+$/);
    if (mode === 'host') {
      // Surrogate headers are the cache's business unless the request asks to debug. (With guest
      // caching the runtime decides what the app sees; the installed one leaves them.)
      expect(hit.headers['surrogate-key']).toBeNull();
      expect((await fetchVia(path, '&ttl=60&debug=1')).headers['surrogate-key']).toBe('origin-key');
    }
    expect(seen.get(path)).toBe(1);
  });

  it.runIf(mode === 'host')('sends the same URL twice at once from one request: the second goes uncached instead of waiting on itself', async () => {
    const path = `/r?cc=max-age%3D60&n=js-twice-${mode}`;
    const answers = (await (await fetch(`${js.url}/?p=${encodeURIComponent(path)}&ttl=60&twice=1`)).json()) as Array<{ cache: string; body: string }>;
    expect(answers.map((answer) => answer.cache)).toEqual(['MISS', 'MISS']);
    expect(new Set(answers.map((answer) => answer.body))).toEqual(new Set(['origin #1 /r lang=', 'origin #2 /r lang=']));
    // The first one stored its answer.
    expect((await fetchVia(path, '&ttl=60')).headers['x-cache']).toBe('HIT');
  });

  it('follows the origin\'s headers when the override sets no TTL, and passes with pass', async () => {
    const cached = `/r?cc=max-age%3D60&n=js-origin-${mode}`;
    await fetchVia(cached, '&sk=mine');
    expect((await fetchVia(cached, '&sk=mine')).headers['x-cache']).toBe('HIT');
    const privatePath = `/r?cc=private&n=js-private-${mode}`;
    await fetchVia(privatePath, '&sk=mine');
    const again = await fetchVia(privatePath, '&sk=mine');
    expect([again.headers['x-cache'], again.body]).toEqual(['MISS', 'origin #2 /r lang=']);
    const passed = `/r?cc=max-age%3D60&n=js-pass-${mode}`;
    await fetchVia(passed, '&mode=pass');
    const second = await fetchVia(passed, '&mode=pass');
    expect([second.headers['x-cache'], second.body]).toEqual([null, 'origin #2 /r lang=']);
  });
});
