import type { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { MainChannel } from '../src/host/channel.js';
import { emptyHostConfig } from '../src/host/config.js';
import { cacheInterface } from '../src/host/interfaces/cache.js';
import { purgeInterface } from '../src/host/interfaces/purge.js';
import { dispose, type Pollable } from '../src/host/pollable.js';
import type { Notice, SyncCall, SyncReply } from '../src/host/protocol.js';
import { RequestHost } from '../src/server/request-host.js';
import { Session } from '../src/host/session.js';
import { cacheService } from '../src/server/services/cache.js';
import { ServiceError, type BodySink } from '../src/server/services/index.js';
import { payload } from './support/host-error.js';

const enc = new TextEncoder();
const dec = new TextDecoder();
const key = (text: string) => enc.encode(text);
const write = (maxAgeNs = 60_000_000_000n) => ({ maxAgeNs, sensitiveData: false });
const lookupOptions = { alwaysUseRequestedRange: false };

/**
 * The worker-side interface wired straight to the main-side module, without threads: calls that
 * would park the worker (a wait that is not ready, an await that must wait) fail the test.
 */
function harness() {
  const module = cacheService()(emptyHostConfig(), { changed() {} });
  const sinks = new Map<number, BodySink>();
  const sources = new Map<number, Readable>();
  let nextSource = 1;
  let calls = 0;
  const session = (requestId: string) => {
    const ctx = {
      requestId,
      addSource: (stream: Readable) => (sources.set(nextSource, stream), nextSource++),
      addSink: (sink: number, target: BodySink) => void sinks.set(sink, target),
    };
    const run = (method: string, args: unknown) => (module.handlers as Record<string, (args: unknown, ctx: unknown) => unknown>)[method]!(args, ctx);
    const channel = {
      call(call: SyncCall): SyncReply {
        calls++;
        if (call.op === 'wait') {
          const index = call.items.findIndex((item) => 'service' in item && module.isReady!(item.service));
          if (index < 0 && call.timeoutMs !== 0) throw new Error('the worker would block');
          return { op: 'wait', index: index < 0 ? null : index };
        }
        if (call.op !== 'service') throw new Error(`unexpected ${call.op}`);
        try {
          const result = run(call.call.method, call.call.args);
          if (result instanceof Promise) throw new Error('the worker would block');
          return { op: 'service', result };
        } catch (err) {
          if (err instanceof ServiceError) return { op: 'service', failure: { payload: err.payload } };
          throw err;
        }
      },
      notify(notice: Notice) {
        if (notice.op === 'sink-write') sinks.get(notice.sink)!.bytes(notice.bytes);
        else if (notice.op === 'sink-close') sinks.get(notice.sink)!.end();
        else if (notice.op === 'sink-abort') sinks.get(notice.sink)!.abort();
        else if (notice.op === 'service-notice') run(notice.call.method, notice.call.args);
      },
    } as unknown as MainChannel;
    const s = new Session(channel, emptyHostConfig(), undefined);
    return { api: cacheInterface(s), purge: purgeInterface(s), end: () => module.endRequest!(requestId), session: s };
  };
  return { module, session, sources, calls: () => calls };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('cache interface (worker side) on the main-side module', () => {
  it('a hit of a small complete object is one call, its body inline, and leaves no handle', async () => {
    const h = harness();
    const { api } = h.session('r1');
    const body = api.insert(key('k'), { ...write(), userMetadata: enc.encode('m') });
    body.write(enc.encode('hello'));
    body.close();
    await tick();
    const before = h.calls();
    const entry = api.Entry.lookup(key('k'), lookupOptions);
    expect(entry.getState()).toEqual({ found: true, usable: true, stale: false, mustInsertOrUpdate: false, usableIfError: false });
    expect(dec.decode(entry.getBody({}).read(100))).toBe('hello');
    expect(dec.decode(entry.getBody({ from: 1n, to: 2n }).read(100))).toBe('el');
    expect(entry.getLength()).toBe(5n);
    expect(entry.getHits()).toBe(1n);
    expect(dec.decode(entry.getUserMetadata(10n))).toBe('m');
    expect(payload(() => entry.getUserMetadata(0n))).toEqual({ tag: 'buffer-len', val: 1n });
    expect(entry.step()).toBeUndefined();
    api.closeEntry(entry);
    expect(h.calls() - before).toBe(1);
    expect(h.module.liveHandles()).toBe(0);
  });

  it('a transaction waiting behind another request: step and subscribe pollables until the insert, then the object', async () => {
    const h = harness();
    const first = h.session('r1');
    const second = h.session('r2');
    const holder = first.api.Entry.transactionLookup(key('k'), lookupOptions);
    expect(holder.getState().mustInsertOrUpdate).toBe(true);
    const pending = second.api.Entry.transactionLookupAsync(key('k'), lookupOptions);
    expect(pending.isReady()).toBe(false);
    const waiter = second.api.awaitEntry.bind(second.api);
    const subscription = (pending as unknown as { core: { readiness(): unknown } }).core.readiness();
    expect(subscription).toEqual({ service: expect.stringMatching(/^cache:\d+$/) });
    const body = holder.transactionInsert(write());
    expect(holder.getState().mustInsertOrUpdate).toBe(false);
    body.write(enc.encode('filled'));
    body.close();
    await tick();
    expect(pending.isReady()).toBe(true);
    const entry = waiter(pending);
    expect(entry.step()).toBeUndefined();
    expect(entry.subscribe().isReady()).toBe(true);
    expect(entry.getState()).toMatchObject({ found: true, mustInsertOrUpdate: false });
    expect(dec.decode(entry.getBody({}).read(100))).toBe('filled');
    first.api.closeEntry(holder);
    second.api.closeEntry(entry);
    expect(h.module.liveHandles()).toBe(0);
    expect(h.module.store.stats()).toMatchObject({ transactions: 0, waiting: 0 });
  });

  it('thousands of subscriptions made and dropped leave nothing on the main side', () => {
    const h = harness();
    const first = h.session('r1');
    const second = h.session('r2');
    const holder = first.api.Entry.transactionLookup(key('k'), lookupOptions);
    const entry = second.api.Entry.transactionLookup(key('k'), lookupOptions);
    const replace = second.api.ReplaceEntry.replace(key('k'), { ...lookupOptions, replaceStrategy: 'wait' });
    const before = { handles: h.module.liveHandles(), ...h.module.store.stats() };
    for (let i = 0; i < 5000; i++) {
      const pollable: Pollable = i % 3 === 0 ? entry.subscribe() : i % 3 === 1 ? replace.subscribe() : (entry.step() ?? entry.subscribe());
      expect(pollable.isReady()).toBe(false);
      expect(second.session.subscriptions.held).toBe(1);
      (pollable as unknown as Record<symbol, () => void>)[dispose]?.();
      // A second drop (jco's finalizer after an explicit one) counts once.
      (pollable as unknown as Record<symbol, () => void>)[dispose]?.();
    }
    expect(second.session.subscriptions.held).toBe(0);
    expect({ handles: h.module.liveHandles(), ...h.module.store.stats() }).toEqual(before);
    // What a run reports when the guest ends holding one (see runner.ts): the count of those kept.
    entry.subscribe();
    replace.step();
    expect(second.session.subscriptions.held).toBe(2);
    first.end();
    second.end();
    expect(h.module.liveHandles()).toBe(0);
    expect(h.module.store.stats()).toEqual({ keys: 0, objects: 0, transactions: 0, waiting: 0, readers: 0 });
    void holder;
  });

  it('a run that ends holding such pollables is reported in the server log', () => {
    const errors: string[] = [];
    const host = new RequestHost('r1', undefined, () => {}, { info() {}, error: (line) => void errors.push(line), guestOutput() {}, endpoint() {} });
    host.handle({ kind: 'finished', outcome: 'ok', undroppedPollables: 2 });
    expect(errors).toEqual(['r1: the guest ended holding 2 cache-entry pollable(s) it never dropped (subscribe / step)']);
  });

  it('replace entries report the object they replace; replace-insert consumes the handle', async () => {
    const h = harness();
    const { api } = h.session('r1');
    const old = api.insert(key('k'), write());
    old.write(enc.encode('old'));
    old.close();
    await tick();
    const replace = api.ReplaceEntry.replace(key('k'), lookupOptions);
    expect(replace.getState()).toMatchObject({ found: true, usable: true });
    expect(dec.decode(replace.getBody({})!.read(10))).toBe('old');
    expect(replace.step()).toBeUndefined();
    const body = api.replaceInsert(replace, write());
    body.write(enc.encode('new'));
    body.close();
    await tick();
    expect(dec.decode(api.Entry.lookup(key('k'), lookupOptions).getBody({}).read(10))).toBe('new');
    expect(h.module.liveHandles()).toBe(0);
    const missing = api.ReplaceEntry.replace(key('none'), lookupOptions);
    expect(missing.getState()).toMatchObject({ found: false });
    expect(missing.getBody({})).toBeUndefined();
    expect(missing.getAgeNs()).toBeUndefined();
    api.closeReplaceEntry(missing);
    expect(h.module.liveHandles()).toBe(0);
  });

  it('a body still being written streams through a main-side source; ranges wait for their bytes when always-use-requested-range', async () => {
    const h = harness();
    const writer = h.session('w');
    const reader = h.session('r');
    const body = writer.api.insert(key('k'), write());
    body.write(enc.encode('0123'));
    await tick();
    const ctx = { requestId: 'r', addSource: (stream: Readable) => (h.sources.set(100, stream), 100), addSink() {} };
    const handlers = h.module.handlers as unknown as Record<string, (args: unknown, ctx: unknown) => unknown>;
    const read = (stream: Readable) =>
      new Promise<string>((resolve) => {
        let text = '';
        stream.on('data', (chunk: Buffer) => (text += chunk.toString()));
        stream.on('end', () => resolve(text));
      });
    const view = handlers['cache.lookup']!({ key: key('k'), transactional: false }, ctx) as { handle: number; object: { length?: bigint; body?: Uint8Array } };
    expect(view.object.length).toBeUndefined();
    expect(view.object.body).toBeUndefined();
    handlers['cache.get-body']!({ handle: view.handle, from: 2n, to: 5n, alwaysUseRequestedRange: true }, ctx);
    const ranged = read(h.sources.get(100)!);
    handlers['cache.get-body']!({ handle: view.handle, from: 2n, to: 5n, alwaysUseRequestedRange: false }, ctx);
    const whole = read(h.sources.get(100)!);
    body.write(enc.encode('456789'));
    body.close();
    expect(await ranged).toBe('2345');
    expect(await whole).toBe('0123456789');
    // The reader's entry keeps a handle (its body streams) until it is closed.
    expect(h.module.liveHandles()).toBe(1);
    reader.end();
    expect(h.module.liveHandles()).toBe(0);
  });

  it('errors: no obligation, a body on a miss, a key over 4096 bytes, purge of a bad key', () => {
    const h = harness();
    const { api, purge } = h.session('r1');
    const miss = api.Entry.lookup(key('nothing'), lookupOptions);
    expect(miss.getState().found).toBe(false);
    expect(payload(() => miss.getBody({}))).toEqual({ tag: 'cannot-read' });
    expect(payload(() => miss.transactionInsert(write()))).toEqual({ tag: 'auxiliary-error' });
    expect(payload(() => miss.transactionCancel())).toEqual({ tag: 'auxiliary-error' });
    expect(payload(() => api.Entry.lookup(new Uint8Array(4097), lookupOptions))).toEqual({ tag: 'invalid-argument' });
    expect(payload(() => purge.purgeSurrogateKey('two keys', { softPurge: false }))).toEqual({ tag: 'invalid-argument' });
    expect(JSON.parse(purge.purgeSurrogateKeyVerbose('one', { softPurge: true }, 1000n))).toMatchObject({ status: 'ok', id: expect.any(String) });
    expect(payload(() => purge.purgeSurrogateKeyVerbose('one', { softPurge: true }, 2n))).toMatchObject({ tag: 'buffer-len' });
  });
});
