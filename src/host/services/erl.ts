import type { ServiceMethod } from './protocol.js';

/**
 * Edge rate limiting (`fastly:compute/erl`, legacy `fastly_erl`): the methods the worker calls
 * on the main thread. Rate counters and penalty boxes are named; any name opens one (the
 * platform creates them on first use), and every worker counts into the same ones.
 */

export interface ErlCheckRateArgs {
  counter: string;
  entry: string;
  delta: number;
  /** Seconds: 1, 10 or 60. */
  window: number;
  /** Requests per second over `window`. */
  limit: number;
  penaltyBox: string;
  /** Seconds in the penalty box when the limit is exceeded. */
  ttlSec: number;
}

export type ErlMethods = {
  /** Increments, then answers whether the entry is blocked (already penalised, or now over the limit and penalised). */
  'erl.check-rate': ServiceMethod<ErlCheckRateArgs, boolean>;
  'erl.increment': ServiceMethod<{ counter: string; entry: string; delta: number }, null>;
  /** Estimated requests per second over the last `window` (1, 10 or 60) seconds. */
  'erl.lookup-rate': ServiceMethod<{ counter: string; entry: string; window: number }, number>;
  /** Events counted over the last `duration` (10, 20, …, 60) seconds. */
  'erl.lookup-count': ServiceMethod<{ counter: string; entry: string; duration: number }, number>;
  'erl.penalty-add': ServiceMethod<{ penaltyBox: string; entry: string; ttlSec: number }, null>;
  'erl.penalty-has': ServiceMethod<{ penaltyBox: string; entry: string }, boolean>;
};
