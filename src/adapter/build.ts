import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { componentEmbed, parse } from '@bytecodealliance/jco-transpile/wasm-tools';
import { projectRoot } from '../version.js';
import { witSource } from '../wit/source.js';
import { loadWitxDir } from '../witx/index.js';
import { generateAdapterWat, type AdapterVariant } from './generate.js';
import { DEFAULT_TARGET, targetWit, type AdapterTarget } from './target.js';
import { inputsHash } from './inputs.js';
import { witViewFor } from './wit-bind.js';

export { ADAPTER_MODULE, inputsHash } from './inputs.js';
/** The world each variant's adapter is embedded with; the traced ones (wit/witshim.wit) add the trace. */
function worldOf(variant: AdapterVariant, trace: boolean): string {
  const world = variant === 'command' ? 'adapter-service' : 'adapter-service-imports';
  return trace ? `witshim:adapter/${world}-traced` : `fastly:adapter/${world}`;
}
const BUILD_DIR = join(projectRoot, 'adapter', 'build');

const memo = new Map<string, Promise<Uint8Array>>();

/**
 * The adapter core module for `variant` and `target` (with the hostcall trace when `trace`), with
 * its world embedded. Built from `witx/`, `wit/` and the generator on first use and kept in
 * `adapter/build/` under a hash of all of those, so a later process (or `npm run build`) reuses it.
 */
export function adapterModule(variant: AdapterVariant, target: AdapterTarget = DEFAULT_TARGET, trace = false): Promise<Uint8Array> {
  const key = `${variant}.${target}${trace ? '.traced' : ''}`;
  let pending = memo.get(key);
  if (!pending) {
    pending = loadOrBuild(variant, target, trace);
    memo.set(key, pending);
  }
  return pending;
}

async function loadOrBuild(variant: AdapterVariant, target: AdapterTarget, trace: boolean): Promise<Uint8Array> {
  const prefix = `adapter.${variant}.${target}${trace ? '-traced' : ''}.`;
  const stem = `${prefix}${inputsHash(variant, target, trace).slice(0, 16)}`;
  const file = join(BUILD_DIR, `${stem}.wasm`);
  try {
    return new Uint8Array(readFileSync(file));
  } catch {
    const { wat, wasm } = await buildAdapter(variant, target, trace);
    try {
      mkdirSync(BUILD_DIR, { recursive: true });
      for (const old of readdirSync(BUILD_DIR)) if (old.startsWith(prefix)) rmSync(join(BUILD_DIR, old), { force: true });
      // The WAT is kept beside the binary for people who want to read what a hostcall becomes.
      writeFileSync(join(BUILD_DIR, `${stem}.wat`), wat);
      const tmp = `${file}.${process.pid}.tmp`;
      writeFileSync(tmp, wasm);
      renameSync(tmp, file);
    } catch {
      // A read-only install still works; it just rebuilds per process.
    }
    return wasm;
  }
}

export async function buildAdapter(variant: AdapterVariant, target: AdapterTarget = DEFAULT_TARGET, trace = false): Promise<{ wat: string; wasm: Uint8Array }> {
  const abi = loadWitxDir(join(projectRoot, 'witx'));
  const resolve = targetWit(target);
  const wat = generateAdapterWat(abi, witViewFor(resolve), variant, target, trace);
  const core = await assemble(wat);
  const wasm = await componentEmbed({ binary: core, witSource: witSource(resolve), world: worldOf(variant, trace) });
  return { wat, wasm };
}

/** WAT to binary: a `wasm-tools` on PATH when there is one (faster on big inputs), else jco's. */
async function assemble(wat: string): Promise<Uint8Array> {
  const native = spawnSync('wasm-tools', ['parse', '-'], { input: wat, maxBuffer: 1 << 28 });
  if (!native.error && native.status === 0) return new Uint8Array(native.stdout);
  return parse(wat);
}
