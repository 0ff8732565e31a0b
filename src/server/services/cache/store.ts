/**
 * The core cache store: one per server, shared by every worker's requests (it lives on the
 * main thread). The HTTP cache builds on it too, so this is its public API:
 *
 * - `lookup(key, headers)` — a non-transactional lookup: the usable object for this request
 *   (under the key's Vary rules), or none. Never waits.
 * - `transactionLookup(key, headers, owner)` — a lookup with request collapsing. Returns a
 *   `Transaction`, which is `ready` (it found a usable object and/or was told to insert or
 *   update: `obligated`) or `waiting` behind another request's obligation on the same variant,
 *   until that one inserts, updates, cancels or closes; then it sees the object, or is chosen
 *   next. Await `tx.settled()`; `onChange` (the constructor's) fires whenever one settles.
 *   A lookup that would wait on an obligation its own request (`owner`) holds fails at once
 *   (`status: 'failed'`, code `generic-error`) rather than hang.
 * - `transactionInsert(tx, options)` / `transactionUpdate(tx, options)` / `cancel(tx)` /
 *   `close(tx)` — fulfil or give up the obligation; `close` also takes a waiting transaction
 *   out of its queue. `endRequest(owner)` closes every transaction of a request.
 * - `insert(key, headers, options)` — a non-transactional insert (last writer wins).
 * - `replace(key, headers, strategy, owner)` / `replaceInsert(tx, options)` — the replace API
 *   with its strategies (`immediate`, `immediate-force-miss`, `wait`, as Fastly's SDK documents).
 * - `purge(surrogateKey, soft)` — removes (hard) or marks stale (soft) every object carrying it.
 * - `stats()` — live keys, objects, transactions and readers (leak checks).
 * - `view()` — every live object as a read-only copy (tests assert on it); counts no hit.
 *
 * Keys are the bytes the caller gives: the HTTP cache passes its computed key, or the guest's
 * override key in its place.
 *
 * The server's store is `sharedCacheStore(config, events)` (`src/server/services/cache.ts`): the
 * HTTP cache's factory takes the same one, so purges reach its objects too.
 *
 * Inserted objects' bodies (`CachedObject.body`, a `CachedBody`) are written through the body's
 * `sink()` and can be read (`openReader`) while being written. Errors are `CacheError`s with the
 * WIT error code the guest gets. Time comes from `now()` (nanoseconds), injected for tests.
 */
import type { HeaderList } from '../../../host/protocol.js';
import { CachedBody } from './body.js';
import {
  CacheError,
  CachedObject,
  MAX_KEY_BYTES,
  MAX_OBJECT_BYTES,
  MAX_USER_METADATA_BYTES,
  parseSurrogateKeys,
  type ReplaceStrategy,
  type StoreWriteOptions,
} from './object.js';
import { VaryRule } from './vary.js';
import { completeBody, copyBytes, utf8Text, type BodyView, type CoreCacheObjectView } from '../view.js';

// The store's API includes the object model.
export * from './object.js';

/** One variant under a key: its object, who must fill it, and who waits for that. */
interface Slot {
  object: CachedObject | undefined;
  holder: Transaction | undefined;
  waiting: Transaction[];
}

/** All variants under one key, and the vary rules seen for it (most recent first, as lookups try them). */
interface KeyEntry {
  rules: VaryRule[];
  slots: Map<string, Slot>;
}

export type TransactionStatus = 'waiting' | 'ready' | 'failed' | 'closed';

let nextTransaction = 1;

/** A transactional lookup or a replace, owned by one request. */
export class Transaction {
  readonly id = nextTransaction++;
  status: TransactionStatus = 'waiting';
  failure: CacheError | undefined;
  /** The usable object it found (for a replace: the object it replaces). */
  found: CachedObject | undefined;
  /** Holds the obligation to insert or update `variant`. */
  obligated = false;
  /** The slot it holds or waits on. */
  variant: string | undefined;
  /** Replace only: a replacement waiting for its body before it takes over (`immediate`, `wait`). */
  replacement: CachedObject | undefined;
  private resolveSettled!: () => void;
  private readonly settledPromise = new Promise<void>((resolve) => (this.resolveSettled = resolve));

  constructor(
    readonly kind: 'lookup' | 'replace',
    readonly keyId: string,
    readonly headers: HeaderList,
    readonly owner: string,
    readonly strategy: ReplaceStrategy = 'immediate',
  ) {}

  /** Resolves once it no longer waits (ready, failed or closed). */
  settled(): Promise<void> {
    return this.settledPromise;
  }

  /** @internal */
  settle(status: Exclude<TransactionStatus, 'waiting'>, failure?: CacheError): void {
    this.status = status;
    this.failure = failure;
    this.resolveSettled();
  }
}

export interface CacheStoreOptions {
  /** Nanoseconds on a monotonic clock (tests inject one). */
  now?: () => bigint;
  /** Called whenever a waiting transaction settles. */
  onChange?: () => void;
  maxObjectBytes?: number;
}

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');
const realNow = () => process.hrtime.bigint();

/** A body's state for the view: failed bodies are never shown (their objects are not alive). */
function bodyView(body: CachedBody): BodyView {
  const bytes = body.bytes();
  if (bytes !== undefined) return completeBody(bytes);
  return { state: 'writing', received: body.length, ...(body.declaredLength === undefined ? {} : { declaredLength: body.declaredLength }) };
}

export class CacheStore {
  private readonly keys = new Map<string, KeyEntry>();
  private readonly transactions = new Map<number, Transaction>();
  readonly now: () => bigint;
  private readonly onChange: () => void;
  private readonly maxObjectBytes: number;

  constructor(options: CacheStoreOptions = {}) {
    this.now = options.now ?? realNow;
    this.onChange = options.onChange ?? (() => {});
    this.maxObjectBytes = options.maxObjectBytes ?? MAX_OBJECT_BYTES;
  }

  /** Checks a key against the platform's limit; its identity in the store. */
  static keyId(key: Uint8Array): string {
    if (key.length > MAX_KEY_BYTES) throw new CacheError('invalid-argument', `cache key of ${key.length} bytes exceeds the limit of ${MAX_KEY_BYTES}`);
    return hex(key);
  }

  lookup(key: Uint8Array, headers: HeaderList): CachedObject | undefined {
    const entry = this.keys.get(CacheStore.keyId(key));
    if (!entry) return undefined;
    const now = this.now();
    for (const [, slot] of this.candidates(entry, headers)) {
      const object = slot.object;
      if (object && object.alive(now)) {
        object.hits++;
        return object;
      }
    }
    return undefined;
  }

  transactionLookup(key: Uint8Array, headers: HeaderList, owner: string): Transaction {
    const tx = new Transaction('lookup', CacheStore.keyId(key), headers, owner);
    this.transactions.set(tx.id, tx);
    this.evaluate(tx);
    return tx;
  }

  insert(key: Uint8Array, headers: HeaderList, options: StoreWriteOptions): CachedObject {
    const keyId = CacheStore.keyId(key);
    const object = this.makeObject(headers, options);
    this.place(keyId, object);
    return object;
  }

  /** Fulfils the obligation with a new object, whose body the caller streams in. */
  transactionInsert(tx: Transaction, options: StoreWriteOptions): CachedObject {
    this.mustHoldObligation(tx);
    const object = this.makeObject(tx.headers, options);
    this.place(tx.keyId, object);
    this.release(tx);
    return object;
  }

  /** Fulfils the obligation by freshening the object it found: new metadata, the same body. */
  transactionUpdate(tx: Transaction, options: StoreWriteOptions): CachedObject {
    this.mustHoldObligation(tx);
    const previous = tx.found;
    if (!previous || previous.body.state === 'failed') throw new CacheError('auxiliary-error', 'there is no cached object to update');
    const object = this.makeObject(tx.headers, { ...options, length: undefined }, previous.body);
    this.place(tx.keyId, object);
    this.release(tx);
    return object;
  }

  /** Gives up the obligation; the next waiter is chosen. */
  cancel(tx: Transaction): void {
    this.mustHoldObligation(tx);
    this.release(tx);
  }

  /** The handle is gone: an obligation is given up, a waiter leaves its queue. */
  close(tx: Transaction): void {
    if (tx.status === 'closed') return;
    if (tx.obligated) this.release(tx);
    if (tx.status === 'waiting' && tx.variant !== undefined) {
      const slot = this.keys.get(tx.keyId)?.slots.get(tx.variant);
      if (slot) slot.waiting = slot.waiting.filter((other) => other !== tx);
      this.tidy(tx.keyId, tx.variant);
    }
    tx.settle('closed');
    this.transactions.delete(tx.id);
  }

  /** Everything a finished request still held is released. */
  endRequest(owner: string): void {
    for (const tx of [...this.transactions.values()]) if (tx.owner === owner) this.close(tx);
  }

  replace(key: Uint8Array, headers: HeaderList, strategy: ReplaceStrategy, owner: string): Transaction {
    const tx = new Transaction('replace', CacheStore.keyId(key), headers, owner, strategy);
    this.transactions.set(tx.id, tx);
    this.evaluate(tx);
    return tx;
  }

  /**
   * Writes the replacement. `immediate` and `wait`: the object it replaces stays visible until
   * the new body is complete; `immediate-force-miss`: the old one is already gone, the new one
   * is visible (streaming) at once.
   */
  replaceInsert(tx: Transaction, options: StoreWriteOptions): CachedObject {
    if (tx.kind !== 'replace' || tx.status !== 'ready') throw new CacheError('auxiliary-error', 'not a replace entry ready to insert');
    if (tx.replacement) throw new CacheError('auxiliary-error', 'this replace already inserted');
    const object = this.makeObject(tx.headers, options);
    tx.replacement = object;
    if (tx.strategy === 'immediate-force-miss') {
      this.place(tx.keyId, object);
      if (tx.obligated) this.release(tx);
      return object;
    }
    object.body.onSettled = () => {
      if (object.body.state === 'complete') this.place(tx.keyId, object);
      if (tx.obligated) this.release(tx);
    };
    return object;
  }

  /** Removes (hard) or marks stale (soft) every object carrying `surrogateKey`; how many. */
  purge(surrogateKey: string, soft: boolean): number {
    const now = this.now();
    let count = 0;
    for (const [keyId, entry] of this.keys) {
      for (const [variant, slot] of entry.slots) {
        const object = slot.object;
        if (!object || !object.surrogateKeys.has(surrogateKey)) continue;
        count++;
        if (soft) object.softPurge(now);
        else {
          slot.object = undefined;
          this.tidy(keyId, variant);
        }
      }
    }
    return count;
  }

  stats(): { keys: number; objects: number; transactions: number; waiting: number; readers: number } {
    let objects = 0;
    let waiting = 0;
    let readers = 0;
    for (const entry of this.keys.values()) {
      for (const slot of entry.slots.values()) {
        if (slot.object) {
          objects++;
          readers += slot.object.body.readerCount;
        }
        waiting += slot.waiting.length;
      }
    }
    return { keys: this.keys.size, objects, transactions: this.transactions.size, waiting, readers };
  }

  /**
   * Every object a lookup could still be served (failed or dead ones are not), copied out:
   * per key, the variants in the order lookups try their rules. Reading counts no hit and
   * drops nothing.
   */
  view(): CoreCacheObjectView[] {
    const now = this.now();
    const found: CoreCacheObjectView[] = [];
    for (const [keyId, entry] of this.keys) {
      const rank = (object: CachedObject) => entry.rules.findIndex((rule) => rule.id === object.varyRule.id);
      const objects = [...entry.slots.values()].flatMap((slot) => (slot.object && slot.object.alive(now) ? [slot.object] : []));
      for (const object of objects.sort((a, b) => rank(a) - rank(b))) {
        const keyBytes = new Uint8Array(Buffer.from(keyId, 'hex'));
        found.push({
          kind: 'core',
          key: utf8Text(keyBytes),
          keyBytes,
          varyRule: object.varyRule.id,
          userMetadata: copyBytes(object.options.userMetadata),
          body: bodyView(object.body),
          ageNs: object.ageNs(now),
          maxAgeNs: object.effectiveMaxAgeNs(),
          staleWhileRevalidateNs: object.options.staleWhileRevalidateNs,
          staleIfErrorNs: object.options.staleIfErrorNs,
          stale: !object.freshness(now).fresh,
          hits: object.hits,
          surrogateKeys: [...object.surrogateKeys],
        });
      }
    }
    return found;
  }

  transaction(id: number): Transaction | undefined {
    return this.transactions.get(id);
  }

  /** Validates write options against the platform's rules and limits. */
  private makeObject(headers: HeaderList, options: StoreWriteOptions, body?: CachedBody): CachedObject {
    const varyRule = VaryRule.parse(options.varyRule);
    if (!varyRule) throw new CacheError('invalid-argument', `invalid vary rule ${JSON.stringify(options.varyRule)}`);
    const userMetadata = options.userMetadata ?? new Uint8Array(0);
    if (userMetadata.length > MAX_USER_METADATA_BYTES) {
      throw new CacheError('limit-exceeded', `user metadata of ${userMetadata.length} bytes exceeds the limit of ${MAX_USER_METADATA_BYTES}`);
    }
    if (options.length !== undefined && options.length > BigInt(this.maxObjectBytes)) {
      throw new CacheError('limit-exceeded', `object length ${options.length} exceeds the limit of ${this.maxObjectBytes} bytes`);
    }
    const edgeMaxAgeNs = options.edgeMaxAgeNs ?? options.maxAgeNs;
    // Viceroy (as the platform) refuses an edge max-age above the max-age.
    if (edgeMaxAgeNs > options.maxAgeNs) throw new CacheError('invalid-argument', 'edge-max-age exceeds max-age');
    return new CachedObject(
      this.now(),
      {
        maxAgeNs: options.maxAgeNs,
        initialAgeNs: options.initialAgeNs ?? 0n,
        staleWhileRevalidateNs: options.staleWhileRevalidateNs ?? 0n,
        staleIfErrorNs: options.staleIfErrorNs ?? 0n,
        userMetadata,
        sensitiveData: options.sensitiveData ?? false,
        edgeMaxAgeNs,
      },
      varyRule,
      varyRule.variant(headers),
      parseSurrogateKeys(options.surrogateKeys),
      body ?? new CachedBody(options.length === undefined ? undefined : Number(options.length), this.maxObjectBytes),
    );
  }

  private entry(keyId: string): KeyEntry {
    let entry = this.keys.get(keyId);
    if (!entry) {
      entry = { rules: [], slots: new Map() };
      this.keys.set(keyId, entry);
    }
    return entry;
  }

  private slot(entry: KeyEntry, variant: string): Slot {
    let slot = entry.slots.get(variant);
    if (!slot) {
      slot = { object: undefined, holder: undefined, waiting: [] };
      entry.slots.set(variant, slot);
    }
    return slot;
  }

  /** The key's variants for this request, in the order lookups try them; dead objects are dropped on the way. */
  private candidates(entry: KeyEntry, headers: HeaderList): Array<[string, Slot]> {
    const now = this.now();
    const found: Array<[string, Slot]> = [];
    for (const rule of entry.rules) {
      const variant = rule.variant(headers);
      const slot = entry.slots.get(variant);
      if (!slot) continue;
      if (slot.object && !slot.object.alive(now)) slot.object = undefined;
      found.push([variant, slot]);
    }
    return found;
  }

  /** Puts an object in its variant's place (the most recent rule first, as the platform tries it). */
  private place(keyId: string, object: CachedObject): void {
    const entry = this.entry(keyId);
    entry.rules = [object.varyRule, ...entry.rules.filter((rule) => rule.id !== object.varyRule.id)];
    this.slot(entry, object.variant).object = object;
  }

  /** Viceroy answers these misuses as the handle being unusable here (`auxiliary-error`, legacy `badf`; the Rust SDK's `InvalidOperation`). */
  private mustHoldObligation(tx: Transaction): void {
    if (!tx.obligated) throw new CacheError('auxiliary-error', 'this entry is not obliged to insert or update');
  }

  /** Drops the obligation and lets the slot's waiters look again, in order. */
  private release(tx: Transaction): void {
    tx.obligated = false;
    const variant = tx.variant!;
    const slot = this.keys.get(tx.keyId)?.slots.get(variant);
    if (!slot || slot.holder !== tx) return;
    slot.holder = undefined;
    const waiting = slot.waiting;
    slot.waiting = [];
    for (const waiter of waiting) this.evaluate(waiter);
    this.tidy(tx.keyId, variant);
    if (waiting.length > 0) this.onChange();
  }

  /** Forgets an empty slot, and a key with no slots. */
  private tidy(keyId: string, variant: string): void {
    const entry = this.keys.get(keyId);
    const slot = entry?.slots.get(variant);
    if (!entry || !slot) return;
    if (!slot.object && !slot.holder && slot.waiting.length === 0) entry.slots.delete(variant);
    if (entry.slots.size === 0) this.keys.delete(keyId);
  }

  /** Settles a transaction as it stands, or queues it behind the obligation in its way. */
  private evaluate(tx: Transaction): void {
    const entry = this.entry(tx.keyId);
    const candidates = this.candidates(entry, tx.headers);
    const now = this.now();
    if (tx.kind === 'lookup') {
      for (const [variant, slot] of candidates) {
        const object = slot.object;
        if (!object) continue;
        const state = object.freshness(now);
        if (!state.usable) continue;
        object.hits++;
        tx.found = object;
        // A stale object is served while exactly one request revalidates it.
        if (!state.fresh && !slot.holder) this.hold(tx, slot, variant);
        return this.ready(tx);
      }
    } else {
      tx.found = candidates.find(([, slot]) => slot.object?.alive(now))?.[1].object;
      if (tx.strategy === 'immediate') return this.ready(tx);
      if (tx.strategy === 'immediate-force-miss') {
        for (const [variant, slot] of candidates) {
          slot.object = undefined;
          if (!slot.holder && !tx.obligated) this.hold(tx, slot, variant);
        }
        if (!tx.obligated) {
          const variant = candidates[0]?.[0] ?? this.defaultVariant(entry, tx.headers);
          const slot = this.slot(entry, variant);
          if (!slot.holder) this.hold(tx, slot, variant);
        }
        return this.ready(tx);
      }
    }
    const held = candidates.find(([, slot]) => slot.holder !== undefined);
    if (held) {
      const [variant, slot] = held;
      if (slot.holder!.owner === tx.owner) {
        tx.variant = undefined;
        tx.settle('failed', new CacheError('generic-error', 'this request would wait on a cache transaction it holds itself'));
        this.transactions.delete(tx.id);
        return;
      }
      tx.variant = variant;
      slot.waiting.push(tx);
      return;
    }
    const variant = tx.found?.variant ?? candidates[0]?.[0] ?? this.defaultVariant(entry, tx.headers);
    this.hold(tx, this.slot(entry, variant), variant);
    this.ready(tx);
  }

  /** A key never written has no rule yet: a miss is filled under the empty rule until an insert says otherwise. */
  private defaultVariant(entry: KeyEntry, headers: HeaderList): string {
    if (entry.rules.length === 0) entry.rules.push(VaryRule.none);
    return entry.rules[0]!.variant(headers);
  }

  private hold(tx: Transaction, slot: Slot, variant: string): void {
    slot.holder = tx;
    tx.obligated = true;
    tx.variant = variant;
  }

  private ready(tx: Transaction): void {
    if (tx.status === 'waiting') tx.settle('ready');
  }
}
