/**
 * The main-thread methods of the core cache (`fastly:compute/cache`, legacy `fastly_cache`) and
 * purging by surrogate key: method name → the arguments the worker sends and the result it gets
 * back. The worker side calls them through `Session.service`; the main side implements every one
 * (`src/server/services/cache.ts`), which the compiler checks.
 *
 * A lookup answers everything the guest can ask of the entry in one reply (`EntryView`); a
 * complete small body comes inline, and then the main side keeps nothing for the entry (no
 * `handle`), so a hit costs one round trip. Otherwise `handle` names the main-side entry (its
 * transaction, its object) until the worker closes it.
 */
import type { HeaderList } from '../protocol.js';
import type { ServiceMethod } from './protocol.js';

/** The WIT `write-options`, less the request handle (its headers travel as `headers`). */
export interface CacheWriteOptions {
  maxAgeNs: bigint;
  initialAgeNs?: bigint;
  staleWhileRevalidateNs?: bigint;
  varyRule?: string;
  surrogateKeys?: string;
  length?: bigint;
  userMetadata?: Uint8Array;
  edgeMaxAgeNs?: bigint;
  sensitiveData: boolean;
}

/** The WIT `lookup-state` flags. */
export interface LookupState {
  found: boolean;
  usable: boolean;
  stale: boolean;
  mustInsertOrUpdate: boolean;
  usableIfError: boolean;
}

/** A found object as the lookup saw it. */
export interface ObjectView {
  /** Known when the body is complete or its writer declared it. */
  length?: bigint;
  maxAgeNs: bigint;
  staleWhileRevalidateNs: bigint;
  /** Age at the time of the reply; the worker adds the time since. */
  ageNs: bigint;
  hits: bigint;
  userMetadata: Uint8Array;
  /** The whole body, when complete and small. */
  body?: Uint8Array;
}

export interface EntryView {
  /** The main-side entry, while it holds something (a transaction, an object to stream). */
  handle?: number;
  /** Waits behind another request's transaction; ready (`cache:<handle>`) when it no longer does. */
  pending: boolean;
  state: LookupState;
  object?: ObjectView;
}

export type ReplaceStrategyName = 'immediate' | 'immediate-force-miss' | 'wait';

export type CacheMethods = {
  /** `lookup` (transactional: false) and `transaction-lookup(-async)`. */
  'cache.lookup': ServiceMethod<{ key: Uint8Array; headers?: HeaderList; transactional: boolean }, EntryView>;
  /** Waits until the entry no longer waits behind another transaction. */
  'cache.await': ServiceMethod<{ handle: number }, EntryView>;
  /** The entry as it stands now (a streaming body's length, the age, hits). */
  'cache.refresh': ServiceMethod<{ handle: number }, EntryView>;
  /** Non-transactional insert; the worker streams the body into `sink`. */
  'cache.insert': ServiceMethod<{ key: Uint8Array; headers?: HeaderList; options: CacheWriteOptions; sink: number }, void>;
  /** With `streamBack`, the answer is a new entry that reads the object being written. */
  'cache.transaction-insert': ServiceMethod<{ handle: number; options: CacheWriteOptions; sink: number; streamBack: boolean }, EntryView | undefined>;
  'cache.transaction-update': ServiceMethod<{ handle: number; options: CacheWriteOptions }, void>;
  'cache.transaction-cancel': ServiceMethod<{ handle: number }, void>;
  /** A main-side source streaming the found object's body (or a range of it). */
  'cache.get-body': ServiceMethod<{ handle: number; from?: bigint; to?: bigint }, { source: number; knownLength?: bigint }>;
  /** The handle was closed or dropped (sent as a notice). */
  'cache.close': ServiceMethod<{ handle: number }, void>;
  'cache.replace': ServiceMethod<{ key: Uint8Array; headers?: HeaderList; strategy: ReplaceStrategyName }, EntryView>;
  'cache.replace-insert': ServiceMethod<{ handle: number; options: CacheWriteOptions; sink: number }, void>;
  /** `purge-surrogate-key(-verbose)`: `json` is the platform's answer to the verbose form. */
  'purge.surrogate-key': ServiceMethod<{ surrogateKey: string; soft: boolean }, { json: string }>;
};

/** Readiness key of a main-side cache entry. */
export const cacheWaitKey = (handle: number) => `cache:${handle}`;

/** Objects this small come back inline with the lookup. */
export const INLINE_BODY_BYTES = 64 * 1024;

/** A range to read: `start` inclusive, `end` exclusive; or the last `suffix` bytes. */
export type BodyRange = { start: number; end?: number } | { suffix: number };

/**
 * `get-body`'s `from` / `to` (both inclusive offsets; `to` alone: the last `to` bytes), as
 * Viceroy reads them: with the length unknown (still streaming, none declared) the whole body
 * unless `always-use-requested-range`; a range outside the body is the whole body too.
 */
export function bodyRange(length: number | undefined, from: bigint | undefined, to: bigint | undefined, alwaysUseRequestedRange: boolean): BodyRange {
  const whole = { start: 0 };
  if (from === undefined && to === undefined) return whole;
  if (length === undefined && !alwaysUseRequestedRange) return whole;
  if (length !== undefined) {
    const size = BigInt(length);
    if (from === undefined && to !== undefined && (to < 1n || to > size)) return whole;
    if (from !== undefined && (from < 0n || from >= size)) return whole;
    if (from !== undefined && to !== undefined && (to < from || to >= size)) return whole;
  }
  if (from === undefined) return { suffix: Number(to) };
  return { start: Number(from), ...(to === undefined ? {} : { end: Number(to) + 1 }) };
}

/** The bytes of `range` out of a complete body. */
export function sliceRange(bytes: Uint8Array, range: BodyRange): Uint8Array {
  if ('suffix' in range) return bytes.subarray(Math.max(bytes.length - range.suffix, 0));
  return bytes.subarray(range.start, range.end);
}
