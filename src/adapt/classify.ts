import type { WasmImport } from '../wasm/imports.js';

export const WASI_PREVIEW1 = 'wasi_snapshot_preview1';
/** Import modules that legacy toolchains used for hostcalls besides `fastly_*`. */
const LEGACY_MODULES = new Set(['fastly', 'env', 'xqd']);

export type ImportClass =
  | { kind: 'hostcall'; hostcall: string }
  | { kind: 'wasi' }
  | { kind: 'unknown' }
  /** Non-function imports (a memory or table from `env`) that a component cannot satisfy either. */
  | { kind: 'other' };

/**
 * Sorts a legacy module's imports: `fastly_<m>::<f>` hostcalls of the WITX ABI, WASI preview1,
 * and everything else. Old toolchains named hostcalls `<m>#<f>` under `fastly`/`env`/`xqd`.
 */
export function classifyImport(known: ReadonlySet<string>, imp: WasmImport): ImportClass {
  if (imp.module === WASI_PREVIEW1) return { kind: 'wasi' };
  if (imp.kind !== 'function') return { kind: 'other' };
  const hostcall = imp.module.startsWith('fastly_')
    ? `${imp.module}#${imp.name}`
    : LEGACY_MODULES.has(imp.module) && imp.name.includes('#')
      ? imp.name
      : undefined;
  if (!hostcall) return { kind: 'unknown' };
  return known.has(hostcall) ? { kind: 'hostcall', hostcall } : { kind: 'unknown' };
}

export function importLabel(imp: WasmImport): string {
  return `${imp.module}::${imp.name}`;
}
