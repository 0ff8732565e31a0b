import type http from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileSources, startServe, type ServeProcess } from './fixtures/components/harness.js';
import { buildJsApp } from './support/js-app.js';
import { closedPort, fastWhileParked, startOrigin, stopOrigin, timedGet, writeFastlyToml } from './support/serve-harness.js';

/*
 * A real js-compute app (test/fixtures/js-apps/compat.js, built by the installed
 * js-compute-runtime into a legacy module) served by `witshim serve`, which adapts it on the fly.
 */

const here = dirname(fileURLToPath(import.meta.url));

let origin: http.Server;
let originPort: number;
let serve: ServeProcess;
const url = (path: string) => `${serve.url}${path}`;

beforeAll(async () => {
  const [dist, app] = await Promise.all([compileSources(), buildJsApp(join(here, 'fixtures/js-apps/compat.js'))]);
  ({ server: origin, port: originPort } = await startOrigin());
  serve = await startServe(dist, app, ['-C', writeFastlyToml(originPort, await closedPort())]);
});

afterAll(async () => {
  await serve?.stop();
  stopOrigin(origin);
});

// A guest that spins should fail its test quickly, not hold the suite for the default 2 minutes.
describe('a js-compute app under witshim serve', { timeout: 20_000 }, () => {
  it('hello: status, custom header and body', async () => {
    const res = await fetch(url('/hello'));
    expect(res.status).toBe(200);
    expect(res.headers.get('x-guest')).toBe('js-hello');
    expect(await res.text()).toBe('hello from JS');
  });

  it('headers: method, URL and request headers come back', async () => {
    const res = await fetch(url('/headers?q=1'), { method: 'DELETE', headers: { 'x-one': 'first', 'x-two': 'second value' } });
    expect(res.status).toBe(204);
    expect(res.headers.get('x-echo-method')).toBe('DELETE');
    expect(res.headers.get('x-echo-url')).toBe(url('/headers?q=1'));
    expect(res.headers.get('x-echo-h-x-one')).toBe('first');
    expect(res.headers.get('x-echo-h-x-two')).toBe('second value');
  });

  it('echo: a 1 MiB request body streams back', async () => {
    const payload = Buffer.alloc(1 << 20);
    for (let i = 0; i < payload.length; i++) payload[i] = (i * 7 + (i >> 10)) & 0xff;
    const res = await fetch(url('/echo'), { method: 'POST', body: payload });
    expect(res.status).toBe(200);
    expect(Buffer.from(await res.arrayBuffer()).equals(payload)).toBe(true);
  });

  it('proxy: forwards method, headers and body to backend `origin`; relays status, headers and body', async () => {
    const res = await fetch(url('/proxy?path=/up/stream%3Fa%3D1'), { method: 'POST', headers: { 'x-forward': 'js' }, body: 'y'.repeat(300) });
    expect(res.status).toBe(203);
    expect(res.headers.get('x-origin')).toBe('1');
    expect(res.headers.get('x-seen-method')).toBe('POST');
    expect(res.headers.get('x-seen-forward')).toBe('js');
    expect(res.headers.get('x-proxied-by')).toBe('js-proxy');
    expect(await res.text()).toMatch(/^origin saw POST \/up\/stream\?a=1 host=\S+ body=300$/);
  });

  it('proxy: a refused connection rejects the fetch', async () => {
    const res = await fetch(url('/proxy?backend=closed'));
    expect(res.status).toBe(502);
    expect(await res.text()).toMatch(/^proxy failed: /);
  });

  it('dynamic: a Backend made at run time, and its first-byte timeout', async () => {
    const res = await fetch(url(`/dynamic?target=127.0.0.1:${originPort}&path=/dyn`));
    expect(res.status).toBe(203);
    expect(await res.text()).toBe(`origin saw GET /dyn host=127.0.0.1:${originPort} body=0`);
    const started = Date.now();
    const timedOut = await fetch(url(`/dynamic?target=127.0.0.1:${originPort}&path=/hang&fbt=300`));
    expect(timedOut.status).toBe(502);
    expect(await timedOut.text()).toMatch(/^dynamic failed: .*timeout/i);
    expect(Date.now() - started).toBeLessThan(2500);
  });

  it('proxy: 10 requests on a fast path are served while 10 others wait on a backend', async () => {
    const slow = Array.from({ length: 10 }, () => url('/proxy?path=/held'));
    const fast = Array.from({ length: 10 }, () => url('/hello'));
    const result = await fastWhileParked(slow, fast);
    expect(result.fast).toEqual(Array(10).fill(200));
    // All 10 waited at once, and none had finished when the fast ones had.
    expect(result.parkedAfterFast).toBe(10);
    expect(result.slow).toEqual(Array(10).fill(200));
  }, 120_000);

  it('stores: config store and secret store lookups, present and missing', async () => {
    const res = await fetch(url('/stores'));
    expect(await res.json()).toEqual({ greeting: 'hi there', configMissing: null, secret: 's3cret', secretMissing: null });
  });

  it('log: fastly:logger lines as `<endpoint> :: <line>`, console output tagged with the request id', async () => {
    expect(await (await fetch(url('/log?n=1'))).text()).toBe('logged');
    await serve.waitForLine(/^js-log :: log line 1$/, 10_000);
    await serve.waitForLine(/^\[[^\]]+\] console line 1$/, 10_000);
  });

  it('stream: the first bytes arrive before the app has its backend answer', async () => {
    const { status, first, end, chunks } = await timedGet(url('/stream?ms=1500'));
    expect(status).toBe(200);
    expect(chunks.join('')).toBe('first\ndelayed 1500\n');
    expect(chunks[0]).toBe('first\n');
    expect(first).toBeLessThan(1000);
    expect(end - first).toBeGreaterThan(1000);
  });
});
