/**
 * The hostcall trace (`witshim serve --trace-hostcalls`). An adapter built with tracing wraps
 * every hostcall export: the generated body becomes an internal function, and the export calls
 * it, then `witshim:adapter/trace.hostcall(id, status)`, then returns the status. Nothing
 * is written per hostcall: the wrappers come from the WITX signatures. An adapter built without
 * tracing is the same module without the wrappers and without the import, so tracing off costs
 * nothing at all.
 */
import { hostcallNames, type WitxAbi } from '../witx/index.js';
import type { ImportTable } from './import-table.js';
import { MappingError } from './mapping.js';
import { hostcallShape } from './shape.js';
import { Status, type StatusName } from './status.js';

/** A function's export header as the generator writes it (wat.ts, async-io.ts). */
const EXPORT_HEADER = /\(func \(export "([^"]+)"\)/g;

/** The WIT function the wrappers call. */
const TRACE_HOOK = 'witshim:trace/hostcall';

/**
 * A hostcall's trace id is its index in `hostcallNames`: the ABI's order is fixed by `witx/`,
 * which the adapter build's hash covers; the server maps ids back with the same `witx/`.
 */
export { hostcallNames };

const STATUS_NAMES = new Map<number, StatusName>(Object.entries(Status).map(([name, value]) => [value, name as StatusName]));

/** A status as its WITX case name; a number outside the enum as itself. */
export function statusName(status: number): string {
  return STATUS_NAMES.get(status) ?? String(status);
}

/**
 * `funcs` (the WAT of every hostcall export) with each export renamed to an internal function
 * and wrapped by an export that reports its status. Every hostcall must be found exactly once:
 * a hostcall the generator named differently would otherwise go untraced without a word.
 */
export function traceWrappers(abi: WitxAbi, imports: ImportTable, funcs: string[]): string[] {
  const hook = imports.id(TRACE_HOOK);
  const renamed = [...funcs];
  const wrappers: string[] = [];
  // Which text exports each name: counted once, so that a name exported twice is refused.
  const exporters = new Map<string, number[]>();
  renamed.forEach((text, i) => {
    for (const [, name] of text.matchAll(EXPORT_HEADER)) exporters.set(name!, [...(exporters.get(name!) ?? []), i]);
  });
  // Ids follow `hostcallNames`: the ABI's modules and functions in order.
  abi.modules
    .flatMap((module) => module.functions.map((fn) => ({ module, fn })))
    .forEach(({ module, fn }, id) => {
      const header = `(func (export ${JSON.stringify(`${module.name}#${fn.name}`)})`;
      const inner = `$traced_${id}`;
      const at = exporters.get(`${module.name}#${fn.name}`) ?? [];
      if (at.length !== 1) throw new MappingError(`${module.name}#${fn.name}: expected one export to trace, found ${at.length}`);
      renamed[at[0]!] = renamed[at[0]!]!.replace(header, `(func ${inner}`);
      const params = hostcallShape(abi, fn).core;
      wrappers.push(
        [
          `  (func (export ${JSON.stringify(`${module.name}#${fn.name}`)})${params.map((p) => ` (param ${p.core})`).join('')} (result i32) (local $status i32)`,
          `    (local.set $status (call ${inner}${params.map((_, i) => ` (local.get ${i})`).join('')}))`,
          `    (call ${hook} (i32.const ${id}) (local.get $status))`,
          '    (local.get $status))',
        ].join('\n'),
      );
    });
  return [...renamed, ...wrappers];
}
