/**
 * Calls into the server-wide stateful services: core cache and purge, HTTP cache, KV stores,
 * rate limiting. Their state lives on the main thread (`src/server/services`), so every worker
 * sees the same store at once; a worker's host interface calls a method by name and blocks
 * until the main thread answers (as it does for body reads). Each service declares its methods
 * in a map of its own, method name → `{ args; result }`, and the main side must implement
 * every method of every map.
 */
import type { CacheMethods } from './cache.js';
import type { ErlMethods } from './erl.js';
import type { HttpCacheMethods } from './http-cache.js';
import type { KvMethods } from './kv.js';

/** A method's arguments and result; both cross threads by structured clone. */
export interface ServiceMethod<Args, Result> {
  args: Args;
  result: Result;
}

export type ServiceMethods = CacheMethods & HttpCacheMethods & KvMethods & ErlMethods;

export type ServiceMethodName = keyof ServiceMethods & string;

export type ServiceArgs<M extends ServiceMethodName> = ServiceMethods[M] extends ServiceMethod<infer Args, unknown> ? Args : never;

export type ServiceResult<M extends ServiceMethodName> = ServiceMethods[M] extends ServiceMethod<unknown, infer Result> ? Result : never;

/** One call, as it crosses to the main thread. */
export type ServiceCall = { [M in ServiceMethodName]: { method: M; args: ServiceArgs<M> } }[ServiceMethodName];

/**
 * How a service method fails: `payload` is the WIT error value the guest's call returns (an
 * error case such as `{ tag: 'not-found' }`, or an open error such as `'not-found'`), rethrown
 * in the worker as a `HostError` so jco passes it to the guest as the `err` case.
 */
export interface ServiceFailure {
  payload: unknown;
}

export type ServiceReply = { op: 'service'; result: unknown } | { op: 'service'; failure: ServiceFailure } | { op: 'service'; crash: string };
