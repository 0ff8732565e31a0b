import type { WasmImport } from '../wasm/imports.js';
import { importLabel } from './classify.js';

export const TRAP_MODULE = 'witshim_unknown';

/**
 * An adapter exporting one function per unknown import, each trapping when called. The
 * function carries the import's name in the name section, so the trap's stack trace names it.
 */
export function trapStubsWat(imports: WasmImport[]): string {
  const funcs = imports.map((imp) => {
    const params = imp.type?.params.length ? ` (param ${imp.type.params.join(' ')})` : '';
    const results = imp.type?.results.length ? ` (result ${imp.type.results.join(' ')})` : '';
    const id = `$${JSON.stringify(importLabel(imp))}`;
    return `  (func ${id} (export ${JSON.stringify(importLabel(imp))})${params}${results} unreachable)`;
  });
  return ['(module', ...funcs, ')'].join('\n');
}
