/**
 * The main-thread methods of the HTTP cache (`fastly:compute/http-cache`, legacy `fastly_http_cache`): method name → the arguments the worker sends and the
 * result it gets back. The worker side calls them through `Session.service`; the main side
 * implements every one (`src/server/services`), which the compiler checks.
 *
 * An entry is named by a number the main thread hands out at lookup. A lookup returns at once;
 * `http-cache.await` blocks until the entry no longer waits behind another request's transaction
 * (its waitable is `http-cache:<entry>`), and answers what the lookup found.
 */
import type { HeaderList } from '../protocol.js';
import type { ServiceMethod } from './protocol.js';

/** `cache.lookup-state` as jco passes flags. */
export interface HttpCacheLookupState {
  found: boolean;
  usable: boolean;
  stale: boolean;
  mustInsertOrUpdate: boolean;
  usableIfError: boolean;
}

/** A response head as stored. */
export interface HttpCacheHead {
  status: number;
  headers: HeaderList;
}

/** `http-cache.write-options` without its `extra` resource; absent fields take the response's suggestions on the worker. */
export interface HttpCacheWrite {
  maxAgeNs: bigint;
  varyRule: string;
  initialAgeNs: bigint;
  staleWhileRevalidateNs: bigint;
  staleIfErrorNs: bigint;
  surrogateKeys: string;
  length: bigint | undefined;
  sensitiveData: boolean;
}

/** What a stored object tells about itself at the moment it is asked. */
export interface HttpCacheObjectInfo extends HttpCacheWrite {
  head: HttpCacheHead;
  ageNs: bigint;
  hits: bigint;
}

/** What an entry resolved to: its state, and the object it found (or chose) if any. */
export interface HttpCacheOutcome {
  state: HttpCacheLookupState;
  object?: HttpCacheObjectInfo;
}

export interface HttpCacheLookupRequest {
  key: Uint8Array;
  /** The request's headers, matched against stored objects' Vary rules. */
  headers: HeaderList;
}

type Entry = { entry: number };

export type HttpCacheMethods = {
  'http-cache.lookup': ServiceMethod<HttpCacheLookupRequest, Entry>;
  'http-cache.await': ServiceMethod<Entry, HttpCacheOutcome>;
  /** Stores the response; the body comes through the worker's streaming sink `sink`. `streamBack` answers an entry reading the object. */
  'http-cache.insert': ServiceMethod<Entry & { head: HttpCacheHead; options: HttpCacheWrite; sink: number; streamBack: boolean }, { entry?: number }>;
  /** Freshens the stored object with a revalidation's head and options; `returnFresh` answers an entry reading it. */
  'http-cache.update': ServiceMethod<Entry & { head: HttpCacheHead; options: HttpCacheWrite; returnFresh: boolean }, { entry?: number }>;
  'http-cache.choose-stale': ServiceMethod<Entry, HttpCacheOutcome>;
  'http-cache.record-not-cacheable': ServiceMethod<Entry & { maxAgeNs: bigint; varyRule: string }, null>;
  'http-cache.abandon': ServiceMethod<Entry, null>;
  /** The found object's body as a main-side source the worker reads. */
  'http-cache.body': ServiceMethod<Entry, { source: number; knownLength?: bigint }>;
  /** Drops the entry; an obligation it still holds is abandoned. */
  'http-cache.close': ServiceMethod<Entry, null>;
};
