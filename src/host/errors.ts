/**
 * How host functions report `result` errors to jco bindings: a thrown value with an own
 * `payload` property becomes the `err` case; any other thrown `Error` traps the guest.
 */
/** The WIT's `types.error` (jco's declaration): what most host functions fail with. */
export type ComputeError = import('./host-types.js').ComputeError;

/** The cases of `types.error` without a payload, by name. */
export type ErrorCode = Exclude<ComputeError, { val: unknown }>['tag'];

/** The WIT's `types.open-error`: what `open` functions fail with. */
export type OpenError = import('./host-types.js').OpenError;

export class HostError extends Error {
  declare readonly payload: unknown;

  constructor(payload: unknown) {
    super(typeof payload === 'string' ? payload : JSON.stringify(payload, (_k, v) => (typeof v === 'bigint' ? String(v) : v)));
    Object.defineProperty(this, 'payload', { value: payload, enumerable: true });
  }
}

export function fail(code: ErrorCode): never {
  throw new HostError({ tag: code });
}

export function failOpen(code: OpenError): never {
  throw new HostError(code);
}

/** Fails with `buffer-len(needed)` when `bytes` exceeds the guest's buffer. */
export function fitBytes(bytes: Uint8Array, maxLen: bigint): Uint8Array {
  if (BigInt(bytes.length) > maxLen) throw new HostError({ tag: 'buffer-len', val: BigInt(bytes.length) });
  return bytes;
}

export function fitString(text: string, maxLen: bigint): string {
  fitBytes(utf8.encode(text), maxLen);
  return text;
}

export const utf8 = new TextEncoder();
export const fromUtf8 = new TextDecoder();

export const MAX_NAME_LENGTH = 255;

/** Validates a store/endpoint name the way the platform's `open` functions do. */
export function checkOpenName(name: string): void {
  if (name.length === 0) failOpen('invalid-syntax');
  if (name.length > MAX_NAME_LENGTH) failOpen('name-too-long');
}
