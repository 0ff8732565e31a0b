import { readFileSync } from 'node:fs';
import type http from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readModuleInterface } from '../src/wasm/imports.js';
import { coreSignature, findWitxFunction, loadWitxDir, lowerFunction } from '../src/witx/index.js';
import { compileSources, startServe, type ServeProcess } from './fixtures/components/harness.js';
import { closedPort, fastWhileParked, startOrigin, stopOrigin, timedGet, writeFastlyToml } from './support/serve-harness.js';

/*
 * Legacy C guests (test/fixtures/c, built by build.sh and committed) served by `witshim serve`,
 * which adapts each module on the fly: every hostcall they make goes guest -> adapter -> host.
 */

const here = dirname(fileURLToPath(import.meta.url));
const guestDir = join(here, 'fixtures/c');
const GUESTS = ['hello', 'echo', 'proxy', 'stores', 'stream', 'dynamic', 'async', 'cache'] as const;
type Guest = (typeof GUESTS)[number];

let origin: http.Server;
let originPort: number;
let refusedPort: number;
const serves = {} as Record<Guest, ServeProcess>;
const url = (guest: Guest, path = '/') => `${serves[guest].url}${path}`;

beforeAll(async () => {
  const dist = await compileSources();
  ({ server: origin, port: originPort } = await startOrigin());
  refusedPort = await closedPort();
  const toml = writeFastlyToml(originPort, refusedPort);
  const start = async (guest: Guest) => {
    serves[guest] = await startServe(dist, join(guestDir, `${guest}.wasm`), ['-C', toml]);
  };
  // The first one builds the adapter when its inputs changed; the rest then reuse it rather
  // than each building it at once on two cores.
  await start(GUESTS[0]);
  await Promise.all(GUESTS.slice(1).map(start));
});

afterAll(async () => {
  await Promise.all(Object.values(serves).map((serve) => serve.stop()));
  stopOrigin(origin);
});

describe('committed C guest builds', () => {
  const abi = loadWitxDir(join(here, '../witx'));

  it.each(GUESTS)('%s imports each hostcall with the exact WITX-lowered signature', (guest) => {
    const { imports, exports } = readModuleInterface(readFileSync(join(guestDir, `${guest}.wasm`)));
    const hostcalls = imports.filter((imp) => imp.module.startsWith('fastly_'));
    expect(hostcalls.length).toBeGreaterThan(0);
    for (const imp of hostcalls) {
      const fn = findWitxFunction(abi, imp.module, imp.name);
      expect(fn, `${imp.module}#${imp.name}`).toBeDefined();
      expect(imp.type, `${imp.module}#${imp.name}`).toEqual(coreSignature(lowerFunction(abi, fn!)));
    }
    expect(exports.find((exp) => exp.name === '_start')?.type).toEqual({ params: [], results: [] });
  });
});

// A guest that spins should fail its test quickly, not hold the suite for the default 2 minutes.
describe('C guests under witshim serve', { timeout: 20_000 }, () => {
  it('hello: status, custom header and body', async () => {
    const res = await fetch(url('hello'));
    expect(res.status).toBe(200);
    expect(res.headers.get('x-guest')).toBe('c-hello');
    expect(await res.text()).toBe('hello from C');
  });

  // Also the regression test for ending cursors written as 4 of their 8 bytes (the guest checks).
  it('echo: method, URL and request headers (several pages of names) come back as response headers', async () => {
    const many = Object.fromEntries(Array.from({ length: 12 }, (_, i) => [`x-many-${String(i).padStart(2, '0')}`, `value ${i}`]));
    const res = await fetch(url('echo', '/some/path?q=1&r=%20'), { method: 'PUT', headers: { 'x-one': 'first', 'x-two': 'second value', ...many }, body: 'tiny' });
    expect(res.status).toBe(200);
    for (const [name, value] of Object.entries(many)) expect(res.headers.get(`x-echo-h-${name}`)).toBe(value);
    expect(res.headers.get('x-echo-method')).toBe('PUT');
    expect(res.headers.get('x-echo-url')).toBe(url('echo', '/some/path?q=1&r=%20'));
    expect(res.headers.get('x-echo-h-x-one')).toBe('first');
    expect(res.headers.get('x-echo-h-x-two')).toBe('second value');
    expect(res.headers.get('x-echo-h-host')).toBe(new URL(serves.echo.url).host);
    expect(await res.text()).toBe('tiny');
  });

  it('echo: a 1 MiB request body streams back through 16 KiB reads and writes', async () => {
    const payload = Buffer.alloc(1 << 20);
    for (let i = 0; i < payload.length; i++) payload[i] = (i * 131 + (i >> 12)) & 0xff;
    const res = await fetch(url('echo', '/big'), { method: 'POST', body: payload });
    expect(res.status).toBe(200);
    expect(Buffer.from(await res.arrayBuffer()).equals(payload)).toBe(true);
    const line = await serves.echo.waitForLine(/ echoed 1048576 bytes in \d+ reads/, 10_000);
    expect(line).toMatch(/^\[[^\]]+\] echoed 1048576 bytes in \d+ reads \(last status 0\)$/);
    expect(Number(/in (\d+) reads/.exec(line)![1])).toBeGreaterThanOrEqual(64);
  });

  it('proxy: forwards method, URI, headers and body; relays status, headers and body', async () => {
    const res = await fetch(url('proxy', '/a/b?c=d'), { method: 'POST', headers: { 'x-forward': 'fwd' }, body: 'x'.repeat(1000) });
    expect(res.status).toBe(203);
    expect(res.headers.get('x-origin')).toBe('1');
    expect(res.headers.get('x-seen-method')).toBe('POST');
    expect(res.headers.get('x-seen-forward')).toBe('fwd');
    expect(res.headers.get('x-proxied-by')).toBe('c-proxy');
    expect(await res.text()).toBe(`origin saw POST /a/b?c=d host=${new URL(serves.proxy.url).host} body=1000`);
  });

  it('proxy: send_async + pending_req_wait', async () => {
    const res = await fetch(url('proxy', '/x?async=1'), { headers: { 'x-forward': 'async' } });
    expect(res.status).toBe(203);
    expect(res.headers.get('x-seen-forward')).toBe('async');
    expect(res.headers.get('x-proxied-by')).toBe('c-proxy-async');
    expect(await res.text()).toBe(`origin saw GET /x?async=1 host=${new URL(serves.proxy.url).host} body=0`);
  });

  it.each([
    ['send', ''],
    ['send_async + pending_req_wait', '&async=1'],
  ])('proxy: a refused connection fails %s with the error status', async (_, extra) => {
    const res = await fetch(url('proxy', `/?backend=closed${extra}`));
    expect(res.status).toBe(502);
    expect(await res.text()).toBe(`${extra ? 'pending_req_wait' : 'send'}: status 1\n`);
  });

  it.each([
    ['send_v2', ''],
    ['pending_req_wait_v2', '&async=1'],
  ])('proxy: %s reports success, and a refused connection as connection_refused (7)', async (call, extra) => {
    const ok = await fetch(url('proxy', `/ok?v2=1${extra}`));
    expect(ok.status).toBe(203);
    expect(ok.headers.get('x-send-detail')).toBe(`${call}: status 0 detail 1`);
    const refused = await fetch(url('proxy', `/?backend=closed&v2=1${extra}`));
    expect(refused.status).toBe(502);
    expect(await refused.text()).toBe(`${call}: status 1 detail 7\n`);
  });

  it('proxy: an unknown backend is an invalid argument', async () => {
    const res = await fetch(url('proxy', '/?backend=nope'));
    expect(res.status).toBe(502);
    expect(await res.text()).toBe('send: status 2\n');
  });

  it('proxy: 10 requests on a fast path are served while 10 others wait on a backend', async () => {
    const slow = Array.from({ length: 10 }, () => url('proxy', '/held'));
    const fast = Array.from({ length: 10 }, (_, i) => url('proxy', `/fast/${i}`));
    const result = await fastWhileParked(slow, fast);
    expect(result.fast).toEqual(Array(10).fill(203));
    // All 10 waited at once, and none had finished when the fast ones had.
    expect(result.parkedAfterFast).toBe(10);
    expect(result.slow).toEqual(Array(10).fill(200));
  }, 120_000);

  it('dynamic: registers a backend at run time and sends to it', async () => {
    const res = await fetch(url('dynamic', `/?name=dyn1&target=127.0.0.1:${originPort}&path=/dyn%3Fx%3D1`));
    expect(await res.text()).toBe(`origin saw GET /dyn?x=1 host=127.0.0.1:${originPort} body=0`);
    expect(res.status).toBe(203);
  });

  it('dynamic: a first-byte timeout fails the send in time', async () => {
    const started = Date.now();
    const res = await fetch(url('dynamic', `/?name=dyn2&target=127.0.0.1:${originPort}&path=/hang&fbt=300`));
    expect(await res.text()).toBe('send_v2: status 1 detail 16\n');
    expect(res.status).toBe(502);
    expect(Date.now() - started).toBeLessThan(2500);
  });

  it.each([
    ['dictionary', 'dict', 'colour', 'blue'],
    ['config', 'settings', 'greeting', 'hi there'],
    ['secret', 'secrets', 'token', 's3cret'],
  ])('stores: %s lookup', async (kind, store, key, value) => {
    const res = await fetch(url('stores', `/?kind=${kind}&store=${store}&key=${key}`));
    expect(await res.text()).toBe(value);
    expect(res.status).toBe(200);
  });

  it.each([
    ['dictionary', 'dict', 'missing', 'lookup: status 10\n'],
    ['config', 'settings', 'missing', 'lookup: status 10\n'],
    ['secret', 'secrets', 'missing', 'lookup: status 10\n'],
  ])('stores: a missing %s key is none', async (kind, store, key, body) => {
    const res = await fetch(url('stores', `/?kind=${kind}&store=${store}&key=${key}`));
    expect(await res.text()).toBe(body);
    expect(res.status).toBe(404);
  });

  it('stores: lookups are logged to a log endpoint as `<endpoint> :: <line>`', async () => {
    await fetch(url('stores', '/?kind=config&store=settings&key=greeting&log=lookups'));
    await fetch(url('stores', '/?kind=secret&store=secrets&key=nope&log=lookups'));
    await serves.stores.waitForLine(/^lookups :: config settings\/greeting -> status 0$/, 10_000);
    await serves.stores.waitForLine(/^lookups :: secret secrets\/nope -> status 10$/, 10_000);
  });

  it('stream: the first bytes arrive while the guest still waits, select times out in between', async () => {
    const { status, first, end, chunks } = await timedGet(url('stream', '/?ms=1500'));
    const text = chunks.join('');
    expect(status).toBe(200);
    expect(text).toMatch(/^first\n(tick\n){5,}delayed 1500done\n$/);
    expect(chunks[0]).toBe('first\n');
    expect(first).toBeLessThan(1000);
    expect(end - first).toBeGreaterThan(1000);
  });

  it('async: select returns the request that finished first, is_ready reports the other pending', async () => {
    const res = await fetch(url('async', '/?slow=800&fast=50'));
    expect(await res.text()).toBe('first ready 1\nother ready 0 (status 0)\nbody delayed 800 (status 0)\nbody delayed 50 (status 0)\n');
  });

  it('async: pending_req_select hands back the request that finished first', async () => {
    const res = await fetch(url('async', '/?slow=800&fast=50&via=pending_req_select'));
    expect(await res.text()).toBe('pending_req_select done 1 (status 0)\nbody delayed 50 (status 0)\nbody delayed 800 (status 0)\n');
  });

  it('cache: a lookup through the shim gives a tagged handle that is_ready and close accept; tagged handles are refused as bodies', async () => {
    const res = await fetch(url('cache'));
    expect(await res.text()).toBe(
      'lookup: status 0\nis_ready: status 0 ready 1 tagged 1\nclose: status 0\nbody read with a cache tag: status 3\nis_ready on the invalid handle: status 3\n',
    );
  });
});
