/**
 * The core cache and purge services on the main thread: the worker's calls (see
 * `src/host/services/cache.ts`) on the server-wide `CacheStore` (`./cache/store.ts`, whose
 * comment documents the store API the HTTP cache builds on). This module keeps the handles
 * the workers hold: a transaction, or a found object whose body is still to be streamed;
 * each belongs to one request and goes when the worker closes it or the request ends.
 */
import type { HostConfig } from '../../host/config.js';
import type { HeaderList } from '../../host/protocol.js';
import { bodyRange, CACHE_WAIT_PREFIX, INLINE_BODY_BYTES, type CacheMethods, type CacheWriteOptions, type EntryView, type LookupState } from '../../host/services/cache.js';
import { CacheError, CachedObject, CacheStore, parseSurrogateKeys, type StoreWriteOptions, type Transaction } from './cache/store.js';
import { ServiceError, type ServiceContext, type ServiceEvents, type ServiceHandlers, type ServiceModule } from './index.js';

export { CacheStore } from './cache/store.js';

type Methods = keyof CacheMethods;

interface Handle {
  owner: string;
  /** A transaction (lookup or replace) this handle stands for. */
  tx?: Transaction;
  /** The object it reads (a lookup's find, or an insert streamed back). */
  object?: CachedObject;
}

const NO_STATE: LookupState = { found: false, usable: false, stale: false, mustInsertOrUpdate: false, usableIfError: false };

/** Runs a store call, turning its `CacheError` into the guest's WIT error. */
function guarded<T>(run: () => T): T {
  try {
    return run();
  } catch (err) {
    if (err instanceof CacheError) throw new ServiceError({ tag: err.code });
    throw err;
  }
}

/** The worker's write options are the store's (the WIT's, less the request handle); stale-if-error is the HTTP cache's. */
const storeOptions = (options: CacheWriteOptions): StoreWriteOptions => options;

let purgeSequence = 0;

/** A purge names exactly one surrogate key (Fastly's purge API); `CacheError` otherwise. */
function oneSurrogateKey(text: string): string {
  const keys = parseSurrogateKeys(text);
  if (keys.size !== 1) throw new CacheError('invalid-argument', 'purge takes exactly one surrogate key');
  return [...keys][0]!;
}

/** Every live cache service in this process, for leak checks (`cacheServiceStats`). */
const liveServices = new Set<{ store: CacheStore; liveHandles(): number }>();

/** What the live cache services hold: handles the workers have, and the stores' own counts. */
export function cacheServiceStats(): { handles: number; keys: number; objects: number; transactions: number; waiting: number; readers: number } {
  const total = { handles: 0, keys: 0, objects: 0, transactions: 0, waiting: 0, readers: 0 };
  for (const service of liveServices) {
    total.handles += service.liveHandles();
    for (const [name, count] of Object.entries(service.store.stats())) total[name as keyof typeof total] += count;
  }
  return total;
}

/** The store for a configuration, and the `Services` event lines waiting on it. */
const stores = new WeakMap<HostConfig, { store: CacheStore; events: Set<ServiceEvents> }>();

/**
 * The server's cache store, one per configuration (a `Services` hands the same config object to
 * every factory). The HTTP cache gets the same one from its factory's arguments, so it lives as
 * long as the core cache's and a purge reaches the objects of both. Every `events` given is told
 * of changes until `releaseCacheStore(config, events)`.
 */
export function sharedCacheStore(config: HostConfig, events: ServiceEvents): CacheStore {
  let shared = stores.get(config);
  if (!shared) {
    const listeners = new Set<ServiceEvents>();
    shared = { store: new CacheStore({ onChange: () => listeners.forEach((listener) => listener.changed()) }), events: listeners };
    stores.set(config, shared);
  }
  shared.events.add(events);
  return shared.store;
}

export function releaseCacheStore(config: HostConfig, events: ServiceEvents): void {
  stores.get(config)?.events.delete(events);
}

/** The services module; `store` is injectable so tests can drive the clock. */
export function cacheService(store?: CacheStore) {
  return (config: HostConfig, events: ServiceEvents): ServiceModule<Methods> & { store: CacheStore; liveHandles(): number } => {
    const cache = store ?? sharedCacheStore(config, events);
    const handles = new Map<number, Handle>();
    const byOwner = new Map<string, Set<number>>();
    let nextHandle = 1;

    const register = (handle: Handle): number => {
      const id = nextHandle++;
      handles.set(id, handle);
      let owned = byOwner.get(handle.owner);
      if (!owned) byOwner.set(handle.owner, (owned = new Set()));
      owned.add(id);
      return id;
    };

    const drop = (id: number): void => {
      const handle = handles.get(id);
      if (!handle) return;
      handles.delete(id);
      byOwner.get(handle.owner)?.delete(id);
      if (byOwner.get(handle.owner)?.size === 0) byOwner.delete(handle.owner);
      if (handle.tx) cache.close(handle.tx);
    };

    const get = (id: number, ctx: ServiceContext): Handle => {
      const handle = handles.get(id);
      // Handles are per request: another request's number is as good as none.
      if (!handle || handle.owner !== ctx.requestId) throw new ServiceError({ tag: 'invalid-argument' });
      return handle;
    };

    const stateOf = (tx: Transaction | undefined, object: CachedObject | undefined): LookupState => {
      const state = { ...NO_STATE, mustInsertOrUpdate: tx?.obligated ?? false };
      if (object && object.body.state !== 'failed') {
        const now = cache.now();
        const freshness = object.freshness(now);
        // Usable-if-error speaks of a stale object that stale-if-error still lets through.
        const ifError = !freshness.fresh && freshness.usableIfError;
        state.found = freshness.usable || ifError;
        state.usable = freshness.usable;
        state.stale = !freshness.fresh;
        state.usableIfError = ifError;
      }
      return state;
    };

    /** What the worker needs to answer the guest about an entry; an inline body when it can. */
    const view = (id: number | undefined, tx: Transaction | undefined, object: CachedObject | undefined): EntryView => {
      const pending = tx?.status === 'waiting';
      if (tx?.status === 'failed') throw new ServiceError({ tag: tx.failure?.code ?? 'generic-error' });
      if (pending || !object) return { ...(id === undefined ? {} : { handle: id }), pending, state: pending ? NO_STATE : stateOf(tx, object) };
      const length = object.body.knownLength();
      const bytes = object.body.bytes();
      const inline = bytes !== undefined && bytes.length <= INLINE_BODY_BYTES ? bytes : undefined;
      return {
        ...(id === undefined ? {} : { handle: id }),
        pending: false,
        state: stateOf(tx, object),
        object: {
          ...(length === undefined ? {} : { length: BigInt(length) }),
          maxAgeNs: object.options.maxAgeNs,
          staleWhileRevalidateNs: object.options.staleWhileRevalidateNs,
          ageNs: object.ageNs(cache.now()),
          hits: object.hits,
          userMetadata: object.options.userMetadata,
          ...(inline === undefined ? {} : { body: inline }),
        },
      };
    };

    const headersOf = (headers: HeaderList | undefined): HeaderList => headers ?? [];

    const handlers: ServiceHandlers<Methods> = {
      'cache.lookup': ({ key, headers, transactional }, ctx) =>
        guarded(() => {
          if (!transactional) {
            const object = cache.lookup(key, headersOf(headers));
            if (!object) return view(undefined, undefined, undefined);
            const complete = object.body.state === 'complete' && object.body.length <= INLINE_BODY_BYTES;
            // A small complete object needs nothing kept: the reply carries it all.
            const id = complete ? undefined : register({ owner: ctx.requestId, object });
            return view(id, undefined, object);
          }
          const tx = cache.transactionLookup(key, headersOf(headers), ctx.requestId);
          if (tx.status === 'failed') return view(undefined, tx, undefined);
          const object = tx.found;
          if (tx.status === 'ready' && !tx.obligated && object && object.body.state === 'complete' && object.body.length <= INLINE_BODY_BYTES) {
            cache.close(tx);
            return view(undefined, undefined, object);
          }
          const id = register({ owner: ctx.requestId, tx, object });
          return view(id, tx, object);
        }),
      'cache.await': ({ handle }, ctx) => {
        const entry = get(handle, ctx);
        const settled = (): EntryView => {
          // Closed while it waited (its request ended).
          if (!handles.has(handle)) throw new ServiceError({ tag: 'invalid-argument' });
          entry.object = entry.tx?.found ?? entry.object;
          return guarded(() => view(handle, entry.tx, entry.object));
        };
        // Only a waiting entry parks the worker; a settled one answers at once.
        return entry.tx?.status === 'waiting' ? entry.tx.settled().then(settled) : settled();
      },
      'cache.refresh': ({ handle }, ctx) => {
        const entry = get(handle, ctx);
        return guarded(() => view(handle, entry.tx, entry.object));
      },
      'cache.insert': ({ key, headers, options, sink }, ctx) =>
        guarded(() => {
          const object = cache.insert(key, headersOf(headers), storeOptions(options));
          ctx.addSink(sink, object.body.sink());
        }),
      'cache.transaction-insert': ({ handle, options, sink, streamBack }, ctx) => {
        const entry = get(handle, ctx);
        return guarded(() => {
          if (!entry.tx || entry.tx.kind !== 'lookup') throw new CacheError('auxiliary-error', 'not a transaction');
          const object = cache.transactionInsert(entry.tx, storeOptions(options));
          ctx.addSink(sink, object.body.sink());
          if (!streamBack) return undefined;
          const id = register({ owner: ctx.requestId, object });
          return view(id, undefined, object);
        });
      },
      'cache.transaction-update': ({ handle, options }, ctx) => {
        const entry = get(handle, ctx);
        guarded(() => {
          if (!entry.tx || entry.tx.kind !== 'lookup') throw new CacheError('auxiliary-error', 'not a transaction');
          cache.transactionUpdate(entry.tx, storeOptions(options));
        });
      },
      'cache.transaction-cancel': ({ handle }, ctx) => {
        const entry = get(handle, ctx);
        guarded(() => {
          if (!entry.tx) throw new CacheError('auxiliary-error', 'not a transaction');
          cache.cancel(entry.tx);
        });
      },
      'cache.get-body': ({ handle, from, to, alwaysUseRequestedRange }, ctx) => {
        const entry = get(handle, ctx);
        const object = entry.object;
        if (!object || object.body.state === 'failed') throw new ServiceError({ tag: 'invalid-argument' });
        const range = bodyRange(object.body.knownLength(), from, to, alwaysUseRequestedRange);
        const stream = object.body.openReader(range);
        const whole = 'start' in range && range.start === 0 && range.end === undefined;
        const length = whole ? object.body.knownLength() : undefined;
        return { source: ctx.addSource(stream), ...(length === undefined ? {} : { knownLength: BigInt(length) }) };
      },
      'cache.close': ({ handle }, ctx) => {
        if (handles.get(handle)?.owner === ctx.requestId) drop(handle);
      },
      'cache.replace': ({ key, headers, strategy }, ctx) =>
        guarded(() => {
          const tx = cache.replace(key, headersOf(headers), strategy, ctx.requestId);
          if (tx.status === 'failed') return view(undefined, tx, undefined);
          const id = register({ owner: ctx.requestId, tx, object: tx.found });
          return view(id, tx, tx.found);
        }),
      'cache.replace-insert': ({ handle, options, sink }, ctx) => {
        const entry = get(handle, ctx);
        guarded(() => {
          if (!entry.tx || entry.tx.kind !== 'replace') throw new CacheError('auxiliary-error', 'not a replace entry');
          const object = cache.replaceInsert(entry.tx, storeOptions(options));
          ctx.addSink(sink, object.body.sink());
        });
        // The handle is consumed: the replace is done once its body is handed over.
        drop(handle);
      },
      'purge.surrogate-key': ({ surrogateKey, soft }) =>
        guarded(() => {
          cache.purge(oneSurrogateKey(surrogateKey), soft);
          // The purge API's answer: a status and a purge id (`<service>-<time>-<sequence>` on the platform).
          return { json: JSON.stringify({ status: 'ok', id: `${process.pid}-${Math.floor(Date.now() / 1000)}-${++purgeSequence}` }) };
        }),
    };

    const module: ServiceModule<Methods> & { store: CacheStore; liveHandles(): number } = {
      store: cache,
      liveHandles: () => handles.size,
      handlers,
      view: { cache: { core: () => cache.view() } },
      purge: (surrogateKey, soft) => cache.purge(oneSurrogateKey(surrogateKey), soft),
      isReady(key) {
        if (!key.startsWith(CACHE_WAIT_PREFIX)) return undefined;
        const tx = handles.get(Number(key.slice(CACHE_WAIT_PREFIX.length)))?.tx;
        return tx === undefined || tx.status !== 'waiting';
      },
      endRequest(requestId: string) {
        for (const id of [...(byOwner.get(requestId) ?? [])]) drop(id);
        cache.endRequest(requestId);
      },
      close() {
        liveServices.delete(module);
        releaseCacheStore(config, events);
      },
    };
    liveServices.add(module);
    return module;
  };
}
