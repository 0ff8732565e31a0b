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
