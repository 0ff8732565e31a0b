/**
 * Folding a legacy module's imports for the adapter: the first step of adapt, and all that a
 * module of a known shape needs (src/server/artifacts.ts). Light on purpose: no wasm-tools.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ADAPTER_MODULE } from '../adapter/inputs.js';
import { projectRoot } from '../version.js';
import { renameImports } from '../wasm/imports.js';
import { hostcallNames, loadWitxDir, type WitxAbi } from '../witx/index.js';
import { classifyImport, importLabel } from './classify.js';

/** The import module of the stubs for imports the Fastly ABI does not define (`--unknown-imports trap`). */
export const TRAP_MODULE = 'witshim_unknown';

const WITX_DIR = join(projectRoot, 'witx');
/** Where the hostcall names are kept between processes, beside the adapter builds. */
const NAMES_DIR = join(projectRoot, 'adapter', 'build');

let abiCache: WitxAbi | undefined;
export function witxAbi(): WitxAbi {
  abiCache ??= loadWitxDir(WITX_DIR);
  return abiCache;
}

let known: ReadonlySet<string> | undefined;

/**
 * The WITX hostcalls' names (`module#name`): all that sorting a module's imports needs. Parsing
 * `witx/` costs ~65 ms, a tenth of starting `serve` on a cached app, so the names are kept in
 * `adapter/build/` under a hash of `witx/` (read back in ~1 ms) and parsed only when it changed.
 */
export function knownHostcalls(): ReadonlySet<string> {
  if (known) return known;
  const hash = createHash('sha256');
  for (const name of readdirSync(WITX_DIR).sort()) hash.update(name).update('\0').update(readFileSync(join(WITX_DIR, name)));
  const file = join(NAMES_DIR, `hostcalls.${hash.digest('hex').slice(0, 16)}.json`);
  try {
    known = new Set(JSON.parse(readFileSync(file, 'utf8')) as string[]);
  } catch {
    const names = hostcallNames(witxAbi());
    known = new Set(names);
    try {
      mkdirSync(NAMES_DIR, { recursive: true });
      const temp = `${file}.${process.pid}.tmp`;
      writeFileSync(temp, JSON.stringify(names));
      renameSync(temp, file);
    } catch {
      // A read-only install parses witx/ once per process instead.
    }
  }
  return known;
}

/**
 * The module as the component embeds it: hostcall imports renamed to the adapter's module, unknown
 * ones to the trap stubs' (WASI stays). wit-component embeds exactly these bytes.
 */
export function foldImports(bytes: Uint8Array, hostcalls: ReadonlySet<string> = knownHostcalls()): Uint8Array {
  return renameImports(bytes, (module, name) => {
    const imp = { module, name, kind: 'function' as const };
    const c = classifyImport(hostcalls, imp);
    if (c.kind === 'hostcall') return { module: ADAPTER_MODULE, name: c.hostcall };
    if (c.kind === 'unknown') return { module: TRAP_MODULE, name: importLabel(imp) };
    return undefined;
  });
}
