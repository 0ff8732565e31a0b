import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { transpile } from '@bytecodealliance/jco';
import { packageVersion } from '../version.js';
import { limitMemories } from '../wasm/memory-limit.js';
import { GLUE_REWRITES, glueScript, optimizeGlue } from './glue.js';
import { PLATFORM_GUEST_LIMITS, WASM_PAGE } from './limits.js';
import type { GuestArtifacts } from './pool.js';

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

function jcoVersion(): string {
  const pkg = join(dirname(new URL(import.meta.resolve('@bytecodealliance/jco')).pathname), '..', 'package.json');
  return (JSON.parse(readFileSync(pkg, 'utf8')) as { version: string }).version;
}

function hashOf(...parts: Array<string | Uint8Array>): string {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(part).update('\0');
  return hash.digest('hex').slice(0, 32);
}

/** Writes a directory of files so that readers never see it half-written. */
function publishDirectory(target: string, files: Record<string, Uint8Array>): void {
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
async function adaptCached(bytes: Uint8Array, root: string): Promise<Uint8Array> {
  // The adapter is only needed for legacy modules; components never load it.
  const [{ adapt }, { inputsHash }] = await Promise.all([import('../adapt/index.js'), import('../adapter/build.js')]);
  // The adapter's inputs are part of the key: mappings change between releases of the same version.
  const file = join(root, 'adapted', `${hashOf(bytes, packageVersion(), inputsHash('command'), inputsHash('library'))}.wasm`);
  if (existsSync(file)) return readFileSync(file);
  const component = await adapt(bytes, { unknownImports: 'trap' });
  mkdirSync(dirname(file), { recursive: true });
  const temp = `${file}.${process.pid}.tmp`;
  writeFileSync(temp, component);
  renameSync(temp, file);
  return component;
}

/**
 * Turns an app (legacy core module or component) into what workers instantiate: the
 * jco-transpiled JS (sync instantiation, imports supplied by the host) and its compiled core
 * modules. Adapted and transpiled output is cached on disk by content hash.
 */
export async function prepareGuest(bytes: Uint8Array, root = cacheRoot(), { memoryBytes = PLATFORM_GUEST_LIMITS.memoryBytes } = {}): Promise<GuestArtifacts> {
  const kind = wasmKind(bytes);
  if (kind === undefined) throw new Error('not a WebAssembly module or component (bad header)');
  const component = kind === 'module' ? await adaptCached(bytes, root) : bytes;
  const dir = join(root, 'transpiled', hashOf(component, jcoVersion(), GLUE_REWRITES));
  if (!existsSync(join(dir, 'guest.js'))) {
    const { files } = await transpile(component, { name: 'guest', instantiation: 'sync', noTypescript: true, base64Cutoff: 0, quiet: true });
    const glue = optimizeGlue(new TextDecoder().decode(files['guest.js'])).source;
    files['guest.js'] = new TextEncoder().encode(glue);
    const script = glueScript(glue);
    if (script !== undefined) files[GUEST_SCRIPT] = new TextEncoder().encode(script);
    publishDirectory(dir, files);
  }
  const coreModules: Record<string, WebAssembly.Module> = {};
  for (const name of readdirSync(dir).filter((file) => file.endsWith('.wasm'))) {
    // Each memory's cap is set at compile time: the compiled module is what every worker shares.
    coreModules[name] = await WebAssembly.compile(limitMemories(readFileSync(join(dir, name)), Math.floor(memoryBytes / WASM_PAGE)));
  }
  const script = join(dir, GUEST_SCRIPT);
  return { guestModule: pathToFileURL(join(dir, 'guest.js')).href, coreModules, ...(existsSync(script) ? { guestScript: { path: script, codeCache: join(dir, 'guest.code-cache') } } : {}) };
}
