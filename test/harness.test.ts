import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
// index.js first: it and http-cache.js import each other, and the factory list needs http-cache.js evaluated.
import { Services, type BodySink, type ServiceContext } from '../src/server/services/index.js';
import { ConfigError, resolveConfig } from '../src/api/config.js';
import { CacheStore } from '../src/server/services/cache/store.js';
import { KvStores } from '../src/server/services/kv.js';
import type { ServiceCall } from '../src/host/services/protocol.js';
import { compileSources } from './fixtures/components/harness.js';

/*
 * The API's config sources, the services' read-only view (what witshim/test's `kv` and `cache`
 * read), and witshim/test with C guests: in-process requests with streamed bodies both ways,
 * function backends, stores as objects, per-request lines. The harness runs from compiled JS,
 * as its workers do.
 */

const c = (name: string) => join(import.meta.dirname, 'fixtures/c', `${name}.wasm`);
type Testing = typeof import('../src/testing/index.js');
let testing: Testing;

beforeAll(async () => {
  testing = (await import(pathToFileURL(join(await compileSources(), 'testing/index.js')).href)) as Testing;
}, 180_000);

describe('config sources', () => {
  it('takes the [local_server] table as an object, relative files against baseDir', () => {
    const dir = mkdtempSync(join(tmpdir(), 'witshim-config-'));
    writeFileSync(join(dir, 'settings.json'), JSON.stringify({ mode: 'file' }));
    const warnings: string[] = [];
    const config = resolveConfig(
      {
        backends: { origin: { url: 'http://127.0.0.1:9000/base', override_host: 'example.com' } },
        config_stores: { inline: { format: 'inline-toml', contents: { mode: 'inline' } }, fromFile: { format: 'json', file: 'settings.json' } },
        secret_stores: { creds: [{ key: 'token', data: 's3cret' }] },
        kv_stores: { items: [{ key: 'a', data: 'one', metadata: 'm' }] },
        colour: 'blue',
      },
      { baseDir: dir, onWarning: (message) => warnings.push(message) },
    );
    expect(config.backends.origin).toMatchObject({ url: 'http://127.0.0.1:9000/base', overrideHost: 'example.com', dynamic: false });
    expect(config.configStores).toEqual({ inline: { mode: 'inline' }, fromFile: { mode: 'file' } });
    expect(new TextDecoder().decode(config.secretStores.creds!.token)).toBe('s3cret');
    expect(config.kvStores.items!.a!.metadata).toBe('m');
    expect(warnings).toEqual(['[local_server]: unknown key local_server.colour ignored']);
  });

  it('reports a bad object as a ConfigError naming where', () => {
    expect(() => resolveConfig({ backends: { origin: { url: 'ftp://x' } } }, { onWarning() {} })).toThrow(ConfigError);
    expect(() => resolveConfig({ backends: { origin: { url: 'ftp://x' } } }, { onWarning() {} })).toThrow('[local_server.backends.origin] url must be an http(s) URL, got ftp://x');
  });
});

describe('witshim/test', { timeout: 30_000 }, () => {
  it('streams the response while the guest still waits on a function backend', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const asked: string[] = [];
    const server = await testing.createTestServer(c('stream'), {
      backends: {
        origin: async (request) => {
          asked.push(new URL(request.url).pathname + new URL(request.url).search);
          await gate;
          return new Response('from the function\n');
        },
      },
    });
    try {
      const response = await server.fetch('/?ms=5');
      // The head arrived although the backend has not answered: the body streams.
      expect(response.status).toBe(200);
      const reader = response.body!.getReader();
      const decoder = new TextDecoder();
      let text = '';
      while (!text.includes('first\n')) text += decoder.decode((await reader.read()).value);
      expect(text).not.toContain('done');
      release();
      for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) text += decoder.decode(chunk.value);
      expect(text).toMatch(/^first\n(tick\n)*from the function\ndone\n$/);
      expect(asked).toEqual(['/delay?ms=5']);
    } finally {
      release();
      await server.close();
    }
  });

  it('sends a streamed request body in and echoes it back', async () => {
    const server = await testing.createTestServer(c('echo'));
    try {
      const body = new Uint8Array(1 << 20).map((_, index) => index % 251);
      const stream = new ReadableStream<Uint8Array>({
        start(controller) {
          for (let offset = 0; offset < body.length; offset += 64 * 1024) controller.enqueue(body.slice(offset, offset + 64 * 1024));
          controller.close();
        },
      });
      const response = await server.fetch('http://app.test/echo?x=1', { method: 'PUT', body: stream, headers: { 'x-custom': 'yes' }, duplex: 'half' } as RequestInit);
      expect(response.headers.get('x-echo-method')).toBe('PUT');
      expect(response.headers.get('x-echo-url')).toBe('http://app.test/echo?x=1');
      expect(response.headers.get('x-echo-h-x-custom')).toBe('yes');
      const echoed = Buffer.from(await response.arrayBuffer());
      // Compared as a whole: a deep equality over a million elements takes seconds.
      expect(echoed.length).toBe(body.length);
      expect(echoed.equals(body)).toBe(true);
    } finally {
      await server.close();
    }
  });

  it('serves stores given as objects and captures each request’s log lines', async () => {
    const server = await testing.createTestServer(c('stores'), {
      dictionaries: { words: { hello: 'world' } },
      secretStores: { vault: { key: new TextEncoder().encode('bytes!') } },
    });
    try {
      const word = await server.fetch('/?kind=dictionary&store=words&key=hello&log=lookups');
      expect(await word.text()).toBe('world');
      const secret = await server.fetch('/?kind=secret&store=vault&key=key&log=lookups');
      expect(await secret.text()).toBe('bytes!');
      const missing = await server.fetch('/?kind=dictionary&store=words&key=nope');
      expect(missing.status).toBe(404);
      await server.settled();
      expect(server.requests.map((request) => request.logs.length)).toEqual([1, 1, 0]);
      expect(server.logs('lookups')).toHaveLength(2);
      expect(server.requests.map((request) => request.status)).toEqual([200, 200, 404]);
      expect(server.stores.dictionary('words')).toEqual({ hello: 'world' });
    } finally {
      await server.close();
    }
  });

  it('answers from function backends over HTTP too, once listening', async () => {
    const server = await testing.createTestServer(c('proxy'), { backends: { origin: (request) => new Response(`function saw ${new URL(request.url).pathname}`) } });
    try {
      const url = await server.listen({ port: 0 });
      const response = await fetch(`${url}/over-http`);
      expect(await response.text()).toBe('function saw /over-http');
      expect(response.headers.get('x-proxied-by')).toBe('c-proxy');
    } finally {
      await server.close();
    }
  });

  it('reads the KV stores of the services in use: a reload with a new config swaps them', async () => {
    const server = await testing.createTestServer(c('stores'), { kvStores: { before: { seeded: { data: 'one', metadata: 'm' } } } });
    try {
      expect(server.kv('before')).toEqual({ seeded: { value: new TextEncoder().encode('one'), text: 'one', metadata: 'm', generation: expect.any(BigInt) } });
      expect(server.cache.keys()).toEqual([]);
      await server.reload(undefined, { kv_stores: { after: [{ key: 'fresh', data: 'two' }] } });
      expect(server.kv('before')).toBeUndefined();
      expect(server.kv('after')?.fresh?.text).toBe('two');
    } finally {
      await server.close();
    }
  });

  it('fails a send to a function that returns no Response, with a line in errors', async () => {
    const server = await testing.createTestServer(c('proxy'), { backends: { origin: () => 'not a response' as unknown as Response } });
    try {
      const response = await server.fetch('/');
      expect(response.status).toBe(502);
      await server.settled();
      expect(server.lastRequest?.errors.join('\n')).toMatch(/backend function origin failed: it must return a Response/);
    } finally {
      await server.close();
    }
  });
});

const enc = new TextEncoder();
const SECOND = 1_000_000_000n;
const tick = () => new Promise((resolve) => setImmediate(resolve));

/** A `Services` for a config, called as a worker's request would, with the body sinks it registers. */
function servicesFor(localServer: Record<string, unknown> = {}) {
  const services = new Services(resolveConfig(localServer, { onWarning() {} }));
  const sinks = new Map<number, BodySink>();
  const ctx: ServiceContext = { requestId: 'r1', addSource: () => 0, addSink: (sink, target) => void sinks.set(sink, target) };
  const call = <T>(call: ServiceCall): T => services.call(call, ctx) as T;
  return { services, sinks, call };
}

describe('the services view', () => {
  it('shows live KV entries after writes, as copies', () => {
    const { services, call } = servicesFor({ kv_stores: { items: [{ key: 'seeded', data: 'one', metadata: 'm' }], empty: [] } });
    const view = services.view();
    expect(view.kv.stores()).toEqual(['empty', 'items']);
    expect(view.kv.entries('items')).toEqual({ seeded: { value: enc.encode('one'), text: 'one', metadata: 'm', generation: expect.any(BigInt) } });

    const before = Date.now();
    call({ method: 'kv.insert', args: { store: 'items', key: 'added', value: enc.encode('two'), mode: 'overwrite', ttlSec: 60 } });
    call({ method: 'kv.insert', args: { store: 'items', key: 'seeded', value: enc.encode('+'), mode: 'append' } });
    const items = view.kv.entries('items')!;
    expect(Object.keys(items)).toEqual(['added', 'seeded']);
    expect(items.added!.text).toBe('two');
    expect(items.added!.expires!.getTime()).toBeGreaterThanOrEqual(before + 60_000);
    // An append is a write: its metadata is that of the write (none), its generation new.
    expect(items.seeded).toEqual({ value: enc.encode('one+'), text: 'one+', generation: expect.any(BigInt) });

    // What the test holds is a copy: changing it changes nothing a guest reads.
    items.seeded!.value.fill(0);
    expect(call<{ value: Uint8Array }>({ method: 'kv.lookup', args: { store: 'items', key: 'seeded' } }).value).toEqual(enc.encode('one+'));
    call({ method: 'kv.delete', args: { store: 'items', key: 'added' } });
    expect(Object.keys(view.kv.entries('items')!)).toEqual(['seeded']);
    expect(view.kv.entries('nope')).toBeUndefined();
    services.close();
  });

  it('skips KV entries past their TTL without dropping them', () => {
    let now = 1_000_000;
    const stores = new KvStores({ items: {} }, () => now);
    stores.insert({ store: 'items', key: 'brief', value: enc.encode('x'), mode: 'overwrite', ttlSec: 1 });
    expect(Object.keys(stores.view().entries('items')!)).toEqual(['brief']);
    now += 1_000;
    expect(stores.view().entries('items')).toEqual({});
    // Reading dropped nothing: with the clock back, a lookup still finds it.
    now -= 1;
    expect(stores.lookup('items', 'brief')?.value).toEqual(enc.encode('x'));
  });

  it('shows core-cache objects while written and once complete, counting no hits', async () => {
    const { services, sinks, call } = servicesFor();
    call({ method: 'cache.insert', args: { key: enc.encode('page:a'), options: { maxAgeNs: 60n * SECOND, surrogateKeys: 'pages page-a', length: 5n, userMetadata: enc.encode('meta'), sensitiveData: false }, sink: 7 } });
    sinks.get(7)!.bytes(enc.encode('he'));
    await tick();
    const [writing] = services.view().cache.core();
    expect(writing).toMatchObject({ kind: 'core', key: 'page:a', keyBytes: enc.encode('page:a'), varyRule: '', stale: false, hits: 0n, maxAgeNs: 60n * SECOND, surrogateKeys: ['pages', 'page-a'], userMetadata: enc.encode('meta') });
    expect(writing!.body).toEqual({ state: 'writing', received: 2, declaredLength: 5 });

    sinks.get(7)!.bytes(enc.encode('llo'));
    sinks.get(7)!.end();
    await tick();
    call({ method: 'cache.lookup', args: { key: enc.encode('page:a'), transactional: false } });
    const view = services.view();
    view.cache.core();
    const [complete] = view.cache.core();
    expect(complete!.body).toEqual({ state: 'complete', bytes: enc.encode('hello'), text: 'hello' });
    // One lookup: reading the view twice added no hit.
    expect(complete!.hits).toBe(1n);
    expect(view.cache.http()).toEqual([]);
    services.close();
  });

  it('shows HTTP-cache objects, and a purge reaches both caches', async () => {
    const { services, sinks, call } = servicesFor();
    call({ method: 'cache.insert', args: { key: enc.encode('core'), options: { maxAgeNs: 60n * SECOND, surrogateKeys: 'shared', sensitiveData: false }, sink: 1 } });
    sinks.get(1)!.end();
    const { entry } = call<{ entry: number }>({ method: 'http-cache.lookup', args: { key: new Uint8Array([0xab, 0xcd]), headers: [] } });
    await call({ method: 'http-cache.await', args: { entry } });
    const head = { status: 200, headers: [['content-type', enc.encode('text/plain')]] as Array<[string, Uint8Array]> };
    const options = { maxAgeNs: 60n * SECOND, varyRule: '', initialAgeNs: 0n, staleWhileRevalidateNs: 30n * SECOND, staleIfErrorNs: 0n, surrogateKeys: 'shared other', length: undefined, sensitiveData: false };
    call({ method: 'http-cache.insert', args: { entry, head, options, sink: 2, streamBack: false } });
    sinks.get(2)!.bytes(enc.encode('cached response'));
    sinks.get(2)!.end();
    await tick();
    const [stored] = services.view().cache.http();
    expect(stored).toMatchObject({ kind: 'http', key: 'abcd', status: 200, headers: [['content-type', 'text/plain']], stale: false, hits: 0n, surrogateKeys: ['shared', 'other'] });
    expect(stored!.body).toMatchObject({ state: 'complete', text: 'cached response' });

    // Soft: the HTTP object stays, stale (served within stale-while-revalidate).
    expect(services.purge('other', { soft: true })).toBe(1);
    expect(services.view().cache.http()[0]).toMatchObject({ stale: true });
    expect(services.purge('shared')).toBe(2);
    expect(services.view().cache.core()).toEqual([]);
    expect(services.view().cache.http()).toEqual([]);
    expect(() => services.purge('two keys')).toThrow('purge takes exactly one surrogate key');
    services.endRequest('r1');
    services.close();
  });

  it('orders variants as lookups try them, and marks stale and soft-purged objects', () => {
    let now = 1_000n * SECOND;
    const store = new CacheStore({ now: () => now });
    const accept = (value: string): Array<[string, Uint8Array]> => [['accept', enc.encode(value)]];
    store.insert(enc.encode('k'), accept('a'), { maxAgeNs: 10n * SECOND, staleWhileRevalidateNs: 10n * SECOND }).body.sink().end();
    store.insert(enc.encode('k'), accept('b'), { maxAgeNs: 60n * SECOND, staleWhileRevalidateNs: 30n * SECOND, varyRule: 'accept', surrogateKeys: 'soft' }).body.sink().end();
    expect(store.view().map((object) => object.varyRule)).toEqual(['accept', '']);
    now += 15n * SECOND;
    expect(store.view().map((object) => [object.varyRule, object.stale])).toEqual([['accept', false], ['', true]]);
    store.purge('soft', true);
    const purged = store.view().find((object) => object.varyRule === 'accept')!;
    expect(purged.stale).toBe(true);
    expect(purged.maxAgeNs).toBe(15n * SECOND);
    // Past every window: gone from the view as from lookups.
    now += 30n * SECOND;
    expect(store.view().map((object) => object.varyRule)).toEqual([]);
  });
});
