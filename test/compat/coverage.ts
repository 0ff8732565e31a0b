import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { abiMapping, type MappingRow } from '../../src/api/abi.js';
import type { HostcallTrace } from '../../src/server/hostcall-trace.js';

/*
 * What the compatibility suite proves: every server it starts writes its hostcall trace
 * (`witshim serve --trace-hostcalls=FILE`), and the traces are counted here against the ABI.
 *
 * - A hostcall is covered when a guest called it through the adapter into a host, whatever the
 *   answer (the three the adapter answers `unsupported` for count when called). Its success path
 *   is covered when some call of it answered `ok`.
 * - An error path is a (hostcall, status) pair among the statuses a guest can provoke in the
 *   adapter itself — bad handle `badf`, short buffer `buflen`, absent value `none`, invalid
 *   argument `inval` — as the generator records them per hostcall (`abi --mapping`'s
 *   `errorPaths`). It is covered when a trace shows that hostcall answering that status.
 *
 * The floors in coverage-floor.json are what the suite reached; a change that loses coverage
 * fails the suite until a case brings it back (or the floor is lowered on purpose, in review).
 */

export const floorFile = join(import.meta.dirname, 'coverage-floor.json');

export interface CoverageFloor {
  hostcalls: number;
  successPaths: number;
  errorPaths: number;
}

export interface Coverage {
  hostcalls: { covered: number; total: number; missing: string[] };
  /** Hostcalls some call of which answered `ok`, of those the adapter does not answer `unsupported` outright. */
  successPaths: { covered: number; total: number; missing: string[] };
  errorPaths: { covered: number; total: number; missing: string[] };
}

/** Every trace record in the `.jsonl` files of `dir` whose name starts with `prefix`. */
export function readTraces(dir: string, prefix = ''): HostcallTrace[] {
  return readdirSync(dir)
    .filter((name) => name.startsWith(prefix) && name.endsWith('.jsonl'))
    .flatMap((name) => readFileSync(join(dir, name), 'utf8').split('\n').filter(Boolean))
    .map((line) => JSON.parse(line) as HostcallTrace);
}

export function measure(traces: readonly HostcallTrace[], rows: readonly MappingRow[] = abiMapping()): Coverage {
  const seen = new Set<string>();
  const answered = new Set<string>();
  for (const trace of traces) {
    for (const call of trace.calls) {
      seen.add(call.hostcall);
      answered.add(`${call.hostcall} ${call.status}`);
    }
  }
  const paths = rows.flatMap((row) => row.errorPaths.map((status) => `${row.hostcall} ${status}`));
  const answering = rows.filter((r) => !r.unsupported).map((r) => r.hostcall);
  const succeeded = answering.filter((h) => answered.has(`${h} ok`));
  return {
    hostcalls: { covered: rows.filter((r) => seen.has(r.hostcall)).length, total: rows.length, missing: rows.map((r) => r.hostcall).filter((h) => !seen.has(h)) },
    successPaths: { covered: succeeded.length, total: answering.length, missing: answering.filter((h) => !answered.has(`${h} ok`)) },
    errorPaths: { covered: paths.filter((p) => answered.has(p)).length, total: paths.length, missing: paths.filter((p) => !answered.has(p)) },
  };
}

/** The report the suite prints. */
export function report(label: string, coverage: Coverage): string {
  const { hostcalls, successPaths, errorPaths } = coverage;
  return [
    `${label}: hostcalls covered: ${hostcalls.covered}/${hostcalls.total}`,
    ...(hostcalls.missing.length ? [`  missing: ${hostcalls.missing.join(' ')}`] : []),
    `${label}: success paths covered: ${successPaths.covered}/${successPaths.total}`,
    ...(successPaths.missing.length ? [`  never answered ok: ${successPaths.missing.join(' ')}`] : []),
    `${label}: error paths covered: ${errorPaths.covered}/${errorPaths.total}`,
    ...(errorPaths.missing.length ? [`  not provoked yet, by status: ${byStatus(errorPaths.missing)}`] : []),
  ].join('\n');
}

/** `badf 3, none 40, …` for `hostcall status` pairs. */
function byStatus(paths: readonly string[]): string {
  const counts = new Map<string, number>();
  for (const path of paths) {
    const status = path.slice(path.lastIndexOf(' ') + 1);
    counts.set(status, (counts.get(status) ?? 0) + 1);
  }
  return [...counts].map(([status, n]) => `${status} ${n}`).join(', ');
}

export function readFloor(): CoverageFloor {
  return JSON.parse(readFileSync(floorFile, 'utf8')) as CoverageFloor;
}
