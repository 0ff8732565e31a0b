import { describe, expect, it } from 'vitest';
import { CachedBody } from '../src/server/services/cache/body.js';
import { CacheError, CacheStore, MAX_KEY_BYTES, MAX_USER_METADATA_BYTES } from '../src/server/services/cache/store.js';
import { bodyRange, sliceRange } from '../src/host/services/cache.js';
import type { HeaderList } from '../src/host/protocol.js';

const enc = new TextEncoder();
const dec = new TextDecoder();
const key = (text: string) => enc.encode(text);
const SECOND = 1_000_000_000n;

/** A store on a clock the test moves by hand. */
function clocked() {
  let now = 1_000n * SECOND;
  let changes = 0;
  const store = new CacheStore({ now: () => now, onChange: () => changes++ });
  return { store, advance: (ns: bigint) => (now += ns), changes: () => changes };
}

function write(body: CachedBody, text: string, end = true) {
  const sink = body.sink();
  sink.bytes(enc.encode(text));
  if (end) sink.end();
}

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString();
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('cache store', () => {
  it('misses, then hits what was inserted, counting hits', async () => {
    const { store } = clocked();
    expect(store.lookup(key('k'), [])).toBeUndefined();
    const object = store.insert(key('k'), [], { maxAgeNs: 10n * SECOND, userMetadata: enc.encode('meta') });
    write(object.body, 'hello');
    await tick();
    const found = store.lookup(key('k'), [])!;
    expect(found).toBe(object);
    expect(dec.decode(found.body.bytes())).toBe('hello');
    expect(dec.decode(found.options.userMetadata)).toBe('meta');
    store.lookup(key('k'), []);
    expect(found.hits).toBe(2n);
  });

  it('ages objects by the clock: fresh, then stale within stale-while-revalidate, then gone', () => {
    const { store, advance } = clocked();
    store.insert(key('k'), [], { maxAgeNs: 10n * SECOND, initialAgeNs: 2n * SECOND, staleWhileRevalidateNs: 5n * SECOND });
    const object = store.lookup(key('k'), [])!;
    expect(object.ageNs(store.now())).toBe(2n * SECOND);
    expect(object.freshness(store.now())).toEqual({ fresh: true, usable: true, usableIfError: true });
    advance(8n * SECOND);
    expect(object.freshness(store.now())).toMatchObject({ fresh: false, usable: true });
    advance(5n * SECOND);
    expect(store.lookup(key('k'), [])).toBeUndefined();
    expect(store.stats()).toMatchObject({ objects: 0 });
  });

  it('collapses concurrent transactions: one is obliged, the others wait and then see the object', async () => {
    const { store, changes } = clocked();
    const first = store.transactionLookup(key('k'), [], 'r1');
    const second = store.transactionLookup(key('k'), [], 'r2');
    const third = store.transactionLookup(key('k'), [], 'r3');
    expect(first).toMatchObject({ status: 'ready', obligated: true, found: undefined });
    expect(second.status).toBe('waiting');
    expect(third.status).toBe('waiting');
    const object = store.transactionInsert(first, { maxAgeNs: 60n * SECOND });
    await second.settled();
    expect(changes()).toBe(1);
    expect(second).toMatchObject({ status: 'ready', obligated: false, found: object });
    expect(third).toMatchObject({ status: 'ready', obligated: false, found: object });
  });

  it('chooses the next waiter when the obliged one cancels or its request ends', () => {
    const { store } = clocked();
    const first = store.transactionLookup(key('k'), [], 'r1');
    const second = store.transactionLookup(key('k'), [], 'r2');
    const third = store.transactionLookup(key('k'), [], 'r3');
    store.cancel(first);
    expect(second).toMatchObject({ status: 'ready', obligated: true });
    expect(third.status).toBe('waiting');
    store.endRequest('r2');
    expect(third).toMatchObject({ status: 'ready', obligated: true });
    expect(() => store.cancel(first)).toThrow(CacheError);
    store.endRequest('r1');
    store.endRequest('r3');
    expect(store.stats()).toEqual({ keys: 0, objects: 0, transactions: 0, waiting: 0, readers: 0 });
  });

  it('fails a lookup that would wait on a transaction its own request holds', () => {
    const { store } = clocked();
    const held = store.transactionLookup(key('k'), [], 'r1');
    const again = store.transactionLookup(key('k'), [], 'r1');
    expect(held.obligated).toBe(true);
    expect(again.status).toBe('failed');
    expect(again.failure?.code).toBe('generic-error');
    // Queued behind another request, then the obligation passes to its own other lookup: failed, not hung.
    const { store: other } = clocked();
    const a = other.transactionLookup(key('k'), [], 'a');
    const b1 = other.transactionLookup(key('k'), [], 'b');
    const b2 = other.transactionLookup(key('k'), [], 'b');
    other.cancel(a);
    expect(b1).toMatchObject({ status: 'ready', obligated: true });
    expect(b2.status).toBe('failed');
  });

  it('serves a stale object within stale-while-revalidate and obliges exactly one request to revalidate', () => {
    const { store, advance } = clocked();
    const original = store.insert(key('k'), [], { maxAgeNs: 1n * SECOND, staleWhileRevalidateNs: 10n * SECOND });
    original.body.finish();
    advance(2n * SECOND);
    const a = store.transactionLookup(key('k'), [], 'a');
    const b = store.transactionLookup(key('k'), [], 'b');
    expect(a).toMatchObject({ status: 'ready', obligated: true, found: original });
    expect(b).toMatchObject({ status: 'ready', obligated: false, found: original });
    const updated = store.transactionUpdate(a, { maxAgeNs: 100n * SECOND });
    expect(updated.body).toBe(original.body);
    expect(store.lookup(key('k'), [])).toBe(updated);
    expect(updated.freshness(store.now()).fresh).toBe(true);
  });

  it('keeps Vary variants apart', () => {
    const { store } = clocked();
    const en: HeaderList = [['accept-language', enc.encode('en')]];
    const fr: HeaderList = [['accept-language', enc.encode('fr')]];
    const english = store.insert(key('k'), en, { maxAgeNs: SECOND * 60n, varyRule: 'Accept-Language' });
    expect(store.lookup(key('k'), en)).toBe(english);
    expect(store.lookup(key('k'), fr)).toBeUndefined();
    expect(store.lookup(key('k'), [])).toBeUndefined();
    const french = store.insert(key('k'), fr, { maxAgeNs: SECOND * 60n, varyRule: 'accept-language' });
    expect(store.lookup(key('k'), fr)).toBe(french);
    expect(store.lookup(key('k'), en)).toBe(english);
    // A transaction for a third language misses and fills its own variant, not the others.
    const tx = store.transactionLookup(key('k'), [['accept-language', enc.encode('de')]], 'r');
    expect(tx).toMatchObject({ obligated: true, found: undefined });
  });

  it('purges by surrogate key: hard removes, soft leaves it stale but usable within stale-while-revalidate', () => {
    const { store, advance } = clocked();
    store.insert(key('a'), [], { maxAgeNs: 100n * SECOND, surrogateKeys: 'group one', staleWhileRevalidateNs: 5n * SECOND });
    store.insert(key('b'), [], { maxAgeNs: 100n * SECOND, surrogateKeys: 'group two' });
    store.insert(key('c'), [], { maxAgeNs: 100n * SECOND, surrogateKeys: 'other' });
    expect(store.purge('two', false)).toBe(1);
    expect(store.lookup(key('b'), [])).toBeUndefined();
    expect(store.purge('one', true)).toBe(1);
    const soft = store.lookup(key('a'), [])!;
    expect(soft.freshness(store.now())).toMatchObject({ fresh: false, usable: true });
    advance(6n * SECOND);
    expect(store.lookup(key('a'), [])).toBeUndefined();
    expect(store.lookup(key('c'), [])).toBeDefined();
    expect(() => store.purge('x', false)).not.toThrow();
  });

  it('replaces with each strategy', async () => {
    const { store } = clocked();
    const old = store.insert(key('k'), [], { maxAgeNs: 100n * SECOND });
    write(old.body, 'old');
    await tick();
    // immediate: the old object stays until the replacement is complete.
    const immediate = store.replace(key('k'), [], 'immediate', 'r1');
    expect(immediate).toMatchObject({ status: 'ready', found: old, obligated: false });
    const next = store.replaceInsert(immediate, { maxAgeNs: 100n * SECOND });
    write(next.body, 'ne', false);
    await tick();
    expect(store.lookup(key('k'), [])).toBe(old);
    next.body.sink().end();
    next.body.append(enc.encode('w'));
    next.body.finish();
    expect(store.lookup(key('k'), [])).toBe(next);
    // immediate-force-miss: gone at once; transactions wait for the replacement.
    const force = store.replace(key('k'), [], 'immediate-force-miss', 'r2');
    expect(force.found).toBe(next);
    expect(store.lookup(key('k'), [])).toBeUndefined();
    const waiter = store.transactionLookup(key('k'), [], 'r3');
    expect(waiter.status).toBe('waiting');
    const forced = store.replaceInsert(force, { maxAgeNs: 100n * SECOND });
    expect(waiter).toMatchObject({ status: 'ready', found: forced });
    // wait: queues behind an outstanding obligation.
    const { store: other } = clocked();
    const tx = other.transactionLookup(key('k'), [], 'a');
    const waiting = other.replace(key('k'), [], 'wait', 'b');
    expect(waiting.status).toBe('waiting');
    other.transactionInsert(tx, { maxAgeNs: SECOND }).body.finish();
    expect(waiting).toMatchObject({ status: 'ready', obligated: true });
  });

  it('enforces the platform limits with clear errors', () => {
    const { store } = clocked();
    expect(() => store.lookup(new Uint8Array(MAX_KEY_BYTES + 1), [])).toThrow(/exceeds the limit of 4096/);
    expect(() => store.insert(key('k'), [], { maxAgeNs: 1n, userMetadata: new Uint8Array(MAX_USER_METADATA_BYTES + 1) })).toThrow(
      expect.objectContaining({ code: 'limit-exceeded' }),
    );
    expect(() => store.insert(key('k'), [], { maxAgeNs: 1n, length: 200n * 1024n * 1024n })).toThrow(expect.objectContaining({ code: 'limit-exceeded' }));
    expect(() => store.insert(key('k'), [], { maxAgeNs: 1n, surrogateKeys: 'bad\u00e9' })).toThrow(expect.objectContaining({ code: 'invalid-argument' }));
    expect(() => store.insert(key('k'), [], { maxAgeNs: 1n, edgeMaxAgeNs: 2n })).toThrow(expect.objectContaining({ code: 'invalid-argument' }));
    const small = new CacheStore({ maxObjectBytes: 4 });
    const object = small.insert(key('k'), [], { maxAgeNs: SECOND });
    object.body.append(enc.encode('12345'));
    expect(object.body.state).toBe('failed');
    expect(small.lookup(key('k'), [])).toBeUndefined();
  });
});

describe('cached body', () => {
  it('streams to readers while it is written, ranges included', async () => {
    const body = new CachedBody(undefined, 1 << 20);
    body.append(enc.encode('hello '));
    const early = body.openReader();
    const range = body.openReader({ start: 2, end: 8 });
    const suffix = body.openReader({ suffix: 3 });
    const firstChunk = await new Promise<string>((resolve) => early.once('data', (chunk: Buffer) => resolve(chunk.toString())));
    expect(firstChunk).toBe('hello ');
    early.pause();
    body.append(enc.encode('world'));
    body.finish();
    expect((await readAll(early)).length).toBeGreaterThan(0);
    expect(await readAll(range)).toBe('llo wo');
    expect(await readAll(suffix)).toBe('rld');
    expect(body.readerCount).toBe(0);
  });

  it('fails readers when the writer abandons it, or writes other than the declared length', async () => {
    const body = new CachedBody(10, 1 << 20);
    const reader = body.openReader();
    body.sink().bytes(enc.encode('abc'));
    body.sink().abort();
    await expect(readAll(reader)).rejects.toThrow(/abandoned/);
    const short = new CachedBody(10, 1 << 20);
    short.append(enc.encode('abc'));
    short.finish();
    expect(short.state).toBe('failed');
  });

  it('reads ranges as Viceroy does', () => {
    expect(bodyRange(10, 2n, 4n, false)).toEqual({ start: 2, end: 5 });
    expect(bodyRange(10, undefined, 3n, false)).toEqual({ suffix: 3 });
    expect(bodyRange(10, 2n, undefined, false)).toEqual({ start: 2 });
    expect(bodyRange(10, 20n, undefined, false)).toEqual({ start: 0 });
    expect(bodyRange(undefined, 2n, 4n, false)).toEqual({ start: 0 });
    expect(bodyRange(undefined, 2n, 4n, true)).toEqual({ start: 2, end: 5 });
    expect(dec.decode(sliceRange(enc.encode('0123456789'), { suffix: 3 }))).toBe('789');
  });
});

describe('shared cache store', () => {
  it('is one per configuration, for the core and HTTP caches alike, and tells every holder of changes until released', async () => {
    const { sharedCacheStore, releaseCacheStore } = await import('../src/server/services/cache.js');
    const { emptyHostConfig } = await import('../src/host/config.js');
    const config = emptyHostConfig();
    let first = 0;
    let second = 0;
    const events1 = { changed: () => first++ };
    const events2 = { changed: () => second++ };
    const store = sharedCacheStore(config, events1);
    expect(sharedCacheStore(config, events2)).toBe(store);
    expect(sharedCacheStore(emptyHostConfig(), events1)).not.toBe(store);
    const holder = store.transactionLookup(key('k'), [], 'a');
    store.transactionLookup(key('k'), [], 'b');
    store.cancel(holder);
    expect([first, second]).toEqual([1, 1]);
    releaseCacheStore(config, events1);
    store.endRequest('b');
    store.transactionLookup(key('k'), [], 'c');
    const waiter = store.transactionLookup(key('k'), [], 'd');
    store.endRequest('c');
    expect(waiter.obligated).toBe(true);
    expect([first, second]).toEqual([1, 2]);
  });
});
