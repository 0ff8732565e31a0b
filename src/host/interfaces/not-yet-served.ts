import { fail } from '../errors.js';

/**
 * The stateful services (caches, KV stores, rate limiting, purging) the dev server does not
 * provide yet. Each entry point reports `unsupported`
 * (an `open-error` for `open`), so guests see a clean error rather than a trap; replacing an
 * interface here with a real module in `imports.ts` is all it takes to serve it.
 */
function unsupported(): never {
  fail('unsupported');
}

/** A resource only ever obtained through functions that fail, so it needs no methods. */
function unreachableResource(statics: Record<string, () => never> = {}) {
  return Object.assign(class {}, statics);
}

/** Option-bag resources the guest constructs itself. */
class OptionBag {}

export const notYetServed: Record<string, Record<string, unknown>> = {
  'fastly:compute/http-cache': {
    Entry: unreachableResource({ transactionLookup: unsupported }),
    ExtraLookupOptions: OptionBag,
    ExtraWriteOptions: OptionBag,
    SuggestedWriteOptions: unreachableResource(),
    closeEntry: unsupported,
    getSuggestedCacheKey: unsupported,
    isRequestCacheable: unsupported,
  },
};
