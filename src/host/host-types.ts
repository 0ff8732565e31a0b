/**
 * The host's contract, from the WIT: `src/host/wit-types/` is jco's own declaration of what the
 * transpiled glue calls (`npm run gen:host-types`; test/host-types.test.ts checks it is current).
 * Each module in `interfaces/` returns `HostInterface<'…'>`, so a missing function or resource,
 * a misspelt name, a wrong signature or an error case the WIT does not have fails `tsc`.
 */
import type { ImportObject } from './wit-types/service.js';

/** jco's glue looks interfaces up without their `@version`. */
type Unversioned<K> = K extends `${infer Name}@${string}` ? Name : K;

/**
 * A function as the host implements it: checked with method (bivariant) parameters, because the
 * declared resource classes are nominal stand-ins for the host's own classes, which take the
 * guest's handles and check their kind themselves. Names, arity, other parameter types and
 * return types are checked as declared.
 */
type HostFunction<F> = F extends (...args: infer A) => infer R ? { call(...args: A): R }['call'] : F;

/**
 * A resource class as the host implements it: its static functions and its methods; a
 * constructor only when the WIT gives it one (the glue calls `new` on those alone; jco declares
 * the rest with a private constructor, which no host class could match).
 */
type HostClass<C> = { [K in keyof C as K extends 'prototype' ? never : K]: HostFunction<C[K]> } & { prototype: C extends { prototype: infer I } ? I : never } & (C extends new (...args: infer A) => infer I ? new (...args: A) => I : unknown);

/** One interface module as the host provides it: functions, and resource classes. */
type HostModule<M> = { [K in keyof M]: M[K] extends (...args: never[]) => unknown ? HostFunction<M[K]> : M[K] extends { prototype: unknown } ? HostClass<M[K]> : M[K] };

export type HostImports = { [K in keyof ImportObject as Unversioned<K>]: HostModule<ImportObject[K]> };

export type InterfaceName = keyof HostImports;

/** What the host provides for one interface, e.g. `HostInterface<'fastly:compute/http-body'>`. */
export type HostInterface<K extends InterfaceName> = HostImports[K];

/** The WIT's `fastly:compute/types` error and open-error, the cases host functions fail with. */
export type ComputeError = import('./wit-types/interfaces/fastly-compute-types.js').Error;
export type OpenError = import('./wit-types/interfaces/fastly-compute-types.js').OpenError;
