/**
 * Builds the stand-ins (src/server/stand-in.ts) when the package is built: for each profile, the
 * stub module goes through the same adapt and transpile as any legacy module, and its shape (the
 * glue and adapter modules, without the stub) is kept with the stub's interface.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from '@bytecodealliance/jco-transpile/wasm-tools';
import { preview1Reactor } from '../adapt/index.js';
import { foldImports } from '../adapt/fold.js';
import { adapterModule } from '../adapter/build.js';
import type { AdapterTarget } from '../adapter/target.js';
import { readModuleInterface, type WasmFuncType } from '../wasm/imports.js';
import { buildGuest, publishDirectory, readDirectory } from './artifacts.js';
import { STAND_IN_INTERFACE, STAND_IN_PROFILES, standInDir, wired } from './stand-in.js';

/** Where the adapter and the WASI preview1 adapter import the main module's exports from. */
const MAIN_MODULE_IMPORTS = '__main_module__';

const signature = (type: WasmFuncType): string => `(param ${type.params.join(' ')}) (result ${type.results.join(' ')})`;

/**
 * The stub: imports every hostcall the (command) adapter exports and every WASI preview1
 * function the preview1 adapter exports, exports a memory and the profile's functions with the
 * types the adapters import them with. Its code is never run.
 */
async function stubModule(profile: readonly string[], target: AdapterTarget, trace: boolean): Promise<Uint8Array> {
  const adapter = readModuleInterface(await adapterModule('command', target, trace));
  const reactor = readModuleInterface(preview1Reactor());
  const imports = [
    ...adapter.exports.filter((e) => e.kind === 'function' && e.name.includes('#')).map((e) => {
      const [module, name] = e.name.split('#') as [string, string];
      return `(import ${JSON.stringify(module)} ${JSON.stringify(name)} (func ${signature(e.type!)}))`;
    }),
    ...reactor.exports.filter((e) => e.kind === 'function' && !wired(e.name)).map((e) => `(import "wasi_snapshot_preview1" ${JSON.stringify(e.name)} (func ${signature(e.type!)}))`),
  ];
  const fromMain = [...adapter.imports, ...reactor.imports].filter((i) => i.module === MAIN_MODULE_IMPORTS && i.kind === 'function');
  const exports = profile.map((name) => {
    const wanted = fromMain.find((i) => i.name === name);
    if (!wanted?.type) throw new Error(`no adapter imports ${name} from the main module; the stand-in profile is stale`);
    return `(func (export ${JSON.stringify(name)}) ${signature(wanted.type)} unreachable)`;
  });
  return parse(`(module\n${imports.join('\n')}\n(memory (export "memory") 0)\n${exports.join('\n')}\n)`);
}

/** Builds one stand-in unless it is built; returns its directory. */
async function buildStandIn(profile: readonly string[], target: AdapterTarget, trace: boolean): Promise<string> {
  const dir = standInDir(profile, target, trace);
  if (existsSync(join(dir, STAND_IN_INTERFACE))) return dir;
  const stub = await stubModule(profile, target, trace);
  const root = mkdtempSync(join(tmpdir(), 'witshim-stand-in-'));
  try {
    const { shapeDir } = await buildGuest(stub, root, { target, trace });
    if (!shapeDir) throw new Error('wit-component rewrote the stub module, so its glue cannot stand in for others');
    const files = { ...readDirectory(shapeDir), [STAND_IN_INTERFACE]: new TextEncoder().encode(JSON.stringify(readModuleInterface(foldImports(stub)))) };
    publishDirectory(dir, files);
    return dir;
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

/**
 * Builds the untraced stand-ins of every profile for the given targets. Those of other inputs
 * stay (as adapter builds do): a compiled tree elsewhere, such as the tests', keys its own.
 */
export async function buildStandIns(targets: readonly AdapterTarget[]): Promise<string[]> {
  const dirs: string[] = [];
  for (const target of targets) for (const profile of STAND_IN_PROFILES) dirs.push(await buildStandIn(profile, target, false));
  return dirs;
}
