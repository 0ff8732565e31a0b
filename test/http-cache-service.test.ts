// index.js first: it and http-cache.js import each other, and the factory list needs http-cache.js evaluated.
import { ServiceError, type BodySink, type ServiceContext } from '../src/server/services/index.js';
import { alongsideCoreCache, createHttpCache } from '../src/server/services/http-cache.js';
import { cacheService } from '../src/server/services/cache.js';
import { emptyHostConfig } from '../src/host/config.js';
import type { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { HttpCacheWrite } from '../src/host/services/http-cache.js';

const SECOND = 1_000_000_000n;
const options = (maxAgeS: number, extra: Partial<HttpCacheWrite> = {}): HttpCacheWrite => ({
  maxAgeNs: BigInt(maxAgeS) * SECOND,
  varyRule: '',
  initialAgeNs: 0n,
  staleWhileRevalidateNs: 0n,
  staleIfErrorNs: 0n,
  surrogateKeys: '',
  length: undefined,
  sensitiveData: false,
  ...extra,
});
const head = { status: 200, headers: [] };
const KEY = new Uint8Array([1, 2, 3]);

/** A store on a manual clock, and requests that call it as the worker would. */
function setup() {
  let clock = 1_000_000;
  let changes = 0;
  const cache = createHttpCache({ changed: () => changes++ }, () => clock);
  const sinks = new Map<number, BodySink>();
  const sources: Readable[] = [];
  const request = (requestId: string) => {
    const ctx: ServiceContext = {
      requestId,
      addSource: (stream) => sources.push(stream) - 1,
      addSink: (sink, target) => void sinks.set(sink, target),
    };
    const call = <T>(method: string, args: unknown): T => (cache.module.handlers as unknown as Record<string, (args: unknown, ctx: ServiceContext) => T>)[method]!(args, ctx);
    return {
      lookup: (headers: Array<[string, Uint8Array]> = [], key = KEY) => call<{ entry: number }>('http-cache.lookup', { key, headers }).entry,
      wait: (entry: number) => call<Promise<unknown> | { state: Record<string, boolean> }>('http-cache.await', { entry }),
      state: async (entry: number) => ((await call<Promise<{ state: Record<string, boolean> }>>('http-cache.await', { entry })).state),
      insert: (entry: number, write = options(60), sink = 1) => call<{ entry?: number }>('http-cache.insert', { entry, head, options: write, sink, streamBack: true }).entry,
      abandon: (entry: number) => call('http-cache.abandon', { entry }),
      chooseStale: (entry: number) => call('http-cache.choose-stale', { entry }),
      record: (entry: number, maxAgeS: number) => call('http-cache.record-not-cacheable', { entry, maxAgeNs: BigInt(maxAgeS) * SECOND, varyRule: '' }),
      body: (entry: number) => sources[call<{ source: number }>('http-cache.body', { entry }).source]!,
      close: (entry: number) => call('http-cache.close', { entry }),
      end: () => cache.module.endRequest!(requestId),
      ready: (entry: number) => cache.module.isReady!(`http-cache:${entry}`),
    };
  };
  return { cache, request, sinks, advance: (ms: number) => (clock += ms), changes: () => changes };
}

const flags = (...names: string[]) => Object.fromEntries(['found', 'usable', 'stale', 'mustInsertOrUpdate', 'usableIfError'].map((name) => [name, names.includes(name)]));

async function text(stream: Readable): Promise<string> {
  let out = '';
  for await (const chunk of stream) out += String(chunk);
  return out;
}

describe('HTTP cache store: transactions and collapsing', () => {
  it('one request is obliged; another waits, then reads the body while it is written', async () => {
    const { request, sinks, changes } = setup();
    const a = request('a');
    const b = request('b');
    const first = a.lookup();
    expect(await a.state(first)).toEqual(flags('mustInsertOrUpdate'));
    const second = b.lookup();
    expect(b.ready(second)).toBe(false);
    const waited = b.wait(second) as Promise<{ state: Record<string, boolean> }>;
    a.insert(first, options(60), 7);
    expect(changes()).toBeGreaterThan(0);
    expect((await waited).state).toEqual(flags('found', 'usable'));
    const reading = text(b.body(second));
    sinks.get(7)!.bytes(new TextEncoder().encode('hel'));
    sinks.get(7)!.bytes(new TextEncoder().encode('lo'));
    sinks.get(7)!.end();
    expect(await reading).toBe('hello');
  });

  it('abandon and close hand the obligation to the next waiter, in order', async () => {
    const { request } = setup();
    const [a, b, c] = [request('a'), request('b'), request('c')];
    const ea = a.lookup();
    const eb = b.lookup();
    const ec = c.lookup();
    a.abandon(ea);
    expect([b.ready(eb), c.ready(ec)]).toEqual([true, false]);
    expect(await b.state(eb)).toEqual(flags('mustInsertOrUpdate'));
    b.close(eb);
    expect(await c.state(ec)).toEqual(flags('mustInsertOrUpdate'));
  });

  it('a request that ends releases what it held, and leaves nothing behind', async () => {
    const { request, cache } = setup();
    const [a, b] = [request('a'), request('b')];
    a.lookup();
    const eb = b.lookup();
    a.end();
    expect(await b.state(eb)).toEqual(flags('mustInsertOrUpdate'));
    b.end();
    expect(cache.stats()).toEqual({ keys: 0, objects: 0, entries: 0, waiting: 0 });
  });

  it('a lookup behind its own request\'s transaction is ready at once and fails instead of hanging', () => {
    const { request } = setup();
    const a = request('a');
    a.lookup();
    const again = a.lookup();
    expect(a.ready(again)).toBe(true);
    expect(() => a.wait(again)).toThrow(ServiceError);
  });

  it('record-not-cacheable stops collapsing for its max-age', async () => {
    const { request, advance } = setup();
    const [a, b] = [request('a'), request('b')];
    const ea = a.lookup();
    const eb = b.lookup();
    a.record(ea, 10);
    expect(await b.state(eb)).toEqual(flags());
    expect(await b.state(b.lookup())).toEqual(flags());
    advance(10_001);
    expect(await b.state(b.lookup())).toEqual(flags('mustInsertOrUpdate'));
  });
});

describe('HTTP cache store: freshness', () => {
  it('fresh, then stale under stale-while-revalidate (one revalidates), then stale and waiting', async () => {
    const { request, advance } = setup();
    const [a, b, c] = [request('a'), request('b'), request('c')];
    const ea = a.lookup();
    a.insert(ea, options(10, { staleWhileRevalidateNs: 5n * SECOND, staleIfErrorNs: 60n * SECOND }));
    expect(await b.state(b.lookup())).toEqual(flags('found', 'usable'));
    advance(12_000);
    const revalidating = b.lookup();
    expect(await b.state(revalidating)).toEqual(flags('found', 'usable', 'stale', 'mustInsertOrUpdate'));
    expect(await c.state(c.lookup())).toEqual(flags('found', 'usable', 'stale'));
    advance(4_000);
    // Past stale-while-revalidate: not usable; behind b's revalidation, c waits.
    const waiting = c.lookup();
    expect(c.ready(waiting)).toBe(false);
    b.abandon(revalidating);
    expect(await c.state(waiting)).toEqual(flags('found', 'stale', 'mustInsertOrUpdate', 'usableIfError'));
  });

  it('choose-stale serves the stale object to the obliged request and hands the obligation on', async () => {
    const { request, advance } = setup();
    const [a, b, c] = [request('a'), request('b'), request('c')];
    a.insert(a.lookup(), options(10, { staleIfErrorNs: 60n * SECOND }));
    advance(20_000);
    const failing = b.lookup();
    expect(await b.state(failing)).toEqual(flags('found', 'stale', 'mustInsertOrUpdate', 'usableIfError'));
    const behind = c.lookup();
    expect((b.chooseStale(failing) as { state: unknown }).state).toEqual(flags('found', 'usable', 'stale'));
    expect(await c.state(behind)).toEqual(flags('found', 'stale', 'mustInsertOrUpdate', 'usableIfError'));
  });

  it('counts hits on usable lookups', async () => {
    const { request } = setup();
    const a = request('a');
    a.insert(a.lookup());
    for (let i = 0; i < 3; i++) await a.state(a.lookup());
    const outcome = (await a.wait(a.lookup())) as { object: { hits: bigint } };
    expect(outcome.object.hits).toBe(4n);
  });
});

describe('HTTP cache store: purge by surrogate key', () => {
  it('soft purge makes objects stale (still served under stale-while-revalidate), hard purge removes them', async () => {
    const { request, cache } = setup();
    const a = request('a');
    a.insert(a.lookup(), options(60, { surrogateKeys: 'k1 k2', staleWhileRevalidateNs: 30n * SECOND }));
    const other = new Uint8Array([9]);
    a.insert(a.lookup([], other), options(60, { surrogateKeys: 'k3' }));
    expect(cache.purge('k2', true)).toBe(1);
    expect(await a.state(a.lookup())).toEqual(flags('found', 'usable', 'stale', 'mustInsertOrUpdate'));
    expect(cache.purge('k1', false)).toBe(1);
    a.end();
    expect(await a.state(a.lookup())).toEqual(flags('mustInsertOrUpdate'));
    expect(await a.state(a.lookup([], other))).toEqual(flags('found', 'usable'));
  });
});

describe('purge-surrogate-key reaches HTTP-cache objects', () => {
  it('the served module purges the core cache and the HTTP cache together', async () => {
    const module = alongsideCoreCache(cacheService())(emptyHostConfig(), { changed: () => {} });
    const handlers = module.handlers as unknown as Record<string, (args: unknown, ctx: ServiceContext) => unknown>;
    const ctx: ServiceContext = { requestId: 'r', addSource: () => 0, addSink: () => {} };
    const lookup = async () => {
      const { entry } = handlers['http-cache.lookup']!({ key: KEY, headers: [] }, ctx) as { entry: number };
      return (await handlers['http-cache.await']!({ entry }, ctx)) as { state: Record<string, boolean> };
    };
    const { entry } = handlers['http-cache.lookup']!({ key: KEY, headers: [] }, ctx) as { entry: number };
    await handlers['http-cache.await']!({ entry }, ctx);
    handlers['http-cache.insert']!({ entry, head, options: options(60, { surrogateKeys: 'product-1' }), sink: 1, streamBack: false }, ctx);
    expect((await lookup()).state).toEqual(flags('found', 'usable'));
    expect(JSON.parse((handlers['purge.surrogate-key']!({ surrogateKey: 'product-1', soft: false }, ctx) as { json: string }).json)).toMatchObject({ status: 'ok' });
    module.endRequest!('r');
    expect((await lookup()).state).toEqual(flags('mustInsertOrUpdate'));
    module.endRequest!('r');
  });
});

describe('HTTP cache store: limits', () => {
  it('refuses an object declared larger than the platform\'s 100 MB with limit-exceeded, and keeps the obligation', async () => {
    const { request } = setup();
    const a = request('a');
    const entry = a.lookup();
    await a.state(entry);
    let error: unknown;
    try {
      a.insert(entry, options(60, { length: 100n * 1024n * 1024n + 1n }));
    } catch (err) {
      error = err;
    }
    expect((error as ServiceError).payload).toEqual({ tag: 'limit-exceeded' });
    expect(a.insert(entry, options(60, { length: 5n }))).toBeGreaterThan(0);
  });
});
