import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { WitxError } from './errors.js';
import { linkWitx } from './link.js';
import { parseWitx } from './parser.js';
import type { WitxAbi, WitxDocument } from './types.js';

/**
 * Loads every `*.witx` file in `dir` (plus any file they `use` from elsewhere) as one ABI.
 * Files are ordered as the WITX tooling would inline them: a used file comes before its user.
 */
export function loadWitxDir(dir: string): WitxAbi {
  const parsed = new Map<string, WitxDocument>();
  const load = (file: string): WitxDocument => {
    let doc = parsed.get(resolve(file));
    if (!doc) {
      doc = parseWitx(readFileSync(file, 'utf8'), file);
      parsed.set(resolve(file), doc);
    }
    return doc;
  };
  const usesOf = (file: string): string[] =>
    load(file).uses.map((use) => {
      const target = join(dirname(file), use.path);
      if (!existsSync(target)) throw new WitxError(use.loc, `cannot find "${use.path}" used by ${file}`);
      return target;
    });

  const files = readdirSync(dir)
    .filter((name) => name.endsWith('.witx'))
    .sort()
    .map((name) => join(dir, name));
  const usedByOthers = new Set(files.flatMap(usesOf).map((f) => resolve(f)));

  const ordered: WitxDocument[] = [];
  const visited = new Set<string>();
  const visit = (file: string) => {
    if (visited.has(resolve(file))) return;
    visited.add(resolve(file));
    usesOf(file).forEach(visit);
    ordered.push(load(file));
  };
  // Files that only `use` each other in a cycle have no root; the second pass still loads them.
  for (const file of files) if (!usedByOthers.has(resolve(file))) visit(file);
  files.forEach(visit);
  return linkWitx(ordered);
}
