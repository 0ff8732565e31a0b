/**
 * Cached objects: what a write stores (its options, checked against the platform's limits),
 * how an object ages (fresh, usable within stale-while-revalidate, usable-if-error within
 * stale-if-error, cut short by a soft purge), and the errors the store reports.
 */
import type { CachedBody } from './body.js';
import type { VaryRule } from './vary.js';

/** Fastly: "A cache key: up to 4KiB of arbitrary bytes". */
export const MAX_KEY_BYTES = 4096;
/** Fastly's Compute resource limits: "Maximum cached object size 100MB per object". */
export const MAX_OBJECT_BYTES = 100 * 1024 * 1024;
/**
 * User metadata travels with the object's head; the platform publishes no figure, so the store
 * takes the size of a response head it accepts (64 KiB) and refuses more rather than truncate.
 */
export const MAX_USER_METADATA_BYTES = 64 * 1024;
/** Surrogate keys: each at most 1024 bytes of visible ASCII, all together at most 16 KiB (Fastly's purge limits, as Viceroy checks them). */
export const MAX_SURROGATE_KEY_BYTES = 1024;
export const MAX_SURROGATE_KEYS_BYTES = 16 * 1024;

export type CacheErrorCode = 'generic-error' | 'invalid-argument' | 'limit-exceeded' | 'auxiliary-error' | 'cannot-read';

export class CacheError extends Error {
  constructor(
    readonly code: CacheErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** What a write says about the object (the WIT's `write-options`, plus stale-if-error for the HTTP cache). */
export interface StoreWriteOptions {
  maxAgeNs: bigint;
  initialAgeNs?: bigint;
  staleWhileRevalidateNs?: bigint;
  staleIfErrorNs?: bigint;
  varyRule?: string;
  surrogateKeys?: string;
  length?: bigint;
  userMetadata?: Uint8Array;
  edgeMaxAgeNs?: bigint;
  sensitiveData?: boolean;
}

export type ReplaceStrategy = 'immediate' | 'immediate-force-miss' | 'wait';

/** The lookup-state flags of an object (and of a transaction's obligation). */
export interface Freshness {
  /** Within max-age and not purged. */
  fresh: boolean;
  /** Within max-age + stale-while-revalidate. */
  usable: boolean;
  /** Within max-age + stale-if-error. */
  usableIfError: boolean;
}

export class CachedObject {
  hits = 0n;
  /** Set by a soft purge: the age at which it stopped being fresh. */
  private purgedAtAgeNs: bigint | undefined;

  constructor(
    readonly insertedNs: bigint,
    readonly options: Readonly<Required<Omit<StoreWriteOptions, 'length' | 'varyRule' | 'surrogateKeys' | 'edgeMaxAgeNs'>>> & { edgeMaxAgeNs: bigint },
    readonly varyRule: VaryRule,
    /** The variant this object answers (its rule applied to the inserting request's headers). */
    readonly variant: string,
    readonly surrogateKeys: ReadonlySet<string>,
    readonly body: CachedBody,
  ) {}

  ageNs(now: bigint): bigint {
    const age = now - this.insertedNs + this.options.initialAgeNs;
    return age < 0n ? 0n : age;
  }

  /** The max-age in effect: a soft purge cuts it to the age the object had then. */
  effectiveMaxAgeNs(): bigint {
    const { maxAgeNs } = this.options;
    return this.purgedAtAgeNs !== undefined && this.purgedAtAgeNs < maxAgeNs ? this.purgedAtAgeNs : maxAgeNs;
  }

  freshness(now: bigint): Freshness {
    const age = this.ageNs(now);
    const maxAge = this.effectiveMaxAgeNs();
    return {
      fresh: age < maxAge,
      usable: age < maxAge + this.options.staleWhileRevalidateNs,
      usableIfError: age < maxAge + this.options.staleIfErrorNs,
    };
  }

  /** Kept while any window still allows serving it; a failed body is never served. */
  alive(now: bigint): boolean {
    if (this.body.state === 'failed') return false;
    const state = this.freshness(now);
    return state.usable || state.usableIfError;
  }

  softPurge(now: bigint): void {
    const age = this.ageNs(now);
    if (this.purgedAtAgeNs === undefined || age < this.purgedAtAgeNs) this.purgedAtAgeNs = age;
  }
}

/** Space-separated surrogate keys, as `write-options.surrogate-keys` and purge requests give them. */
export function parseSurrogateKeys(text: string | undefined): Set<string> {
  const keys = new Set<string>();
  if (text === undefined) return keys;
  if (Buffer.byteLength(text) > MAX_SURROGATE_KEYS_BYTES) throw new CacheError('invalid-argument', `surrogate keys exceed ${MAX_SURROGATE_KEYS_BYTES} bytes`);
  for (const key of text.split(' ')) {
    if (key.length === 0) continue;
    if (key.length > MAX_SURROGATE_KEY_BYTES) throw new CacheError('invalid-argument', `a surrogate key exceeds ${MAX_SURROGATE_KEY_BYTES} bytes`);
    if (!/^[\x21-\x7e]+$/.test(key)) throw new CacheError('invalid-argument', 'a surrogate key has characters other than visible ASCII');
    keys.add(key);
  }
  return keys;
}
