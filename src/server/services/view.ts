/**
 * A read-only view on a server's services, for tests and tools: the live contents of the KV
 * stores and the caches, copied out at the moment they are asked for. Reading never changes
 * the state a guest sees: no hit is counted, no expired entry is dropped, no body is consumed.
 * Each service module contributes its part (`ServiceModule.view`); `Services.view()` joins them,
 * and a part no module contributes reads as empty.
 */

/** A body at the moment it is looked at: a closed set, so tests can `switch` on `state`. */
export type BodyView =
  /** Written to its end: the bytes, and the same as UTF-8 text (with replacement characters where it is not). */
  | { state: 'complete'; bytes: Uint8Array; text: string }
  /** Still being streamed in by its writer: how much arrived so far, and the length it promised, if any. */
  | { state: 'writing'; received: number; declaredLength?: number };

/** One live KV entry (an entry past its TTL is not shown: a lookup would not find it). */
export interface KvEntryView {
  value: Uint8Array;
  /** `value` as UTF-8 text. */
  text: string;
  metadata?: string;
  /** The generation marker a conditional insert (`if_generation_match`) names. */
  generation: bigint;
  /** When the entry vanishes, if it was written with a TTL. */
  expires?: Date;
}

/** How a cached object ages, as the platform reports it (nanoseconds). */
export interface CacheAging {
  ageNs: bigint;
  /** The max-age in effect (a soft purge cuts it to the age the object had then). */
  maxAgeNs: bigint;
  staleWhileRevalidateNs: bigint;
  staleIfErrorNs: bigint;
  /** Past its max-age (or soft-purged): served only within a stale window. */
  stale: boolean;
  /** Lookups that were served this object. */
  hits: bigint;
  surrogateKeys: string[];
}

/** An object of the core cache (`fastly:cache`'s `CoreCache`, `SimpleCache`, a legacy `fastly_cache`). */
export interface CoreCacheObjectView extends CacheAging {
  kind: 'core';
  /** The key as UTF-8 text (the bytes are in `keyBytes`). */
  key: string;
  keyBytes: Uint8Array;
  /** The request headers it varies on (space-separated; empty when none). */
  varyRule: string;
  userMetadata: Uint8Array;
  body: BodyView;
}

/** A response stored by the HTTP cache (a `send` through the readthrough cache, or the guest's `http-cache` calls). */
export interface HttpCacheObjectView extends CacheAging {
  kind: 'http';
  /** The cache key in hex (by default SHA-256 of the host and path, see `suggestedCacheKey`). */
  key: string;
  status: number;
  /** Response headers as stored, values as text. */
  headers: Array<[name: string, value: string]>;
  varyRule: string;
  body: BodyView;
}

export type CacheObjectView = CoreCacheObjectView | HttpCacheObjectView;

export interface KvView {
  /** The names of the server's KV stores. */
  stores(): string[];
  /** The live entries of a store, key → entry, in key order; `undefined` when there is no such store. */
  entries(store: string): Record<string, KvEntryView> | undefined;
}

export interface CacheView {
  /** Every live core-cache object, each variant separately, newest Vary rule first per key. */
  core(): CoreCacheObjectView[];
  /** Every live HTTP-cache object. */
  http(): HttpCacheObjectView[];
}

/** What `Services.view()` answers. */
export interface ServicesView {
  kv: KvView;
  cache: CacheView;
}

const text = new TextDecoder();

/** `bytes` as UTF-8, with replacement characters where they are not. */
export const utf8Text = (bytes: Uint8Array): string => text.decode(bytes);

/**
 * A plain copy: what a test holds must not alias what the store serves (a Buffer's `slice`
 * would share its memory, and a Buffer compares unequal to the Uint8Array a test expects).
 */
export const copyBytes = (bytes: Uint8Array): Uint8Array => new Uint8Array(bytes);

export function completeBody(bytes: Uint8Array): BodyView {
  const copy = copyBytes(bytes);
  return { state: 'complete', bytes: copy, text: utf8Text(copy) };
}
