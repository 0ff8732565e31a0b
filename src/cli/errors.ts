import { AbiCompareError } from '../api/abi.js';
import { AppError } from '../api/app.js';
import { ConfigError } from '../api/config.js';

/**
 * An error meant for the person at the terminal: printed as one line on stderr,
 * and the process exits with `exitCode`. Anything else thrown is a bug and gets a stack.
 */
export class UsageError extends Error {
  constructor(message: string, readonly exitCode = 2) {
    super(message);
    this.name = 'UsageError';
  }
}

/** The API's errors about the user's input (app, config, ABI copy) are usage errors at the terminal. */
export function asUsageError(err: unknown): unknown {
  return err instanceof AppError || err instanceof ConfigError || err instanceof AbiCompareError ? new UsageError(err.message) : err;
}
