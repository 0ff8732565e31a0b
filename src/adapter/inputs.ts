/**
 * What identifies a build of the adapter without building it: its import module name and a hash
 * of its inputs. Kept apart from build.ts (which loads wasm-tools) so that serving a module of a
 * known shape does not load the toolchain.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { projectRoot } from '../version.js';
import type { AdapterVariant } from './generate.js';
import { DEFAULT_TARGET, type AdapterTarget } from './target.js';

/** The import module the folded module's hostcalls come from. */
export const ADAPTER_MODULE = 'witshim';

const generatorDir = dirname(fileURLToPath(import.meta.url));

/**
 * A hash of everything an adapter build is made from: the ABIs, and the generator with every
 * module under it (its mappings and the per-hostcall generator live in subfolders).
 */
export function inputsHash(variant: AdapterVariant, target: AdapterTarget = DEFAULT_TARGET, trace = false): string {
  const key = `${variant}.${target}.${trace}`;
  let hash = hashes.get(key);
  if (hash === undefined) hashes.set(key, (hash = hashInputs(variant, target, trace)));
  return hash;
}

/**
 * Hashes read every file of the ABIs and the generator (~10 ms); a start asks for them several
 * times (the shape key, the adapted-module key, each stand-in's key), and they do not change
 * while a process runs.
 */
const hashes = new Map<string, string>();

function hashInputs(variant: AdapterVariant, target: AdapterTarget, trace: boolean): string {
  const h = createHash('sha256').update(variant).update(target).update(trace ? 'traced' : 'untraced');
  const visit = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) visit(path);
      else if (!name.endsWith('.map')) h.update(name).update(readFileSync(path));
    }
  };
  for (const dir of [join(projectRoot, 'witx'), join(projectRoot, 'wit'), generatorDir]) visit(dir);
  return h.digest('hex');
}

/** Identifies both adapter builds for `target`: part of the cache keys of everything adapted with them. */
export function adaptersKey(target: AdapterTarget = DEFAULT_TARGET, trace = false): string[] {
  return [inputsHash('command', target, trace), inputsHash('library', target, trace)];
}
