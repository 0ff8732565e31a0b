import { readFileSync } from 'node:fs';
import { componentNew, componentWit, metadataAdd } from '@bytecodealliance/jco-transpile/wasm-tools';
import { ADAPTER_MODULE, adapterModule } from '../adapter/build.js';
import { packageVersion } from '../version.js';
import { readModuleInterface, WasmDecodeError, type WasmModuleInterface } from '../wasm/imports.js';
import { DEFAULT_TARGET, type AdapterTarget } from '../adapter/target.js';
import { appendCustomSection } from '../wasm/custom-sections.js';
import { classifyImport, importLabel, WASI_PREVIEW1 } from './classify.js';
import { foldImports, knownHostcalls, TRAP_MODULE } from './fold.js';
import { trapStubs } from './trap-stubs.js';
import { createRequire } from 'node:module';
import { join } from 'node:path';

export { foldImports } from './fold.js';

export interface AdaptOptions {
  /** What to do with imports that are neither hostcalls nor WASI: refuse, or trap when called. */
  unknownImports?: 'error' | 'trap';
  /** The WIT the adapter speaks (see src/adapter/target.ts); default `subscribe`. */
  target?: AdapterTarget;
  /**
   * Build the adapter with the hostcall trace: every hostcall then reports its status through
   * `witshim:adapter/trace`, which `witshim serve --trace-hostcalls` records.
   */
  trace?: boolean;
  /** Told how long wit-component's encoding took, in ms (the benchmark's breakdown of start-up). */
  onWitComponent?: (ms: number) => void;
}

/** The custom section naming the adapter target a component was made for (`witshim inspect`). */
export const TARGET_SECTION = 'witshim-adapter-target';

/** Input that cannot be adapted; the message is one line for the user. */
export class AdaptError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AdaptError';
  }
}


/**
 * Wraps a legacy core module into a component: hostcall imports are folded into the witshim
 * adapter's import module, WASI preview1 goes to the wasmtime preview1 reactor adapter shipped
 * with jco, and wit-component (through jco) encodes the result.
 */
export async function adapt(bytes: Uint8Array, options: AdaptOptions = {}): Promise<Uint8Array> {
  const { iface, known, unknown } = checkAdaptable(bytes, options);
  const folded = foldImports(bytes, known);

  const variant = iface.exports.some((e) => e.kind === 'function' && e.name === '_start') ? 'command' : 'library';
  const target = options.target ?? DEFAULT_TARGET;
  const adapters: Array<[string, Uint8Array]> = [[ADAPTER_MODULE, await adapterModule(variant, target, options.trace)]];
  if (iface.imports.some((i) => i.module === WASI_PREVIEW1)) adapters.push([WASI_PREVIEW1, preview1Reactor()]);
  if (unknown.length) adapters.push([TRAP_MODULE, await trapStubs(unknown).catch((err: unknown) => Promise.reject(new AdaptError(`cannot build trap stubs: ${firstLine(err)}`)))]);

  let component: Uint8Array;
  try {
    const started = performance.now();
    component = await componentNew(folded, adapters);
    options.onWitComponent?.(performance.now() - started);
  } catch (err) {
    throw new AdaptError(`wit-component rejected the module: ${firstLine(err)}`);
  }
  try {
    component = await metadataAdd(component, [['processed-by', [['witshim', packageVersion()]]]]);
    component = appendCustomSection(component, TARGET_SECTION, target);
    // Decoding the component's WIT type-checks it as a whole.
    await componentWit(component);
  } catch (err) {
    throw new AdaptError(`the adapted component does not decode: ${firstLine(err)}`);
  }
  return component;
}

/**
 * What `adapt` refuses, checked without adapting: a module that does not decode or validate, has
 * no memory export, or imports what the ABI does not define (unless `unknownImports: 'trap'`,
 * and then only functions). Throws `AdaptError`; returns what adapting it needs.
 */
export function checkAdaptable(bytes: Uint8Array, options: Pick<AdaptOptions, 'unknownImports'> = {}) {
  const iface = inspectModule(bytes);
  // V8's validator is native and fast; an invalid module would otherwise go all the way through
  // wit-component (hundreds of ms) to be refused, and serve could not run it anyway.
  if (!WebAssembly.validate(bytes as Uint8Array<ArrayBuffer>)) throw new AdaptError(`not a valid wasm module (${compileError(bytes)})`);
  if (!iface.exports.some((e) => e.kind === 'memory' && e.name === 'memory')) {
    throw new AdaptError('the module exports no memory named "memory"; the adapter needs it');
  }
  const known = knownHostcalls();
  const unknown = iface.imports.filter((imp) => {
    const c = classifyImport(known, imp).kind;
    return c === 'unknown' || c === 'other';
  });
  if (unknown.length && options.unknownImports !== 'trap') {
    throw new AdaptError(`imports that the Fastly ABI does not define: ${unknown.map((imp) => printable(importLabel(imp))).join(', ')}`);
  }
  if (unknown.some((imp) => imp.kind !== 'function')) {
    throw new AdaptError(`non-function imports cannot be stubbed: ${unknown.filter((i) => i.kind !== 'function').map((imp) => printable(importLabel(imp))).join(', ')}`);
  }
  return { iface, known, unknown };
}

/** Reads a module's imports/exports, turning decode failures into user-facing errors. */
export function inspectModule(bytes: Uint8Array): WasmModuleInterface {
  if (bytes.length >= 8 && bytes[0] === 0 && bytes[1] === 0x61 && bytes[2] === 0x73 && bytes[3] === 0x6d && bytes[6] === 1) {
    throw new AdaptError('already a component; only core modules are adapted');
  }
  try {
    return readModuleInterface(bytes);
  } catch (err) {
    if (err instanceof WasmDecodeError) throw new AdaptError(`not a valid wasm module (${err.message})`);
    throw err;
  }
}

let reactor: Uint8Array | undefined;
/** The wasmtime preview1 reactor adapter that ships inside jco (`lib/`, beside its `dist/`). */
export function preview1Reactor(): Uint8Array {
  const jcoMain = createRequire(import.meta.url).resolve('@bytecodealliance/jco');
  reactor ??= new Uint8Array(readFileSync(join(jcoMain, '..', '..', 'lib', 'wasi_snapshot_preview1.reactor.wasm')));
  return reactor;
}

/** A name for a one-line message: control characters (a name may hold any) as JSON escapes. */
function printable(name: string): string {
  return name.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** V8's reason for refusing a module (validate says only no). */
function compileError(bytes: Uint8Array): string {
  try {
    new WebAssembly.Module(bytes as Uint8Array<ArrayBuffer>);
    return 'refused by the validator';
  } catch (err) {
    return firstLine(err);
  }
}

function firstLine(err: unknown): string {
  return String(err instanceof Error ? err.message : err).split('\n').filter(Boolean).slice(0, 3).join(': ');
}
