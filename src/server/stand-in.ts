/**
 * Stand-in glue: how `serve` answers a legacy module of a shape it has never seen without first
 * waiting for wit-component and jco (seconds for a js-compute runtime; see src/server/artifacts.ts
 * for shapes).
 *
 * jco's glue instantiates the main core module with an import object built from the module's
 * import list, and reads a few of its exports by name; it never looks at the module's code. A
 * stand-in is the glue of a stub module that imports every hostcall the adapter exports and
 * every WASI preview1 function the preview1 adapter exports, built once per adapter target when
 * the package is built (`npm run build`, beside the adapter modules). A module whose imports
 * are among the stub's, with the same types, and which exports what the stub exports, runs under
 * that glue unchanged: `WebAssembly.Instance` takes from the import object only what the module
 * names. The price is a slower fresh instance (the glue lowers every import, ~25 % for the
 * js-compute hello), so serve builds the module's own glue meanwhile and switches to it
 * (src/server/background-build.ts).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { adaptersKey } from '../adapter/inputs.js';
import type { AdapterTarget } from '../adapter/target.js';
import { projectRoot, packageVersion } from '../version.js';
import { readModuleInterface, type WasmExport, type WasmImport, type WasmModuleInterface } from '../wasm/imports.js';
import { hashOf, transpilerVersions } from './build-keys.js';
import { GLUE_REWRITES } from './glue.js';

/** Where the stand-ins are built: beside the adapter modules, by `npm run build`. */
export const STAND_IN_ROOT = join(projectRoot, 'adapter', 'build', 'stand-in');

/** The folded stub's imports and exports, kept in each stand-in's directory for `fits`. */
export const STAND_IN_INTERFACE = 'stand-in.json';

/**
 * The main module's exports that the component wires up, per stand-in: `_start` (which the
 * command adapter calls) and `cabi_realloc` (which the WASI preview1 adapter allocates with when
 * the module has one, as js-compute's runtime does). Legacy modules without `_start` (the
 * library adapter) are rare enough to wait for their own glue.
 */
export const STAND_IN_PROFILES: ReadonlyArray<readonly string[]> = [['_start'], ['_start', 'cabi_realloc']];

/** Names wit-component gives a meaning to in a main module's exports. */
export const wired = (name: string): boolean => name === '_start' || name === '_initialize' || name.startsWith('cabi_');

const typeOf = (item: WasmImport | WasmExport): string => `${item.kind}:${JSON.stringify(item.type ?? null)}`;

/** The stand-in for a profile, target and trace: its directory, under a hash of everything its glue is made from. */
export function standInDir(profile: readonly string[], target: AdapterTarget, trace: boolean): string {
  return join(STAND_IN_ROOT, hashOf(profile.join(','), target, trace ? 'traced' : 'untraced', packageVersion(), ...adaptersKey(target, trace), transpilerVersions(), GLUE_REWRITES));
}

/**
 * Whether a folded module runs under the glue of a stand-in whose folded stub is `standIn`.
 * One rule per way the glue depends on the main module:
 */
export function fits(module: WasmModuleInterface, standIn: WasmModuleInterface): boolean {
  // The glue's import object holds the stub's imports: each of the module's must be among them
  // with the same type (an unknown import, stubbed to trap, never is).
  const offered = new Map(standIn.imports.map((i) => [`${i.module}\0${i.name}`, typeOf(i)]));
  const importsOffered = module.imports.every((i) => offered.get(`${i.module}\0${i.name}`) === typeOf(i));
  // The glue reads the stub's exports by name: the module must have each, of the same type.
  const has = new Map(module.exports.map((e) => [e.name, typeOf(e)]));
  const exportsRead = standIn.exports.every((e) => has.get(e.name) === typeOf(e));
  // wit-component wires exports such as `cabi_realloc` when the module has them; one the stub
  // lacks would be wired in the module's own glue and not in the stand-in's.
  const stubExports = new Set(standIn.exports.map((e) => e.name));
  const nothingElseWired = module.exports.every((e) => !wired(e.name) || stubExports.has(e.name));
  return importsOffered && exportsRead && nothingElseWired;
}

/** The directory of a built stand-in whose glue serves this folded module, if there is one. */
export function standInFor(folded: Uint8Array, target: AdapterTarget, trace: boolean): string | undefined {
  const module = readModuleInterface(folded);
  for (const profile of STAND_IN_PROFILES) {
    const dir = standInDir(profile, target, trace);
    const file = join(dir, STAND_IN_INTERFACE);
    if (!existsSync(file)) continue;
    if (fits(module, JSON.parse(readFileSync(file, 'utf8')) as WasmModuleInterface)) return dir;
  }
  return undefined;
}
