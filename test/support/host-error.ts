import { HostError } from '../../src/host/errors.js';

/** The WIT error a host function threw (as `result::err`), failing if it returned instead. */
export function payload(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    if (err instanceof HostError) return err.payload;
    throw err;
  }
  throw new Error('expected a HostError');
}
