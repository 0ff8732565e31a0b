/**
 * Folding a legacy module's imports for the adapter: the first step of adapt, and all that a
 * module of a known shape needs (src/server/artifacts.ts). Light on purpose: no wasm-tools.
 */
import { join } from 'node:path';
import { ADAPTER_MODULE } from '../adapter/inputs.js';
import { projectRoot } from '../version.js';
import { renameImports } from '../wasm/imports.js';
import { loadWitxDir, type WitxAbi } from '../witx/index.js';
import { classifyImport, importLabel } from './classify.js';

/** The import module of the stubs for imports the Fastly ABI does not define (`--unknown-imports trap`). */
export const TRAP_MODULE = 'witshim_unknown';

let abiCache: WitxAbi | undefined;
export function witxAbi(): WitxAbi {
  abiCache ??= loadWitxDir(join(projectRoot, 'witx'));
  return abiCache;
}

/**
 * The module as the component embeds it: hostcall imports renamed to the adapter's module, unknown
 * ones to the trap stubs' (WASI stays). wit-component embeds exactly these bytes.
 */
export function foldImports(bytes: Uint8Array, abi: WitxAbi = witxAbi()): Uint8Array {
  return renameImports(bytes, (module, name) => {
    const imp = { module, name, kind: 'function' as const };
    const c = classifyImport(abi, imp);
    if (c.kind === 'hostcall') return { module: ADAPTER_MODULE, name: c.hostcall };
    if (c.kind === 'unknown') return { module: TRAP_MODULE, name: importLabel(imp) };
    return undefined;
  });
}
