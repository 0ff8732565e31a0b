import { fail, failOpen } from '../errors.js';

/**
 * The stateful services (caches, KV stores, rate limiting, purging) the dev server does not
 * provide yet. Each entry point reports `unsupported`
 * (an `open-error` for `open`), so guests see a clean error rather than a trap; replacing an
 * interface here with a real module in `imports.ts` is all it takes to serve it.
 */
function unsupported(): never {
  fail('unsupported');
}

function unsupportedOpen(): never {
  failOpen('unsupported');
}

/** A resource only ever obtained through functions that fail, so it needs no methods. */
function unreachableResource(statics: Record<string, () => never> = {}) {
  return Object.assign(class {}, statics);
}

/** Option-bag resources the guest constructs itself. */
class OptionBag {}

export const notYetServed: Record<string, Record<string, unknown>> = {
  'fastly:compute/kv-store': {
    Store: unreachableResource({ open: unsupportedOpen }),
    Entry: unreachableResource(),
    ExtraInsertOptions: OptionBag,
    ExtraKvError: unreachableResource(),
    ExtraListOptions: OptionBag,
    awaitLookup: unsupported,
    awaitInsert: unsupported,
    awaitDelete: unsupported,
    awaitList: unsupported,
  },
  'fastly:compute/erl': {
    RateCounter: unreachableResource({ open: unsupportedOpen }),
    PenaltyBox: unreachableResource({ open: unsupportedOpen }),
  },
};
