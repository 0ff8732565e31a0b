import type { FnBuilder } from './wat.js';
import type { HostcallShape } from './shape.js';
import type { StatusName } from './status.js';

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
}

/** Hand-written WAT for hostcalls whose logic no binding describes. */
export interface CustomMapping {
  /** Every WIT function the body calls, so that the generator imports them (`$wit_<index>`). */
  calls: string[];
  body: (b: FnBuilder, shape: HostcallShape, callee: (ref: string) => string) => void;
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
  | { ip: string };

export type Out =
  /** A WITX out-pointer param, written by type. */
  | string
  /** A list/string leaf: the guest buffer it lands in and where its length is written. */
  | { buf: string; nwritten: string }
  /** An `option<u32>` cursor: its value, or -1 once the listing is complete. */
  | { cursor: string }
  /** An option leaf whose `none` returns this status (the default is `none`). */
  | { noneStatus: StatusName }
  /** An option leaf whose `none` writes `value` to the next out and continues. */
  | { noneValue: number }
  /** An `ip-address`: its octets (4 or 16, network order) and their count. */
  | { ipInto: string; nwritten: string }
  | { skip: true };

export function isCall(m: Mapping): m is string | CallMapping {
  return typeof m === 'string' || 'call' in m;
}

export function isBranch(m: Mapping): m is BranchMapping {
  return typeof m === 'object' && 'branch' in m;
}

export function asCall(m: string | CallMapping): CallMapping {
  return typeof m === 'string' ? { call: m } : m;
}
