/**
 * What the runner is told about a transpiled guest's core modules, and the rewrites that make
 * them cheaper to instantiate once per request; each keeps what a module does.
 *
 * - wit-component's shim and fixup, where proven to be a plain indirection, are answered in
 *   JavaScript instead of instantiated (src/server/indirect-shims.ts, src/host/indirect-calls.ts).
 * - Every other module with more than a few function exports has them moved into one table,
 *   taken from lazily (src/wasm/export-table.ts, src/host/lazy-exports.ts): the adapter modules
 *   export every hostcall and WASI function the guest imports, of which a request calls a few.
 */
import type { IndirectShim } from '../host/indirect-calls.js';
import { EXPORT_TABLE, type TabledModule } from '../host/lazy-exports.js';
import { tableExports } from '../wasm/export-table.js';
import { readModuleInterface } from '../wasm/imports.js';
import { findIndirectShims } from './indirect-shims.js';

/**
 * Below this many function exports a module keeps them: what the table saves (~2 µs an export
 * per instance) would not pay for a forwarder per call. The adapters have dozens to hundreds; a
 * legacy module has `_start` and a few `cabi_*`.
 */
export const MIN_TABLED_EXPORTS = 8;

/** Where a transpile directory records what `prepareCoreModules` found, for `loadArtifacts`. */
export const CORE_MODULES_FILE = 'guest.modules.json';

/** What `CORE_MODULES_FILE` holds. */
export type CoreModulesRecord = Pick<PreparedCoreModules, 'indirectShims' | 'tabledModules'>;

export interface PreparedCoreModules {
  /** Each module's bytes, rewritten where a module's exports are tabled. */
  files: Record<string, Uint8Array>;
  indirectShims: IndirectShim[];
  tabledModules: TabledModule[];
}

/**
 * Made once per transpile (its results are kept beside the glue). `main` is the component's main
 * module, left alone: for an adapted module it is the legacy module, which a module of the same
 * shape replaces when it is served (src/server/artifacts.ts), and it has few exports.
 */
export function prepareCoreModules(files: Record<string, Uint8Array>, main?: string): PreparedCoreModules {
  const others = Object.fromEntries(Object.entries(files).filter(([name]) => name !== main));
  const indirectShims = findIndirectShims(others);
  const answered = new Set(indirectShims.flatMap(({ shim, fixup }) => [shim, fixup]));
  const out: Record<string, Uint8Array> = {};
  const tabledModules: TabledModule[] = [];
  for (const [name, bytes] of Object.entries(files)) {
    const functions = answered.has(name) || name === main ? 0 : readModuleInterface(bytes).exports.filter((entry) => entry.kind === 'function').length;
    const tabled = functions >= MIN_TABLED_EXPORTS ? tableExports(bytes, EXPORT_TABLE) : undefined;
    out[name] = tabled?.bytes ?? bytes;
    if (tabled) tabledModules.push({ module: name, names: tabled.names });
  }
  return { files: out, indirectShims, tabledModules };
}
