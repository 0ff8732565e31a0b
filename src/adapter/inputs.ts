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

/** The import module the folded module's hostcalls come from. */
export const ADAPTER_MODULE = 'witshim';

const generatorDir = dirname(fileURLToPath(import.meta.url));

/** A hash of everything an adapter build is made from: the ABIs, the generator and its mappings. */
export function inputsHash(variant: AdapterVariant): string {
  const h = createHash('sha256').update(variant);
  for (const dir of [join(projectRoot, 'witx'), join(projectRoot, 'wit'), generatorDir, join(generatorDir, 'mappings')]) {
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name);
      if (statSync(path).isFile() && !name.endsWith('.map')) h.update(name).update(readFileSync(path));
    }
  }
  return h.digest('hex');
}

/** Identifies both adapter builds: part of the cache keys of everything adapted with them. */
export function adaptersKey(): string[] {
  return [inputsHash('command'), inputsHash('library')];
}
