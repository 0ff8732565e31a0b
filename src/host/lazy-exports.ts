/**
 * The runner's side of src/wasm/export-table.ts: a core module whose function exports the server
 * moved into one table is given to jco's glue with an export object of the usual names, each a
 * forwarder that takes its function from the table on its first call. V8 then makes function
 * objects only for the exports a request calls, instead of all of them at every instantiation.
 */

/** The table export that holds a tabled module's function exports (see src/wasm/export-table.ts). */
export const EXPORT_TABLE = '$witshim-exports';

/** A tabled core module: its file name in the transpiled guest, and its function exports in table order. */
export interface TabledModule {
  module: string;
  names: string[];
}

type Fn = (...args: unknown[]) => unknown;

/** The export object jco's glue expects of a tabled module's instance. */
export function lazyExports(exports: WebAssembly.Exports, names: readonly string[]): Record<string, unknown> {
  const table = exports[EXPORT_TABLE];
  if (!(table instanceof WebAssembly.Table)) throw new Error(`a tabled core module has no ${EXPORT_TABLE} table`);
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(exports)) if (name !== EXPORT_TABLE) out[name] = value;
  names.forEach((name, index) => {
    let fn: Fn | undefined;
    out[name] = (...args: unknown[]) => (fn ??= table.get(index) as Fn)(...args);
  });
  return out;
}
