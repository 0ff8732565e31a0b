/**
 * The HTTP cache on the main thread: one store for the whole server, keyed by the cache key a
 * request's transaction names, holding the variants of a response (by Vary rule), the bodies
 * being written or complete, and for each key at most one transaction obliged to insert or
 * update it (request collapsing): other lookups on the key wait until it inserts, updates,
 * records the object uncacheable, abandons or drops it, then look again.
 */
import { Readable } from 'node:stream';
import type { HostConfig } from '../../host/config.js';
import { varySignature } from '../../host/http-cache-rules.js';
import type { HeaderList } from '../../host/protocol.js';
import type { ServiceMethodName } from '../../host/services/protocol.js';
import type { HttpCacheHead, HttpCacheLookupState, HttpCacheMethods, HttpCacheObjectInfo, HttpCacheOutcome, HttpCacheWrite } from '../../host/services/http-cache.js';
import type { InboundSource } from '../inbound.js';
import { MAX_OBJECT_BYTES } from './cache/store.js';
import { completeBody, utf8Text, type BodyView, type HttpCacheObjectView } from './view.js';
import { ServiceError, type BodySink, type ServiceContext, type ServiceEvents, type ServiceFactory, type ServiceModule } from './index.js';

type Methods = keyof HttpCacheMethods;

/** Waitable keys this service owns: `http-cache:<entry>`. */
const WAITABLE_PREFIX = 'http-cache:';

/** Reading a piped main-side stream into a stored body: how often to look again while it has nothing (ms, doubling up to the cap). */
const PIPE_POLL_MIN_MS = 1;
const PIPE_POLL_MAX_MS = 16;
const PIPE_CHUNK = 64 * 1024;

const NO_STATE: HttpCacheLookupState = { found: false, usable: false, stale: false, mustInsertOrUpdate: false, usableIfError: false };

/** A stored body: chunks as written, readable while it is being written; past the platform's object size limit it fails. */
class StoredBody {
  readonly chunks: Buffer[] = [];
  length = 0;
  done = false;
  aborted = false;
  private readonly listeners = new Set<() => void>();

  append(bytes: Uint8Array): void {
    if (this.done || bytes.length === 0) return;
    if (this.length + bytes.length > MAX_OBJECT_BYTES) return this.finish(true);
    this.chunks.push(Buffer.from(bytes));
    this.length += bytes.length;
    this.notify();
  }

  finish(aborted: boolean): void {
    if (this.done) return;
    this.done = true;
    this.aborted = aborted;
    this.notify();
  }

  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private notify(): void {
    for (const listener of [...this.listeners]) listener();
  }

  /** A stream of the whole body from its start, following writes until the end. */
  reader(): Readable {
    let index = 0;
    let unwatch: (() => void) | undefined;
    const stream = new Readable({
      read: () => {
        const pump = () => {
          while (index < this.chunks.length) if (!stream.push(this.chunks[index++])) return;
          if (this.done) {
            unwatch?.();
            if (this.aborted) stream.destroy(new Error('the cached body was abandoned while being written'));
            else stream.push(null);
          } else unwatch ??= this.onChange(pump);
        };
        pump();
      },
      destroy: (err, callback) => {
        unwatch?.();
        callback(err);
      },
    });
    return stream;
  }
}

/** One stored response (a variant of its key). */
interface StoredObject {
  head: HttpCacheHead;
  options: HttpCacheWrite;
  /** Request header values under the Vary rule, for matching later requests. */
  signature: string;
  storedAtMs: number;
  hits: bigint;
  body: StoredBody;
}

/** A request's transaction on a key, as the guest's entry handle names it. */
interface EntryRecord {
  id: number;
  requestId: string;
  key: string;
  headers: HeaderList;
  /** Undefined while waiting behind another transaction. */
  outcome: HttpCacheOutcome | undefined;
  object: StoredObject | undefined;
  /** Set while this entry holds the key's obligation to insert or update. */
  obliged: boolean;
  waiters: Array<{ resolve: (outcome: HttpCacheOutcome) => void; reject: (err: unknown) => void }>;
}

interface KeyState {
  /** Newest first. */
  objects: StoredObject[];
  holder: EntryRecord | undefined;
  /** Lookups waiting for the holder, in arrival order. */
  queue: EntryRecord[];
  /** `record-not-cacheable`: until then, lookups do not collapse (Fastly's hit-for-pass). */
  uncacheable: { untilMs: number; varyRule: string; signature: string } | undefined;
}

function ageNs(object: StoredObject, nowMs: number): bigint {
  return object.options.initialAgeNs + BigInt(Math.max(0, Math.floor((nowMs - object.storedAtMs) * 1e6)));
}

function objectInfo(object: StoredObject, nowMs: number): HttpCacheObjectInfo {
  return { ...object.options, head: object.head, ageNs: ageNs(object, nowMs), hits: object.hits, length: object.options.length ?? (object.body.done ? BigInt(object.body.length) : undefined) };
}

const fail = (tag: string): never => {
  throw new ServiceError({ tag });
};

/** The service module, and what other services and tests may ask of the store behind it. */
export interface HttpCache {
  module: ServiceModule<Methods>;
  /** Removes (hard) or makes stale (soft: still served under stale-while-revalidate) every object carrying the surrogate key; how many. */
  purge(surrogateKey: string, soft: boolean): number;
  /** Live keys, objects and entries (leak checks). */
  stats(): { keys: number; objects: number; entries: number; waiting: number };
  /** Every stored object a lookup could still be served, copied out (reading counts no hit). */
  view(): HttpCacheObjectView[];
}

export const httpCacheService: ServiceFactory<Methods> = (_config: HostConfig, events: ServiceEvents) => createHttpCache(events).module;

/** The store; `now` (milliseconds) is injected by tests. */
export function createHttpCache(events: ServiceEvents, now: () => number = Date.now): HttpCache {
  const keys = new Map<string, KeyState>();
  const entries = new Map<number, EntryRecord>();
  let nextEntry = 1;

  function keyState(key: string): KeyState {
    let state = keys.get(key);
    if (!state) keys.set(key, (state = { objects: [], holder: undefined, queue: [], uncacheable: undefined }));
    return state;
  }

  function entry(id: number, ctx?: ServiceContext): EntryRecord {
    const found = entries.get(id);
    if (!found || (ctx && found.requestId !== ctx.requestId)) fail('invalid-argument');
    return found!;
  }

  /** The newest usable-shaped variant for these request headers, dropping bodies abandoned mid-write. */
  function variant(state: KeyState, headers: HeaderList): StoredObject | undefined {
    state.objects = state.objects.filter((object) => !object.body.aborted);
    return state.objects.find((object) => varySignature(object.options.varyRule, headers) === object.signature);
  }

  /** Decides what a lookup sees now; leaves it waiting when another request's transaction must finish first. */
  function evaluate(record: EntryRecord): void {
    const state = keyState(record.key);
    const at = now();
    const object = variant(state, record.headers);
    const age = object && ageNs(object, at);
    const fresh = object !== undefined && age! < object.options.maxAgeNs;
    const withinSwr = object !== undefined && age! < object.options.maxAgeNs + object.options.staleWhileRevalidateNs;
    const withinSie = object !== undefined && age! < object.options.maxAgeNs + object.options.staleIfErrorNs;
    const settle = (flags: Partial<HttpCacheLookupState>, found: StoredObject | undefined, obliged = false) => {
      record.object = found;
      if (found && flags.usable) found.hits += 1n;
      record.outcome = { state: { ...NO_STATE, ...flags }, ...(found ? { object: objectInfo(found, at) } : {}) };
      if (obliged) {
        record.obliged = true;
        state.holder = record;
      }
    };
    if (fresh) return settle({ found: true, usable: true }, object);
    const pass = state.uncacheable;
    if (pass && pass.untilMs > at && varySignature(pass.varyRule, record.headers) === pass.signature) return settle({}, undefined);
    if (withinSwr) {
      // Stale but usable while one request revalidates in the background.
      return settle({ found: true, usable: true, stale: true, mustInsertOrUpdate: state.holder === undefined }, object, state.holder === undefined);
    }
    if (state.holder !== undefined) {
      if (!state.queue.includes(record)) state.queue.push(record);
      record.outcome = undefined;
      return;
    }
    settle({ found: object !== undefined, stale: object !== undefined, mustInsertOrUpdate: true, usableIfError: withinSie }, object, true);
  }

  /** The holder is done with its obligation: the waiting lookups look again, in order (one of them may take it). */
  function release(record: EntryRecord): void {
    if (!record.obliged) return;
    record.obliged = false;
    const state = keyState(record.key);
    if (state.holder === record) state.holder = undefined;
    const queue = state.queue.splice(0);
    for (const waiting of queue) {
      evaluate(waiting);
      if (waiting.outcome) for (const waiter of waiting.waiters.splice(0)) waiter.resolve(waiting.outcome);
    }
    events.changed();
  }

  function holder(id: number, ctx: ServiceContext): EntryRecord {
    const record = entry(id, ctx);
    if (!record.outcome) fail('invalid-argument');
    if (!record.obliged) fail('invalid-argument');
    return record;
  }

  function newEntry(requestId: string, key: string, headers: HeaderList, object: StoredObject, state: Partial<HttpCacheLookupState>): number {
    const id = nextEntry++;
    const outcome: HttpCacheOutcome = { state: { ...NO_STATE, ...state }, object: objectInfo(object, now()) };
    entries.set(id, { id, requestId, key, headers, outcome, object, obliged: false, waiters: [] });
    return id;
  }

  /** Pulls a main-side stream into a stored body (a backend body the guest appended to the insert body). */
  async function pipe(source: InboundSource, body: StoredBody): Promise<void> {
    let delay = PIPE_POLL_MIN_MS;
    for (;;) {
      if (body.done) return source.destroy();
      if (!source.ready()) {
        await new Promise((resolve) => setTimeout(resolve, delay));
        delay = Math.min(delay * 2, PIPE_POLL_MAX_MS);
        continue;
      }
      delay = PIPE_POLL_MIN_MS;
      let chunk: Buffer | undefined;
      try {
        chunk = source.take(PIPE_CHUNK);
      } catch {
        return body.finish(true);
      }
      if (chunk === undefined) return;
      body.append(chunk);
    }
  }

  /** Routes the guest's writes to the insert body into the stored object, in order with piped sources. */
  function sinkInto(body: StoredBody): BodySink {
    let chain = Promise.resolve();
    const then = (step: () => void | Promise<void>) => (chain = chain.then(step).catch(() => body.finish(true)));
    return {
      bytes: (bytes) => void then(() => body.append(bytes)),
      source: (source) => void then(() => pipe(source, body)),
      end: () => void then(() => body.finish(false)),
      abort: () => void then(() => body.finish(true)),
    };
  }

  function store(record: EntryRecord, head: HttpCacheHead, options: HttpCacheWrite): StoredObject {
    const state = keyState(record.key);
    const signature = varySignature(options.varyRule, record.headers);
    const object: StoredObject = { head, options, signature, storedAtMs: now(), hits: 0n, body: new StoredBody() };
    // The new object replaces the variant it matches; other variants stay.
    state.objects = [object, ...state.objects.filter((other) => !(other.options.varyRule === options.varyRule && other.signature === signature))];
    state.uncacheable = undefined;
    return object;
  }

  function close(record: EntryRecord): void {
    entries.delete(record.id);
    const state = keyState(record.key);
    state.queue = state.queue.filter((waiting) => waiting !== record);
    for (const waiter of record.waiters.splice(0)) waiter.reject(new ServiceError({ tag: 'invalid-argument' }));
    release(record);
    tidy(record.key);
  }

  /** Forgets a key that holds nothing any more. */
  function tidy(key: string): void {
    const state = keys.get(key);
    if (!state) return;
    if (state.uncacheable && state.uncacheable.untilMs <= now()) state.uncacheable = undefined;
    if (state.objects.length === 0 && !state.holder && state.queue.length === 0 && !state.uncacheable) keys.delete(key);
  }

  function purge(surrogateKey: string, soft: boolean): number {
    let count = 0;
    for (const [key, state] of keys) {
      const carrying = state.objects.filter((object) => object.options.surrogateKeys.split(' ').includes(surrogateKey));
      count += carrying.length;
      if (soft) {
        // Stale from now on: its age already exceeds its max-age, the stale windows still apply.
        for (const object of carrying) {
          const age = ageNs(object, now());
          if (age < object.options.maxAgeNs) object.options = { ...object.options, maxAgeNs: age };
        }
      } else {
        state.objects = state.objects.filter((object) => !carrying.includes(object));
        tidy(key);
      }
    }
    return count;
  }

  function stats() {
    let objects = 0;
    let waiting = 0;
    for (const state of keys.values()) {
      objects += state.objects.length;
      waiting += state.queue.length;
    }
    return { keys: keys.size, objects, entries: entries.size, waiting };
  }

  function view(): HttpCacheObjectView[] {
    const at = now();
    const found: HttpCacheObjectView[] = [];
    for (const [key, state] of keys) {
      for (const object of state.objects) {
        if (object.body.aborted) continue;
        const age = ageNs(object, at);
        const { maxAgeNs, staleWhileRevalidateNs, staleIfErrorNs } = object.options;
        // Gone for lookups once no stale window lets it through.
        if (age >= maxAgeNs + staleWhileRevalidateNs && age >= maxAgeNs + staleIfErrorNs) continue;
        const body: BodyView = object.body.done
          ? completeBody(Buffer.concat(object.body.chunks))
          : { state: 'writing', received: object.body.length, ...(object.options.length === undefined ? {} : { declaredLength: Number(object.options.length) }) };
        found.push({
          kind: 'http',
          key,
          status: object.head.status,
          headers: object.head.headers.map(([name, value]) => [name, utf8Text(value)]),
          varyRule: object.options.varyRule,
          body,
          ageNs: age,
          maxAgeNs,
          staleWhileRevalidateNs,
          staleIfErrorNs,
          stale: age >= maxAgeNs,
          hits: object.hits,
          surrogateKeys: object.options.surrogateKeys.split(' ').filter((surrogateKey) => surrogateKey.length > 0),
        });
      }
    }
    return found;
  }

  const module: ServiceModule<Methods> = {
    view: { cache: { http: view } },
    handlers: {
      'http-cache.lookup': ({ key, headers }, ctx) => {
        const id = nextEntry++;
        const record: EntryRecord = { id, requestId: ctx.requestId, key: Buffer.from(key).toString('hex'), headers, outcome: undefined, object: undefined, obliged: false, waiters: [] };
        entries.set(id, record);
        evaluate(record);
        return { entry: id };
      },
      'http-cache.await': ({ entry: id }, ctx) => {
        const record = entry(id, ctx);
        if (record.outcome) return record.outcome;
        // Waiting behind a transaction this same request holds would never end.
        if (keyState(record.key).holder?.requestId === ctx.requestId) fail('generic-error');
        return new Promise<HttpCacheOutcome>((resolve, reject) => record.waiters.push({ resolve, reject }));
      },
      'http-cache.insert': ({ entry: id, head, options, sink, streamBack }, ctx) => {
        const record = holder(id, ctx);
        if (options.length !== undefined && options.length > BigInt(MAX_OBJECT_BYTES)) fail('limit-exceeded');
        const object = store(record, head, options);
        ctx.addSink(sink, sinkInto(object.body));
        release(record);
        record.outcome = { state: NO_STATE };
        return streamBack ? { entry: newEntry(ctx.requestId, record.key, record.headers, object, { found: true, usable: true }) } : {};
      },
      'http-cache.update': ({ entry: id, head, options, returnFresh }, ctx) => {
        const record = holder(id, ctx);
        const object = record.object;
        if (!object) fail('invalid-argument');
        object!.head = head;
        object!.options = options;
        object!.storedAtMs = now();
        object!.signature = varySignature(options.varyRule, record.headers);
        keyState(record.key).uncacheable = undefined;
        release(record);
        record.outcome = { state: NO_STATE };
        return returnFresh ? { entry: newEntry(ctx.requestId, record.key, record.headers, object!, { found: true, usable: true }) } : {};
      },
      'http-cache.choose-stale': ({ entry: id }, ctx) => {
        const record = holder(id, ctx);
        if (!record.object) fail('invalid-argument');
        release(record);
        record.outcome = { state: { ...NO_STATE, found: true, usable: true, stale: true }, object: objectInfo(record.object!, now()) };
        return record.outcome;
      },
      'http-cache.record-not-cacheable': ({ entry: id, maxAgeNs, varyRule }, ctx) => {
        const record = holder(id, ctx);
        const untilMs = now() + Number(maxAgeNs / 1_000_000n);
        keyState(record.key).uncacheable = { untilMs, varyRule, signature: varySignature(varyRule, record.headers) };
        release(record);
        record.outcome = { state: NO_STATE };
        return null;
      },
      'http-cache.abandon': ({ entry: id }, ctx) => {
        release(holder(id, ctx));
        return null;
      },
      'http-cache.body': ({ entry: id }, ctx) => {
        const record = entry(id, ctx);
        if (!record.object) fail('invalid-argument');
        const body = record.object!.body;
        return { source: ctx.addSource(body.reader()), ...(body.done ? { knownLength: BigInt(body.length) } : {}) };
      },
      'http-cache.close': ({ entry: id }, ctx) => {
        const record = entries.get(id);
        if (record && record.requestId === ctx.requestId) close(record);
        return null;
      },
    },
    isReady(key) {
      if (!key.startsWith(WAITABLE_PREFIX)) return undefined;
      const record = entries.get(Number(key.slice(WAITABLE_PREFIX.length)));
      if (!record || record.outcome) return true;
      // Ready when waiting would deadlock on this request's own transaction: using it then fails instead.
      return keyState(record.key).holder?.requestId === record.requestId;
    },
    endRequest(requestId) {
      for (const record of [...entries.values()]) if (record.requestId === requestId) close(record);
    },
  };
  return { module, purge, stats, view };
}

/**
 * The core cache's service and the HTTP cache as one module, so that purging by surrogate key
 * (`purge.surrogate-key`, which the core cache's service answers) also reaches the HTTP cache's
 * objects; the two keep separate stores (see the README's HTTP cache section for why).
 */
export function alongsideCoreCache<M extends ServiceMethodName>(core: ServiceFactory<M>): ServiceFactory<M | Methods> {
  return (config, events) => {
    const coreModule = core(config, events);
    const http = createHttpCache(events);
    const handlers = { ...coreModule.handlers, ...http.module.handlers } as Record<string, (args: unknown, ctx: ServiceContext) => unknown>;
    const corePurge = handlers['purge.surrogate-key'];
    if (corePurge) {
      handlers['purge.surrogate-key'] = (args, ctx) => {
        // The core service validates the key and answers; the HTTP cache follows only when it accepted it.
        const answer = corePurge(args, ctx);
        const { surrogateKey, soft } = args as { surrogateKey: string; soft: boolean };
        http.purge(surrogateKey.trim(), soft);
        return answer;
      };
    }
    return {
      handlers: handlers as unknown as ServiceModule<M | Methods>['handlers'],
      isReady: (key) => http.module.isReady!(key) ?? coreModule.isReady?.(key),
      endRequest: (requestId) => {
        coreModule.endRequest?.(requestId);
        http.module.endRequest!(requestId);
      },
      close: () => coreModule.close?.(),
      view: { ...coreModule.view, cache: { ...coreModule.view?.cache, http: http.view } },
      // The core service checks the key (one surrogate key, visible ASCII) before either store is touched.
      purge: (surrogateKey, soft) => (coreModule.purge?.(surrogateKey, soft) ?? 0) + http.purge(surrogateKey.trim(), soft),
    };
  };
}
