/**
 * KV stores for the whole server, on the main thread: named stores seeded from `fastly.toml`
 * (`kv_stores` / `object_stores`), each a map of key → value, metadata, generation and expiry.
 * Every worker's guests read and write the same maps, so a value one request inserts is what
 * the next request on any worker finds.
 */
import type { HostConfig, KvEntry } from '../../host/config.js';
import {
  KV_DEFAULT_LIST_LIMIT,
  KV_MAX_VALUE_BYTES,
  kvKeyProblem,
  kvMetadataProblem,
  type KvErrorCase,
  type KvFound,
  type KvInsertArgs,
  type KvListArgs,
  type KvListPage,
  type KvMethods,
} from '../../host/services/kv.js';
import { ServiceError, type ServiceFactory } from './index.js';
import { copyBytes, utf8Text, type KvEntryView, type KvView } from './view.js';

/** Milliseconds since some fixed point; injected so tests can move time without sleeping. */
export type Clock = () => number;

interface StoredValue {
  value: Uint8Array;
  metadata?: string;
  generation: bigint;
  /** When the entry vanishes (clock ms), if it was inserted with a TTL. */
  expiresAt?: number;
}

/**
 * Generation markers are unique across every store of the process (the platform's are opaque
 * u64s that change on each write), so a marker read before a `--watch` reload that reseeded the
 * stores can never match a fresh entry by accident. They start from the time in microseconds,
 * so a small number a guest made up (or one from an earlier run) matches nothing, and stay below
 * 2^53, so js-compute's `gen` option (a JS number) carries them exactly.
 */
let lastGeneration = BigInt(Date.now()) * 1000n;
const nextGeneration = () => ++lastGeneration;

const kvError = (tag: KvErrorCase) => new ServiceError({ tag });

const utf8 = new TextEncoder();

/** Every KV store of one server. Methods throw `ServiceError` with the WIT `kv-error` payload. */
export class KvStores {
  private readonly stores = new Map<string, Map<string, StoredValue>>();

  constructor(
    seed: Record<string, Record<string, KvEntry>>,
    private readonly now: Clock = Date.now,
  ) {
    for (const [name, entries] of Object.entries(seed)) {
      const store = new Map<string, StoredValue>();
      for (const [key, entry] of Object.entries(entries)) store.set(key, { value: entry.data, metadata: entry.metadata, generation: nextGeneration() });
      this.stores.set(name, store);
    }
  }

  has(name: string): boolean {
    return this.stores.has(name);
  }

  lookup(name: string, key: string): KvFound | undefined {
    const found = this.live(this.store(name), checkKey(key));
    return found && { value: found.value, metadata: found.metadata, generation: found.generation };
  }

  insert(args: KvInsertArgs): void {
    const store = this.store(args.store);
    const key = checkKey(args.key);
    if (args.metadata !== undefined && kvMetadataProblem(args.metadata)) throw kvError('bad-request');
    const existing = this.live(store, key);
    // A generation names one version of a live entry; an absent key has none to match.
    if (args.ifGenerationMatch !== undefined && existing?.generation !== args.ifGenerationMatch) throw kvError('precondition-failed');
    let value: Uint8Array;
    switch (args.mode) {
      case 'overwrite':
        value = args.value;
        break;
      case 'add':
        if (existing) throw kvError('precondition-failed');
        value = args.value;
        break;
      case 'append':
        value = existing ? concat(existing.value, args.value) : args.value;
        break;
      case 'prepend':
        value = existing ? concat(args.value, existing.value) : args.value;
        break;
    }
    if (value.length > KV_MAX_VALUE_BYTES) throw kvError('payload-too-large');
    // Each write sets the whole item: its metadata and TTL are those of this write (as in Viceroy).
    const expiresAt = args.ttlSec === undefined ? undefined : this.now() + args.ttlSec * 1000;
    store.set(key, { value, metadata: args.metadata, generation: nextGeneration(), expiresAt });
  }

  delete(name: string, key: string): boolean {
    const store = this.store(name);
    const existed = this.live(store, checkKey(key)) !== undefined;
    store.delete(key);
    return existed;
  }

  /**
   * One page of keys in code-unit order, as the platform's JSON: `data` holds the keys, `meta`
   * the limit, the prefix if one was given, and `next_cursor` (base64 of the page's last key)
   * when more keys follow.
   */
  list(args: KvListArgs): Uint8Array {
    const store = this.store(args.store);
    let after: string | undefined;
    if (args.cursor !== undefined) {
      const decoded = Buffer.from(args.cursor, 'base64');
      // Node's decoder skips what is not base64; a cursor that does not round-trip was not ours.
      if (decoded.toString('base64').replace(/=+$/, '') !== args.cursor.replace(/=+$/, '')) throw kvError('bad-request');
      after = decoded.toString('utf8');
    }
    // A zero limit could only page forever without advancing; it is taken as no limit given.
    const limit = args.limit || KV_DEFAULT_LIST_LIMIT;
    const prefix = args.prefix;
    const keys: string[] = [];
    for (const key of store.keys()) {
      if (this.live(store, key) === undefined) continue;
      if (prefix !== undefined && !key.startsWith(prefix)) continue;
      if (after !== undefined && key <= after) continue;
      keys.push(key);
    }
    keys.sort();
    const data = keys.slice(0, limit);
    const page: KvListPage = { data, meta: { limit } };
    if (prefix !== undefined) page.meta.prefix = prefix;
    if (keys.length > data.length && data.length > 0) page.meta.next_cursor = Buffer.from(data[data.length - 1]!).toString('base64');
    return utf8.encode(JSON.stringify(page));
  }

  /** The stores' live entries, copied out; expired ones are skipped but left for a lookup to drop. */
  view(): KvView {
    return {
      stores: () => [...this.stores.keys()].sort(),
      entries: (name) => {
        const store = this.stores.get(name);
        if (!store) return undefined;
        const now = this.now();
        const entries: Record<string, KvEntryView> = {};
        for (const key of [...store.keys()].sort()) {
          const stored = store.get(key)!;
          if (stored.expiresAt !== undefined && now >= stored.expiresAt) continue;
          const value = copyBytes(stored.value);
          entries[key] = {
            value,
            text: utf8Text(value),
            ...(stored.metadata === undefined ? {} : { metadata: stored.metadata }),
            generation: stored.generation,
            ...(stored.expiresAt === undefined ? {} : { expires: new Date(stored.expiresAt) }),
          };
        }
        return entries;
      },
    };
  }

  private store(name: string): Map<string, StoredValue> {
    const store = this.stores.get(name);
    // Stores are opened by name first, so a missing one is a host mix-up rather than a guest error.
    if (!store) throw new Error(`no KV store named ${name}`);
    return store;
  }

  /** The entry under `key` unless its TTL ran out, in which case it is removed. */
  private live(store: Map<string, StoredValue>, key: string): StoredValue | undefined {
    const found = store.get(key);
    if (found?.expiresAt !== undefined && this.now() >= found.expiresAt) {
      store.delete(key);
      return undefined;
    }
    return found;
  }
}

function checkKey(key: string): string {
  if (kvKeyProblem(key)) throw kvError('bad-request');
  return key;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/** The KV service over the stores `config` seeds. */
export function kvService(now: Clock = Date.now): ServiceFactory<keyof KvMethods> {
  return (config: HostConfig) => {
    const stores = new KvStores(config.kvStores, now);
    return {
      handlers: {
        'kv.open': ({ store }) => {
          if (!stores.has(store)) throw new ServiceError('not-found');
          return null;
        },
        'kv.lookup': ({ store, key }) => stores.lookup(store, key),
        'kv.insert': (args) => (stores.insert(args), null),
        'kv.delete': ({ store, key }) => stores.delete(store, key),
        'kv.list': (args) => stores.list(args),
      },
      view: { kv: stores.view() },
    };
  };
}
