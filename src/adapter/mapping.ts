import type { WitxAbi } from '../witx/index.js';
import type { FnBuilder } from './wat.js';
import type { HostcallShape } from './shape.js';
import type { StatusName } from './status.js';
import type { WitFunctionView, WitView } from './wit-view.js';

/**
 * How one legacy hostcall reaches the component ABI. Most entries are just the WIT function
 * (`'http-req/request.get-header-names'`): inputs bind by position and outputs by type, see
 * hostcall.ts. The other forms spell out what position and type cannot tell.
 */
export type Mapping = string | CallMapping | BranchMapping | CustomMapping | UnsupportedMapping;

/** Picks a call by the value of a WITX param (0, 1, ...); other values are `inval`. */
export interface BranchMapping {
  branch: string;
  cases: Array<string | CallMapping>;
}

export interface CallMapping {
  call: string;
  /** Sources for the WIT params, in order; omitted params bind by position. */
  args?: Array<Source | undefined>;
  /** Where each leaf of the ok value goes, depth first; omitted: bound by type. */
  out?: Out[];
  /** Outputs the WIT call has no value for: a constant, or the length of a WITX list param. */
  also?: Array<{ out: string; value?: number; lenOf?: string }>;
  /**
   * Values written before anything else, so that every way out leaves them (legacy calls
   * report invalid handles on failure). `out` is an out-pointer or `struct.field`.
   */
  initially?: Array<{ out: string; value: number }>;
  /** A WITX `send_error_detail` struct filled from an `error-with-detail` error (`ok` on success). */
  detail?: string;
  /**
   * A WITX error-enum out (`kv_error`, `acl_error`): `ok` on success; a WIT error case with a
   * same-named WITX case is written there and the call succeeds; other cases write
   * `uninitialized` and return their status.
   */
  errorOut?: string;
  /** WIT error cases (or all of them) after which the call succeeds with the `initially` values. */
  okOnError?: string[] | true;
  /**
   * WIT error cases that answer another legacy status than their usual one (status.ts), where
   * the legacy hostcall reported the same condition differently (an absent value as `none`, an
   * unknown dictionary as `badf`).
   */
  errorAs?: Readonly<Record<string, StatusName>>;
  /** Runs the call only once the pollable WITX param `handle` is ready; `done` gets 1, else 0. */
  whenReady?: { handle: string; done: string };
}

/** A method called on a resource: `self` binds to the resource, `args` to the other params. */
export interface MethodCall {
  call: string;
  args?: Source[];
  out?: Out[];
}

/** A resource made by a constructor and configured by setters from a WITX mask + struct. */
export interface Builder {
  ctor: string;
  /** Constructor arguments; `field` sources read the builder's struct. */
  args?: Source[];
  /** WITX flags param; each setter with a `flag` runs only when it is set. */
  mask?: string;
  /** The WITX struct param, or a field of the enclosing struct pointing to one. */
  struct: string | { field: string };
  set: Array<MethodCall & { flag?: string }>;
}

/** Hand-written WAT for hostcalls whose logic no binding describes. */
export interface CustomMapping {
  /** Every WIT function the body calls, so that the generator imports them (`$wit_<index>`). */
  calls: string[];
  body: (b: FnBuilder, shape: HostcallShape, callee: (ref: string) => string, env: CustomEnv) => void;
}

/** What a hand-written body may read to compute offsets instead of hard-coding them. */
export interface CustomEnv {
  abi: WitxAbi;
  wit: WitView;
  view: (ref: string) => WitFunctionView;
  /**
   * The checks for guest handles the body passes to WIT function `ref`: `args` names the core
   * param given for each WIT param (undefined: not a guest handle). Each check returns `badf`
   * for a handle of the wrong tag kind or not live as that param's resource type (see live.ts).
   */
  handleChecks: (ref: string, args: Array<string | undefined>) => string[];
}

export interface UnsupportedMapping {
  unsupported: string;
}

export type Source =
  /** A WITX param, converted by type. */
  | string
  | { const: number | bigint }
  | { none: true }
  /** The downstream request or body this instance was started with. */
  | { downstream: 'request' | 'body' }
  /** A WIT record built from a WITX options mask and options struct, matched by field name. */
  | { options: { mask: string; struct: string; rename?: Record<string, string> } }
  /** A WIT option that is `some(param)` when a mask bit is set. */
  | { when: { mask: string; flag: string }; value: Source }
  /** A bool read from a mask bit. */
  | { flag: { mask: string; flag: string } }
  /** A resource opened by name for this one call (legacy calls name backends), dropped after. */
  | { open: string; name: string }
  /** An IP address from a WITX octets pointer and length (4 or 16 bytes, network order). */
  | { ip: string }
  | { some: Source }
  /** The all-defaults value of a record: false, none, 0, first case. */
  | { empty: true }
  /** A record from per-field sources; fields not named are none / false / 0. */
  | { fields: Record<string, Source> }
  /** A variant chosen at run time: the first case whose condition holds. */
  | { cases: Array<{ case: string; if?: Condition; value?: Source }> }
  /** A resource built by setters (see Builder); an `own` param consumes it, else it is dropped. */
  | { build: Builder }
  /** A field of the enclosing builder's struct, or `param.field` of a WITX struct param; `table` maps a WITX enum value to the WIT one. */
  | { field: string; table?: number[] }
  /** An optional owned handle: none when the guest passes an invalid handle. */
  | { handleOrNone: string }
  /** The handle `async-io/select` picks from a WITX handle list; its index goes to `index`. */
  | { select: string; index: string };

/** `zero`: every named param is 0 (a list param: is empty). */
export type Condition = { flag: { mask: string; flag: string } } | { zero: string | string[] };

export type Out =
  /** A WITX out-pointer param, written by type. */
  | string
  /**
   * A list/string leaf: the guest buffer it lands in and where its length is written. `cap`
   * makes a bare out-pointer (a fixed-size legacy output) the buffer. `param.name` names a
   * buffer inside a WITX struct param (its `name_ptr` / `name_len` fields) and an out-pointer
   * held in one of its fields.
   */
  | { buf: string; nwritten: string; cap?: number }
  /** An `option<u32>` cursor: its value, or -1 once the listing is complete. */
  | { cursor: string }
  /** An option leaf whose `none` returns this status (the default is `none`). */
  | { noneStatus: StatusName }
  /** An option leaf whose `none` writes `value` to the next out and continues. */
  | { noneValue: number }
  /** An `ip-address`: its octets (4 or 16, network order) and their count. */
  | { ipInto: string; nwritten: string }
  /** An owned resource: methods called on it, then dropped. */
  | { then: MethodCall[] }
  | { drop: true }
  /** An option whose `none` writes this case to `errorOut` and succeeds. */
  | { noneCase: string }
  /** A bool whose `false` writes this case to `errorOut` and succeeds; `true` writes nothing. */
  | { falseCase: string }
  /** A variant written as its case index; resource payloads give theirs through `method`. */
  | { caseIndex: string; method: string }
  /** A WIT value written as its index in `table` (a WITX enum); values it lacks are `unsupported`. */
  | { out: string; table: number[] }
  | { skip: true };

/** The SDKs' invalid handle (`u32::MAX - 1`), which legacy calls leave in outs on failure. */
export const INVALID_HANDLE = -2;

export function isCall(m: Mapping): m is string | CallMapping {
  return typeof m === 'string' || 'call' in m;
}

export function isBranch(m: Mapping): m is BranchMapping {
  return typeof m === 'object' && 'branch' in m;
}

export function asCall(m: string | CallMapping): CallMapping {
  return typeof m === 'string' ? { call: m } : m;
}

/** A mapping that does not fit the two ABIs; generation fails with it rather than guess. */
export class MappingError extends Error {}
