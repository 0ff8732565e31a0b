import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { packageVersion } from '../version.js';
import { hashOf, transpilerVersions } from './build-keys.js';
import { transpileGuest } from './transpile.js';
import { CORE_MODULES_FILE, prepareCoreModules, type CoreModulesRecord } from './core-modules.js';
import { standInFor } from './stand-in.js';
import { readModuleInterface } from '../wasm/imports.js';
import { limitMemories } from '../wasm/memory-limit.js';
import { GLUE_REWRITES, glueScript } from './glue.js';
import { PLATFORM_GUEST_LIMITS, WASM_PAGE } from './limits.js';
import type { GuestArtifacts } from './pool.js';
import type { AdapterTarget } from '../adapter/target.js';

export type WasmKind = 'module' | 'component';

/** The glue as a classic script (see `glueScript`), beside `guest.js` in a transpile's directory. */
const GUEST_SCRIPT = 'guest.script.js';

/** Reads the wasm preamble: version 1 / layer 0 is a core module, layer 1 a component. */
export function wasmKind(bytes: Uint8Array): WasmKind | undefined {
  if (bytes.length < 8 || bytes[0] !== 0 || bytes[1] !== 0x61 || bytes[2] !== 0x73 || bytes[3] !== 0x6d) return undefined;
  const layer = bytes[6]! | (bytes[7]! << 8);
  if (layer === 1) return 'component';
  if (layer === 0 && bytes[4] === 1 && bytes[5] === 0) return 'module';
  return undefined;
}

export function cacheRoot(): string {
  if (process.env.WITSHIM_CACHE_DIR) return process.env.WITSHIM_CACHE_DIR;
  return join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'witshim');
}

/** Writes a directory of files so that readers never see it half-written. */
export function publishDirectory(target: string, files: Record<string, Uint8Array>): void {
  const temp = `${target}.${process.pid}.${Date.now()}.tmp`;
  for (const [name, bytes] of Object.entries(files)) {
    mkdirSync(dirname(join(temp, name)), { recursive: true });
    writeFileSync(join(temp, name), bytes);
  }
  try {
    renameSync(temp, target);
  } catch (err) {
    rmSync(temp, { recursive: true, force: true });
    if (!existsSync(target)) throw err;
  }
}

/** Adapts a legacy core module into a component, cached by content hash. */
async function adaptCached(bytes: Uint8Array, root: string, target: AdapterTarget, trace: boolean): Promise<Uint8Array> {
  // The adapter is only needed for legacy modules; components never load it.
  const [{ adapt }, { adaptersKey }] = await Promise.all([import('../adapt/index.js'), import('../adapter/inputs.js')]);
  // The adapter's inputs are part of the key: mappings change between releases of the same version.
  const file = join(root, 'adapted', `${hashOf(bytes, packageVersion(), target, ...adaptersKey(target, trace))}.wasm`);
  if (existsSync(file)) return readFileSync(file);
  const component = await adapt(bytes, { unknownImports: 'trap', target, trace });
  mkdirSync(dirname(file), { recursive: true });
  const temp = `${file}.${process.pid}.tmp`;
  writeFileSync(temp, component);
  renameSync(temp, file);
  return component;
}

/** The transpiled component's first core module: for an adapted module, the folded legacy module itself. */
export const MAIN_MODULE = 'guest.core.wasm';

/**
 * What jco's glue and the adapter core modules of an adapted module depend on: the folded module's
 * imports and exports (names, kinds, signatures; not its code, data or function indices) and the
 * versions of everything that made them. Rebuilds of an app, and every app of one js-compute
 * runtime version, share it.
 */
function shapeKey(folded: Uint8Array, adapterInputs: string[]): string {
  const { imports, exports } = readModuleInterface(folded);
  const shape = { imports, exports: exports.map(({ name, kind, type }) => ({ name, kind, type })) };
  return hashOf(JSON.stringify(shape), packageVersion(), ...adapterInputs, transpilerVersions(), GLUE_REWRITES);
}

/**
 * Compiles the core modules of a transpiled guest (`replace` stands in for some of them) and
 * names its glue. Each memory's cap is set at compile time: the compiled module is what every
 * worker shares. What the runner answers itself, and the modules whose exports are tabled, were
 * recorded by `prepareCoreModules` when the directory was made.
 */
export async function loadArtifacts(dir: string, memoryBytes: number, replace: Record<string, Uint8Array> = {}): Promise<GuestArtifacts> {
  const names = new Set([...readdirSync(dir).filter((file) => file.endsWith('.wasm')), ...Object.keys(replace)]);
  const pages = Math.floor(memoryBytes / WASM_PAGE);
  const compiled = await Promise.all([...names].map(async (name) => [name, await WebAssembly.compile(limitMemories((replace[name] ?? readFileSync(join(dir, name))) as Uint8Array<ArrayBuffer>, pages) as Uint8Array<ArrayBuffer>)] as const));
  const script = join(dir, GUEST_SCRIPT);
  const record = join(dir, CORE_MODULES_FILE);
  const { indirectShims, tabledModules } = existsSync(record) ? (JSON.parse(readFileSync(record, 'utf8')) as CoreModulesRecord) : { indirectShims: [], tabledModules: [] };
  return {
    guestModule: pathToFileURL(join(dir, 'guest.js')).href,
    coreModules: Object.fromEntries(compiled),
    // Never about a module `replace` stands in for (the main module, which is not rewritten).
    indirectShims: indirectShims.filter(({ shim, fixup }) => !(shim in replace) && !(fixup in replace)),
    tabledModules: tabledModules.filter(({ module }) => !(module in replace)),
    ...(existsSync(script) ? { guestScript: { path: script, codeCache: join(dir, 'guest.code-cache') } } : {}),
  };
}

export interface PrepareOptions {
  /** The WIT a legacy module's adapter speaks. */
  target?: AdapterTarget;
  /** The cap on each linear memory of the guest. */
  memoryBytes?: number;
  /** Adapt a legacy module with the hostcall trace (see src/adapter/trace.ts). */
  trace?: boolean;
}

/**
 * Keeps a transpiled adapted module's glue and adapter modules under its shape, without the main
 * module: only when the main module is exactly the folded module, so that any module of the same
 * shape can stand in for it.
 */
function keepShape(transpiledDir: string, shapeDir: string, folded: Uint8Array): void {
  if (existsSync(join(shapeDir, 'guest.js'))) return;
  const main = readFileSync(join(transpiledDir, MAIN_MODULE));
  if (!Buffer.from(main).equals(Buffer.from(folded))) return;
  const files = readDirectory(transpiledDir);
  delete files[MAIN_MODULE];
  publishDirectory(shapeDir, files);
}

/** Every file under `dir`, by its path relative to `dir`: what `publishDirectory` writes back. */
export function readDirectory(dir: string): Record<string, Uint8Array> {
  const files: Record<string, Uint8Array> = {};
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    files[path.slice(dir.length + 1)] = readFileSync(path);
  }
  return files;
}

/** Where a guest's build is: a transpiled directory, and core modules in place of some of its files. */
export interface GuestBuild {
  dir: string;
  replace: Record<string, Uint8Array>;
  /** For a legacy module: its shape's directory (the glue and adapter modules without the main module), once kept. */
  shapeDir?: string;
}

/** A legacy module as the component embeds it, and where the build of its shape is kept. */
interface FoldedModule {
  folded: Uint8Array;
  shapeDir: string;
}

/** Folds a legacy module's imports and names its shape; undefined when it does not decode (adapt says why). */
async function foldModule(bytes: Uint8Array, root: string, target: AdapterTarget, trace: boolean): Promise<FoldedModule | undefined> {
  // Only the light modules: a module of a known shape needs neither wasm-tools nor jco.
  const [{ foldImports }, { adaptersKey }] = await Promise.all([import('../adapt/fold.js'), import('../adapter/inputs.js')]);
  try {
    const folded = foldImports(bytes);
    return { folded, shapeDir: join(root, 'shapes', shapeKey(folded, adaptersKey(target, trace))) };
  } catch {
    return undefined;
  }
}

const shapeKnown = (module: FoldedModule): boolean => existsSync(join(module.shapeDir, 'guest.js'));

/**
 * Adapts (a legacy module) and transpiles an app into a directory, without compiling it: what a
 * background build (src/server/background-build.ts) does. Adapted and transpiled output is
 * cached on disk by content hash. wit-component embeds a legacy module's folded module as it is
 * and the glue depends only on its shape (imports and exports), so a module of a shape seen
 * before skips adapt and transpile altogether, and the glue of a new shape is made from the
 * module's stub (src/wasm/shape-stub.ts: the shape without the code, tens of KB where a
 * js-compute module is 11.5 MB); either way the glue and adapter modules of the shape serve the
 * module, which stands in for the folded stub.
 */
export async function buildGuest(bytes: Uint8Array, root = cacheRoot(), options: PrepareOptions = {}): Promise<GuestBuild> {
  return buildRead(await readGuest(bytes, root, options), root, options);
}

/** An app's bytes as a build starts from them: its kind, and a legacy module folded. */
interface GuestRead {
  bytes: Uint8Array;
  kind: WasmKind;
  module: FoldedModule | undefined;
}

async function readGuest(bytes: Uint8Array, root: string, { target = 'subscribe', trace = false }: PrepareOptions): Promise<GuestRead> {
  const kind = wasmKind(bytes);
  if (kind === undefined) throw new Error('not a WebAssembly module or component (bad header)');
  return { bytes, kind, module: kind === 'module' ? await foldModule(bytes, root, target, trace) : undefined };
}

async function buildRead({ bytes, kind, module }: GuestRead, root: string, { target = 'subscribe', trace = false }: PrepareOptions): Promise<GuestBuild> {
  const ofShape = (): GuestBuild | undefined => (module && shapeKnown(module) ? { dir: module.shapeDir, replace: { [MAIN_MODULE]: module.folded }, shapeDir: module.shapeDir } : undefined);
  const known = ofShape();
  if (known) return known;
  if (module) {
    // A new shape: learnt from the module's stub (src/wasm/shape-stub.ts), which has the same
    // imports and exports and none of the code, after the checks adapt would make of the module.
    const [{ checkAdaptable, foldImports }, { shapeStub }] = await Promise.all([import('../adapt/index.js'), import('../wasm/shape-stub.js')]);
    checkAdaptable(bytes, { unknownImports: 'trap' });
    const stub = shapeStub(bytes);
    keepShape(await transpiledDir(await adaptCached(stub, root, target, trace), root), module.shapeDir, foldImports(stub));
    const learnt = ofShape();
    if (learnt) return learnt;
    // wit-component changed the stub (a module carrying component types of its own): the module itself goes through.
  }
  const component = kind === 'module' ? await adaptCached(bytes, root, target, trace) : bytes;
  const dir = await transpiledDir(component, root);
  if (module) keepShape(dir, module.shapeDir, module.folded);
  return { dir, replace: {}, ...(module && shapeKnown(module) ? { shapeDir: module.shapeDir } : {}) };
}

/** The directory of a component's transpile, made unless cached. */
async function transpiledDir(component: Uint8Array, root: string): Promise<string> {
  const dir = join(root, 'transpiled', hashOf(component, transpilerVersions(), GLUE_REWRITES));
  if (!existsSync(join(dir, 'guest.js'))) {
    const { files } = await transpileGuest(component);
    const script = glueScript(new TextDecoder().decode(files['guest.js']));
    if (script !== undefined) files[GUEST_SCRIPT] = new TextEncoder().encode(script);
    const prepared = prepareCoreModules(Object.fromEntries(Object.entries(files).filter(([name]) => name.endsWith('.wasm'))), MAIN_MODULE);
    Object.assign(files, prepared.files);
    files[CORE_MODULES_FILE] = new TextEncoder().encode(JSON.stringify({ indirectShims: prepared.indirectShims, tabledModules: prepared.tabledModules } satisfies CoreModulesRecord));
    publishDirectory(dir, files);
  }
  return dir;
}

/**
 * Turns an app (legacy core module or component) into what workers instantiate: the
 * jco-transpiled JS (sync instantiation, imports supplied by the host) and its compiled core
 * modules (see `buildGuest`).
 */
export async function prepareGuest(bytes: Uint8Array, root = cacheRoot(), options: PrepareOptions = {}): Promise<GuestArtifacts> {
  const { dir, replace } = await buildGuest(bytes, root, options);
  return loadArtifacts(dir, options.memoryBytes ?? PLATFORM_GUEST_LIMITS.memoryBytes, replace);
}

/**
 * What `prepareGuest` makes, except for a legacy module of a shape never seen that a stand-in
 * (src/server/stand-in.ts) fits: that one comes back at once with the stand-in's glue and the
 * module in place of the stand-in's (`standIn` true), its own glue not built. The module is read
 * and folded once either way.
 */
export async function prepareServable(bytes: Uint8Array, root = cacheRoot(), options: PrepareOptions = {}): Promise<{ artifacts: GuestArtifacts; standIn: boolean }> {
  const { target = 'subscribe', memoryBytes = PLATFORM_GUEST_LIMITS.memoryBytes, trace = false } = options;
  const read = await readGuest(bytes, root, options);
  const { module } = read;
  const dir = module && !shapeKnown(module) ? standInFor(module.folded, target, trace) : undefined;
  if (module && dir) {
    try {
      return { artifacts: await loadArtifacts(dir, memoryBytes, { [MAIN_MODULE]: module.folded }), standIn: true };
    } catch {
      // A module V8 refuses: its own build below says why, as adapt would.
    }
  }
  const { dir: built, replace } = await buildRead(read, root, options);
  return { artifacts: await loadArtifacts(built, memoryBytes, replace), standIn: false };
}
