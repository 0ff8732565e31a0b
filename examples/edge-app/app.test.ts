// Tests the edge app in process with witshim/test: function backends, stores given as objects,
// log endpoint lines and guest output per request, KV and core-cache contents after a request,
// a fresh server per test.
import { join } from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createTestServer, type TestServer } from 'witshim/test';
import { buildJsApp } from '../../test/support/js-app.js';

let app: string;
let server: TestServer;
/** What the `api` backend was asked, per test. */
let apiRequests: Array<{ method: string; path: string; authorization: string | null; body: string }>;
/** Paths the `origin` backend was asked for, per test. */
let originRequests: string[];

beforeAll(async () => {
  // js-compute-runtime turns app.js into a legacy module (cached by source hash).
  app = await buildJsApp(join(import.meta.dirname, 'app.js'));
}, 180_000);

beforeEach(async () => {
  apiRequests = [];
  originRequests = [];
  server = await createTestServer(app, {
    backends: {
      api: async (request) => {
        const url = new URL(request.url);
        apiRequests.push({ method: request.method, path: url.pathname + url.search, authorization: request.headers.get('authorization'), body: await request.text() });
        return Response.json({ ok: true, path: url.pathname }, { status: 201, headers: { 'x-api': 'mock' } });
      },
      // A dynamic backend reaches a function by its host.
      'weather.example.net': () => new Response('sunny'),
      origin: (request) => {
        const path = new URL(request.url).pathname;
        originRequests.push(path);
        return new Response(`<h1>${path.slice('/pages/'.length)}</h1>`);
      },
    },
    configStores: { settings: { greeting: 'hello from the edge' } },
    secretStores: { credentials: { 'api-token': 's3cret' } },
    kvStores: { notes: { welcome: { data: 'hello', metadata: '{"by":"seed"}' } } },
  });
});

afterEach(async () => {
  await server.close();
});

describe('the edge app', { timeout: 30_000 }, () => {
  it('greets from its config store and logs the request', async () => {
    const response = await server.fetch('/');
    expect(response.status).toBe(200);
    expect(await response.text()).toBe('hello from the edge\n');
    await server.settled();
    expect(server.logs('events')).toEqual(['GET /']);
    expect(server.stores.configStore('settings')).toEqual({ greeting: 'hello from the edge' });
  });

  it('proxies /api/* to the api backend with the token from its secret store', async () => {
    const response = await server.fetch('http://edge.test/api/items?limit=2', { method: 'POST', body: 'new item' });
    expect(response.status).toBe(201);
    expect(response.headers.get('x-api')).toBe('mock');
    expect(response.headers.get('x-served-by')).toBe('edge-app');
    expect(await response.json()).toEqual({ ok: true, path: '/items' });
    expect(apiRequests).toEqual([{ method: 'POST', path: '/items?limit=2', authorization: 'Bearer s3cret', body: 'new item' }]);
    await server.settled();
    expect(server.lastRequest?.logs).toEqual([
      { endpoint: 'events', line: 'POST /api/items' },
      { endpoint: 'events', line: 'api answered 201' },
    ]);
  });

  it('reaches a dynamic backend answered by a function, and its console output is captured', async () => {
    const response = await server.fetch('/weather');
    expect(await response.text()).toBe('today: sunny\n');
    await server.settled();
    expect(server.lastRequest?.stdout).toEqual(['weather answered 200']);
    expect(server.lastRequest?.errors).toEqual([]);
  });

  it('reads a seeded KV entry, and the test sees what the app wrote', async () => {
    const seeded = await server.fetch('/notes/welcome');
    expect(await seeded.text()).toBe('hello');
    expect(seeded.headers.get('x-note-metadata')).toBe('{"by":"seed"}');

    const put = await server.fetch('/notes/todo', { method: 'PUT', body: 'buy milk', headers: { 'x-user': 'alice' } });
    expect(put.status).toBe(204);
    await server.settled();

    const notes = server.kv('notes')!;
    expect(Object.keys(notes)).toEqual(['todo', 'welcome']);
    expect(notes.todo).toMatchObject({ text: 'buy milk', metadata: '{"by":"alice"}' });
    expect(notes.todo!.value).toEqual(new TextEncoder().encode('buy milk'));
    expect(notes.todo!.expires).toBeUndefined();
    // Each write makes a new generation.
    expect(notes.todo!.generation).not.toBe(notes.welcome!.generation);
    expect(notes.welcome).toMatchObject({ text: 'hello', metadata: '{"by":"seed"}' });
    expect(server.logs('events')).toEqual(['GET /notes/welcome', 'PUT /notes/todo', 'stored note todo']);

    // The next request reads what the last one wrote.
    expect(await (await server.fetch('/notes/todo')).text()).toBe('buy milk');
    expect(server.kv('missing')).toBeUndefined();
  });

  it('serves pages through the core cache, and the test sees the cached object', async () => {
    const first = await server.fetch('/pages/home');
    expect(first.headers.get('x-cache')).toBe('MISS');
    expect(await first.text()).toBe('<h1>home</h1>');
    await server.settled();

    expect(server.cache.keys()).toEqual(['page:home']);
    const cached = server.cache.get('page:home')!;
    expect(cached).toMatchObject({ kind: 'core', stale: false, hits: 0n, maxAgeNs: 60_000_000_000n, surrogateKeys: ['pages', 'page-home'] });
    expect(cached.body).toMatchObject({ state: 'complete', text: '<h1>home</h1>' });

    const second = await server.fetch('/pages/home');
    expect(second.headers.get('x-cache')).toBe('HIT');
    expect(await second.text()).toBe('<h1>home</h1>');
    await server.settled();
    expect(originRequests).toEqual(['/pages/home']);
    expect(server.cache.get('page:home')!.hits).toBe(1n);
    expect(server.logs('events')).toEqual(['GET /pages/home', 'cache miss page:home', 'GET /pages/home', 'cache hit page:home']);

    // A purge by surrogate key empties the cache: the next request goes to the origin again.
    expect(server.purge('page-home')).toBe(1);
    expect(server.cache.keys()).toEqual([]);
    expect((await server.fetch('/pages/home')).headers.get('x-cache')).toBe('MISS');
    expect(originRequests).toEqual(['/pages/home', '/pages/home']);
  });

  it('keeps each server to itself', async () => {
    const other = await createTestServer(app, { configStores: { settings: { greeting: 'bonjour' } } });
    try {
      const [here, there] = await Promise.all([server.fetch('/'), other.fetch('/')]);
      expect(await here.text()).toBe('hello from the edge\n');
      expect(await there.text()).toBe('bonjour\n');
      await Promise.all([server.settled(), other.settled()]);
      expect(server.requests).toHaveLength(1);
      expect(other.logs('events')).toEqual(['GET /']);
      // KV and cache state is per server too.
      await server.fetch('/notes/mine', { method: 'PUT', body: 'only here' });
      await server.settled();
      expect(server.kv('notes')!.mine?.text).toBe('only here');
      expect(other.kv('notes')).toBeUndefined();
      expect(other.cache.keys()).toEqual([]);
    } finally {
      await other.close();
    }
  });

  it('answers a failing backend function with the error the app sees', async () => {
    const failing = await createTestServer(app, {
      backends: {
        api: () => {
          throw new Error('api is down');
        },
      },
      secretStores: { credentials: { 'api-token': 'x' } },
    });
    try {
      const response = await failing.fetch('/api/items');
      expect(response.status).toBeGreaterThanOrEqual(500);
      await failing.settled();
      expect(failing.lastRequest?.errors.join('\n')).toMatch(/backend function api failed: api is down/);
    } finally {
      await failing.close();
    }
  });
});
