/**
 * The hostcall trace as users read it: one record per request, each legacy hostcall the guest
 * made through a traced adapter (see src/adapter/trace.ts), in order, with the status it got.
 * The adapter reports numbers; they are named here with the same `witx/` the adapter was
 * generated from.
 */
import { witxAbi } from '../adapt/fold.js';
import { hostcallNames, statusName } from '../adapter/trace.js';

export interface HostcallCall {
  /** `module#name`, as the guest imports it (`fastly_http_req#send`). */
  hostcall: string;
  /** The `fastly_status` case it returned (`ok`, `badf`, `buflen`, …). */
  status: string;
}

export interface HostcallTrace {
  /** The request's id (its `FASTLY_TRACE_ID`), as in the access log. */
  request: string;
  calls: HostcallCall[];
}

let names: string[] | undefined;

/** Names `pairs` (id, status, id, status, …) as reported by the adapter. */
export function describeTrace(request: string, pairs: readonly number[]): HostcallTrace {
  names ??= hostcallNames(witxAbi());
  const calls: HostcallCall[] = [];
  for (let i = 0; i + 1 < pairs.length; i += 2) calls.push({ hostcall: names[pairs[i]!] ?? `#${pairs[i]}`, status: statusName(pairs[i + 1]!) });
  return { request, calls };
}
