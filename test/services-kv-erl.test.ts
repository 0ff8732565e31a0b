import { describe, expect, it } from 'vitest';
import { Body } from '../src/host/body.js';
import type { MainChannel } from '../src/host/channel.js';
import { emptyHostConfig, type HostConfig } from '../src/host/config.js';
import { erl } from '../src/host/interfaces/erl.js';
import { kvStore } from '../src/host/interfaces/kv-store.js';
import type { Pollable } from '../src/host/pollable.js';
import type { SyncCall, SyncReply } from '../src/host/protocol.js';
import { Session } from '../src/host/session.js';
import { checkRate, PenaltyBoxes, RateCounters } from '../src/server/services/erl.js';
import { ServiceError, Services, type ServiceContext } from '../src/server/services/index.js';
import { KvStores } from '../src/server/services/kv.js';
import { loadWit } from '../src/wit/load.js';
import { payload } from './support/host-error.js';

const enc = new TextEncoder();
const dec = new TextDecoder();

/** A clock the test moves by hand. */
function fakeClock(start = 1_000_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => void (now += ms) };
}

/** The WIT error a main-side store method threw. */
function serviceError(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    if (err instanceof ServiceError) return err.payload;
    throw err;
  }
  throw new Error('expected a ServiceError');
}

function seededStores(clock = fakeClock()) {
  const stores = new KvStores({ files: { readme: { data: enc.encode('seeded'), metadata: 'm0' } }, empty: {} }, clock.now);
  return { stores, clock };
}

const text = (found: { value: Uint8Array } | undefined) => (found ? dec.decode(found.value) : undefined);
const put = (stores: KvStores, key: string, value: string, extra: Partial<Parameters<KvStores['insert']>[0]> = {}) =>
  stores.insert({ store: 'files', key, value: enc.encode(value), mode: 'overwrite', ...extra });

describe('KV stores (main side)', () => {
  it('are seeded from the configuration, with metadata and a generation', () => {
    const { stores } = seededStores();
    expect(stores.has('files')).toBe(true);
    expect(stores.has('nope')).toBe(false);
    const found = stores.lookup('files', 'readme');
    expect(text(found)).toBe('seeded');
    expect(found?.metadata).toBe('m0');
    expect(typeof found?.generation).toBe('bigint');
    expect(stores.lookup('empty', 'readme')).toBeUndefined();
  });

  it('insert modes: overwrite, add (only when absent), append, prepend', () => {
    const { stores } = seededStores();
    put(stores, 'k', 'one', { mode: 'add' });
    expect(serviceError(() => put(stores, 'k', 'again', { mode: 'add' }))).toEqual({ tag: 'precondition-failed' });
    put(stores, 'k', '<', { mode: 'prepend' });
    put(stores, 'k', '>', { mode: 'append' });
    expect(text(stores.lookup('files', 'k'))).toBe('<one>');
    put(stores, 'k', 'fresh');
    expect(text(stores.lookup('files', 'k'))).toBe('fresh');
    put(stores, 'new-append', 'a', { mode: 'append' });
    put(stores, 'new-prepend', 'p', { mode: 'prepend' });
    expect(text(stores.lookup('files', 'new-append'))).toBe('a');
    expect(text(stores.lookup('files', 'new-prepend'))).toBe('p');
  });

  it('every write changes the generation; if-generation-match refuses a stale or absent one', () => {
    const { stores } = seededStores();
    const first = stores.lookup('files', 'readme')!.generation;
    put(stores, 'readme', 'v2', { ifGenerationMatch: first, metadata: 'm2' });
    const second = stores.lookup('files', 'readme')!;
    expect(second.generation).not.toBe(first);
    expect(second.metadata).toBe('m2');
    expect(serviceError(() => put(stores, 'readme', 'v3', { ifGenerationMatch: first }))).toEqual({ tag: 'precondition-failed' });
    expect(text(stores.lookup('files', 'readme'))).toBe('v2');
    expect(serviceError(() => put(stores, 'absent', 'x', { ifGenerationMatch: first }))).toEqual({ tag: 'precondition-failed' });
    // A write without metadata leaves the item without any.
    put(stores, 'readme', 'v3', { mode: 'append' });
    expect(stores.lookup('files', 'readme')!.metadata).toBeUndefined();
  });

  it('entries with a TTL vanish once it has run out, from lookups, lists, deletes and add', () => {
    const { stores, clock } = seededStores();
    put(stores, 'short', 'brief', { ttlSec: 2 });
    put(stores, 'long', 'lasting', { ttlSec: 60 });
    clock.advance(1999);
    expect(text(stores.lookup('files', 'short'))).toBe('brief');
    clock.advance(1);
    expect(stores.lookup('files', 'short')).toBeUndefined();
    expect(JSON.parse(dec.decode(stores.list({ store: 'files' }))).data).toEqual(['long', 'readme']);
    put(stores, 'gone', 'x', { ttlSec: 1 });
    clock.advance(1000);
    expect(stores.delete('files', 'gone')).toBe(false);
    put(stores, 'again', 'x', { ttlSec: 1 });
    clock.advance(1000);
    put(stores, 'again', 'added', { mode: 'add' });
    expect(text(stores.lookup('files', 'again'))).toBe('added');
  });

  it('delete answers whether there was an entry', () => {
    const { stores } = seededStores();
    expect(stores.delete('files', 'readme')).toBe(true);
    expect(stores.delete('files', 'readme')).toBe(false);
    expect(stores.lookup('files', 'readme')).toBeUndefined();
  });

  it('lists pages in key order as the platform JSON, with prefix, limit and cursor', () => {
    const { stores } = seededStores();
    for (const key of ['key3', 'key1', 'other', 'key2']) put(stores, key, key);
    const page = (args: { cursor?: string; limit?: number; prefix?: string }) => dec.decode(stores.list({ store: 'files', ...args }));
    expect(page({})).toBe('{"data":["key1","key2","key3","other","readme"],"meta":{"limit":1000}}');
    expect(page({ prefix: 'key' })).toBe('{"data":["key1","key2","key3"],"meta":{"limit":1000,"prefix":"key"}}');
    const cursor1 = Buffer.from('key1').toString('base64');
    expect(page({ prefix: 'key', limit: 1 })).toBe(`{"data":["key1"],"meta":{"limit":1,"prefix":"key","next_cursor":"${cursor1}"}}`);
    const cursor2 = Buffer.from('key2').toString('base64');
    expect(page({ prefix: 'key', limit: 1, cursor: cursor1 })).toBe(`{"data":["key2"],"meta":{"limit":1,"prefix":"key","next_cursor":"${cursor2}"}}`);
    // The last page has no cursor.
    expect(page({ prefix: 'key', limit: 1, cursor: cursor2 })).toBe('{"data":["key3"],"meta":{"limit":1,"prefix":"key"}}');
    expect(page({ prefix: 'zzz' })).toBe('{"data":[],"meta":{"limit":1000,"prefix":"zzz"}}');
    expect(page({ prefix: 'key', limit: 0 })).toBe('{"data":["key1","key2","key3"],"meta":{"limit":1000,"prefix":"key"}}');
    expect(serviceError(() => stores.list({ store: 'files', cursor: '!!not base64!!' }))).toEqual({ tag: 'bad-request' });
  });

  it('refuses keys, metadata and values outside the documented limits', () => {
    const { stores } = seededStores();
    const bad = ['', '.', '..', '.well-known/acme-challenge/token', 'a#b', 'a;b', 'a?b', 'a^b', 'a|b', 'a\nb', 'a\rb', ' ', '\u0000', '\uffff', 'k'.repeat(1025), 'é'.repeat(513)];
    for (const key of bad) expect(serviceError(() => stores.lookup('files', key)), JSON.stringify(key)).toEqual({ tag: 'bad-request' });
    for (const key of ['k'.repeat(1024), 'a.b', './x', '.well-known/other', 'x', '~']) expect(() => put(stores, key, 'ok'), key).not.toThrow();
    expect(serviceError(() => put(stores, 'm', 'v', { metadata: 'm'.repeat(2001) }))).toEqual({ tag: 'bad-request' });
    expect(serviceError(() => put(stores, 'm', 'v', { metadata: 'line\nbreak' }))).toEqual({ tag: 'bad-request' });
    expect(() => put(stores, 'm', 'v', { metadata: 'm'.repeat(2000) })).not.toThrow();
    const big = new Uint8Array(25 * 1024 * 1024);
    stores.insert({ store: 'files', key: 'big', value: big, mode: 'overwrite' });
    expect(serviceError(() => stores.insert({ store: 'files', key: 'big', value: new Uint8Array(1), mode: 'append' }))).toEqual({ tag: 'payload-too-large' });
  });
});

describe('rate counters and penalty boxes (main side)', () => {
  it('count per second: lookup-count sums the last N seconds, lookup-rate divides by the window', () => {
    const clock = fakeClock(5_000_000);
    const counters = new RateCounters(clock.now);
    // 30 events a second for 20 seconds.
    for (let second = 0; second < 20; second++) {
      counters.increment('rc', 'client', 30);
      clock.advance(1000);
    }
    // Now at the start of a fresh second: nothing yet in it.
    expect(counters.rate('rc', 'client', 1)).toBe(0);
    expect(counters.count('rc', 'client', 10)).toBe(270);
    expect(counters.rate('rc', 'client', 10)).toBe(27);
    expect(counters.count('rc', 'client', 20)).toBe(570);
    expect(counters.count('rc', 'client', 60)).toBe(600);
    expect(counters.rate('rc', 'client', 60)).toBe(10);
    counters.increment('rc', 'client', 7);
    expect(counters.rate('rc', 'client', 1)).toBe(7);
    // Other entries and counters are apart.
    expect(counters.count('rc', 'other', 60)).toBe(0);
    expect(counters.count('rc2', 'client', 60)).toBe(0);
    // A minute on, everything has aged out.
    clock.advance(60_000);
    expect(counters.count('rc', 'client', 60)).toBe(0);
  });

  it('refuses windows, durations and entries the platform does not offer', () => {
    const counters = new RateCounters(fakeClock().now);
    for (const window of [0, 2, 5, 30, 61]) expect(serviceError(() => counters.rate('rc', 'e', window))).toEqual({ tag: 'invalid-argument' });
    for (const duration of [0, 1, 15, 61, 70]) expect(serviceError(() => counters.count('rc', 'e', duration))).toEqual({ tag: 'invalid-argument' });
    expect(serviceError(() => counters.increment('rc', 'e'.repeat(257), 1))).toEqual({ tag: 'invalid-argument' });
    expect(() => counters.increment('rc', 'e'.repeat(256), 1)).not.toThrow();
  });

  it('penalty boxes hold entries for whole minutes between 1 and 60', () => {
    const clock = fakeClock();
    const boxes = new PenaltyBoxes(clock.now);
    boxes.add('pb', 'client', 150); // truncated to 2 minutes
    expect(boxes.has('pb', 'client')).toBe(true);
    expect(boxes.has('pb', 'someone')).toBe(false);
    expect(boxes.has('other', 'client')).toBe(false);
    clock.advance(119_999);
    expect(boxes.has('pb', 'client')).toBe(true);
    clock.advance(1);
    expect(boxes.has('pb', 'client')).toBe(false);
    for (const ttl of [0, 59, 3660, 7200]) expect(serviceError(() => boxes.add('pb', 'client', ttl)), String(ttl)).toEqual({ tag: 'invalid-argument' });
    boxes.add('pb', 'client', 3600);
    expect(boxes.has('pb', 'client')).toBe(true);
  });

  it('a full penalty box evicts the entry with the least time left', () => {
    const clock = fakeClock();
    const boxes = new PenaltyBoxes(clock.now, 2);
    boxes.add('pb', 'a', 600);
    boxes.add('pb', 'b', 60);
    boxes.add('pb', 'c', 300);
    expect(['a', 'b', 'c'].map((entry) => boxes.has('pb', entry))).toEqual([true, false, true]);
  });

  it('check-rate counts, blocks above the limit and penalises for the TTL', () => {
    const clock = fakeClock();
    const counters = new RateCounters(clock.now);
    const boxes = new PenaltyBoxes(clock.now);
    const check = (delta: number) => checkRate(counters, boxes, { counter: 'rc', entry: 'ip', delta, window: 1, limit: 10, penaltyBox: 'pb', ttlSec: 60 });
    expect(check(10)).toBe(false); // exactly at the limit
    expect(boxes.has('pb', 'ip')).toBe(false);
    expect(check(1)).toBe(true); // over it
    expect(boxes.has('pb', 'ip')).toBe(true);
    clock.advance(5_000);
    // The rate has dropped, but the entry stays penalised until the TTL runs out.
    expect(counters.rate('rc', 'ip', 1)).toBe(0);
    expect(check(1)).toBe(true);
    clock.advance(55_000);
    expect(check(1)).toBe(false);
    // Bad arguments are refused before anything is counted.
    const before = counters.count('rc', 'ip', 60);
    expect(serviceError(() => checkRate(counters, boxes, { counter: 'rc', entry: 'ip', delta: 1, window: 5, limit: 10, penaltyBox: 'pb', ttlSec: 60 }))).toEqual({ tag: 'invalid-argument' });
    expect(serviceError(() => checkRate(counters, boxes, { counter: 'rc', entry: 'ip', delta: 1, window: 1, limit: 10, penaltyBox: 'pb', ttlSec: 10 }))).toEqual({ tag: 'invalid-argument' });
    expect(counters.count('rc', 'ip', 60)).toBe(before);
  });
});

/**
 * A worker-side session whose main thread is a real `Services` run in-process: each service
 * call goes through the same dispatch the request host uses.
 */
function servedSession(config: HostConfig) {
  const services = new Services(config);
  const ctx = { requestId: 'r1' } as ServiceContext;
  const channel = {
    call: (call: SyncCall): SyncReply => {
      if (call.op !== 'service') throw new Error(`unexpected ${call.op}`);
      try {
        return { op: 'service', result: services.call(call.call, ctx) };
      } catch (err) {
        if (err instanceof ServiceError) return { op: 'service', failure: { payload: err.payload } };
        throw err;
      }
    },
    notify: () => {},
  } as unknown as MainChannel;
  return new Session(channel, config, undefined);
}

function kvConfig(): HostConfig {
  const config = emptyHostConfig();
  config.kvStores = { store: { seeded: { data: enc.encode('from toml'), metadata: '{"a":1}' } } };
  return config;
}

type KvApi = {
  Store: { open(name: string): KvStoreHandle };
  awaitLookup(p: Pollable): KvEntryHandle | undefined;
  awaitInsert(p: Pollable): void;
  awaitDelete(p: Pollable): boolean;
  awaitList(p: Pollable): Body;
};
interface KvEntryHandle {
  takeBody(): Body | undefined;
  metadata(maxLen: bigint): string | undefined;
  generation(): bigint;
}
interface KvStoreHandle {
  lookup(key: string): KvEntryHandle | undefined;
  lookupAsync(key: string): Pollable;
  insert(key: string, body: Body, options: object): void;
  insertAsync(key: string, body: Body, options: object): Pollable;
  delete(key: string): boolean;
  deleteAsync(key: string): Pollable;
  list(options: object): Body;
  listAsync(options: object): Pollable;
}

const readAll = (body: Body | undefined) => (body ? dec.decode(body.read(1 << 20)) : undefined);

describe('kv-store interface (worker side, through Services)', () => {
  const session = servedSession(kvConfig());
  const api = kvStore(session) as unknown as KvApi;
  const body = (text: string) => Body.fromBytes(session.channel, enc.encode(text));
  const options = (extra: object = {}) => ({ backgroundFetch: false, mode: 'overwrite', ...extra });

  it('opens configured stores only', () => {
    expect(payload(() => api.Store.open('missing'))).toBe('not-found');
    expect(payload(() => api.Store.open(''))).toBe('invalid-syntax');
    expect(api.Store.open('store')).toBeDefined();
  });

  it('looks up a seeded entry: body once, metadata within max-len, generation', () => {
    const entry = api.Store.open('store').lookup('seeded')!;
    expect(entry.metadata(100n)).toBe('{"a":1}');
    expect(payload(() => entry.metadata(3n))).toEqual({ tag: 'buffer-len', val: 7n });
    expect(typeof entry.generation()).toBe('bigint');
    expect(readAll(entry.takeBody())).toBe('from toml');
    expect(entry.takeBody()).toBeUndefined();
  });

  it('inserts from a body, and reports kv-errors from the store', () => {
    const store = api.Store.open('store');
    store.insert('k', body('v1'), options({ metadata: 'meta', timeToLiveSec: 600 }));
    const entry = store.lookup('k')!;
    expect(entry.metadata(10n)).toBe('meta');
    expect(payload(() => store.insert('k', body('x'), options({ mode: 'add' })))).toEqual({ tag: 'precondition-failed' });
    expect(payload(() => store.insert('k', body('x'), options({ ifGenerationMatch: entry.generation() + 1000n })))).toEqual({ tag: 'precondition-failed' });
    store.insert('k', body('+'), options({ mode: 'append', ifGenerationMatch: entry.generation() }));
    expect(readAll(store.lookup('k')!.takeBody())).toBe('v1+');
    expect(payload(() => store.lookup('a#b'))).toEqual({ tag: 'bad-request' });
    expect(payload(() => store.insert('a#b', body('x'), options()))).toEqual({ tag: 'bad-request' });
    expect(store.delete('k')).toBe(true);
    expect(store.delete('k')).toBe(false);
  });

  it('async variants are ready at once and hand their outcome, errors included, to await', () => {
    const store = api.Store.open('store');
    const insert = store.insertAsync('async', body('value'), options({ mode: 'add' }));
    expect(insert.isReady()).toBe(true);
    api.awaitInsert(insert);
    const failing = store.insertAsync('async', body('again'), options({ mode: 'add' }));
    expect(failing.isReady()).toBe(true);
    expect(payload(() => api.awaitInsert(failing))).toEqual({ tag: 'precondition-failed' });
    const lookup = store.lookupAsync('async');
    expect(readAll(api.awaitLookup(lookup)!.takeBody())).toBe('value');
    expect(api.awaitLookup(store.lookupAsync('nothing-here'))).toBeUndefined();
    const page = JSON.parse(readAll(api.awaitList(store.listAsync({ mode: 'strong', prefix: 'asy' })))!);
    expect(page).toEqual({ data: ['async'], meta: { limit: 1000, prefix: 'asy' } });
    expect(api.awaitDelete(store.deleteAsync('async'))).toBe(true);
    expect(api.awaitDelete(store.deleteAsync('async'))).toBe(false);
    // A bad key fails the call itself (the async calls report through `error`).
    expect(payload(() => store.lookupAsync('..'))).toEqual({ tag: 'invalid-argument' });
    // A pending handle of another kind is refused.
    expect(payload(() => api.awaitList(store.deleteAsync('x')))).toEqual({ tag: 'generic-error' });
  });
});

describe('erl interface (worker side, through Services)', () => {
  it('counts into the shared counters and boxes; check-rate needs a penalty box handle', () => {
    const session = servedSession(emptyHostConfig());
    type Counter = { getName(): string; increment(e: string, d: number): void; lookupCount(e: string, d: number): number; lookupRate(e: string, w: number): number; checkRate(...args: unknown[]): boolean };
    type Box = { getName(): string; add(e: string, ttl: number): void; has(e: string): boolean };
    const api = erl(session) as { RateCounter: { open(name: string): Counter }; PenaltyBox: { open(name: string): Box } };
    const counter = api.RateCounter.open('rc');
    const box = api.PenaltyBox.open('pb');
    expect(counter.getName()).toBe('rc');
    expect(box.getName()).toBe('pb');
    expect(payload(() => api.RateCounter.open(''))).toBe('invalid-syntax');
    counter.increment('ip', 5);
    expect(counter.lookupCount('ip', 10)).toBe(5);
    // Another instance (another request) sees the same counter.
    expect((erl(session) as typeof api).RateCounter.open('rc').lookupCount('ip', 60)).toBe(5);
    expect(payload(() => counter.lookupRate('ip', 3))).toEqual({ tag: 'invalid-argument' });
    expect(counter.checkRate('ip', 100_000, 1, 1000, box, 60)).toBe(true);
    expect(box.has('ip')).toBe(true);
    expect(payload(() => counter.checkRate('ip', 1, 1, 10, counter, 60))).toEqual({ tag: 'invalid-argument' });
    box.add('other', 120);
    expect(box.has('other')).toBe(true);
  });
});

describe('the served interfaces cover the WIT', () => {
  const camel = (kebab: string) => kebab.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
  const pascal = (kebab: string) => camel(kebab).replace(/^./, (c) => c.toUpperCase());

  it.each([
    ['kv-store', kvStore],
    ['erl', erl],
  ] as const)('%s: every function, method and static the WIT declares (jco names)', (name, factory) => {
    const wit = loadWit().interfaces.get(`fastly:compute/${name}@0.1.0`)!;
    const served = factory(servedSession(emptyHostConfig())) as Record<string, unknown>;
    expect(wit.functions.size).toBe(name === 'erl' ? 10 : 16);
    const missing: string[] = [];
    for (const fn of wit.functions.values()) {
      const plain = fn.name.replace(/^\[\w+\][\w-]+\./, '');
      const resource = fn.resource && (served[pascal(fn.resource.name)] as (new () => object) | undefined);
      const found =
        fn.kind === 'freestanding'
          ? typeof served[camel(fn.name)] === 'function'
          : fn.kind === 'static'
            ? typeof (resource as unknown as Record<string, unknown> | undefined)?.[camel(plain)] === 'function'
            : fn.kind === 'method'
              ? typeof resource?.prototype[camel(plain) as keyof object] === 'function'
              : typeof resource === 'function';
      if (!found) missing.push(fn.name);
    }
    expect(missing).toEqual([]);
    // Every resource is there with what the glue uses of it: a prototype (a class, or a session's
    // view of one; constructors, checked above, need a class).
    for (const type of wit.types.values()) if (type.kind === 'resource') expect(typeof (served[pascal(type.name)] as { prototype?: unknown } | undefined)?.prototype, type.name).toBe('object');
  });
});
