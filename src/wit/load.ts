import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { packageId, type PackageDecl, type PackageName } from './ast.js';
import type { WitResolve } from './model.js';
import { parseWit } from './parser.js';
import { resolveWit, WitResolveError } from './resolve.js';
import { builtinWasiPackage } from './wasi-builtin.js';

/** The repository's `wit/` directory; this module sits two levels below the root both as `src/wit/*.ts` and as `dist/wit/*.js`. */
export function defaultWitDir(): string {
  return fileURLToPath(new URL('../../wit/', import.meta.url));
}

function witFiles(dir: string): string[] {
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.wit') && fs.statSync(path.join(dir, f)).isFile())
    .sort()
    .map((f) => path.join(dir, f));
}

/**
 * Parses a directory's `.wit` files. A file without a `package` header joins
 * the package that the directory's other files declare, as in wit-parser.
 */
function parseDir(dir: string): PackageDecl[] {
  const decls = witFiles(dir).flatMap((f) => parseWit(fs.readFileSync(f, 'utf8'), f).packages);
  const named = new Map<string, PackageName>();
  for (const d of decls) if (d.name) named.set(packageId(d.name), d.name);
  for (const d of decls) {
    if (d.name) continue;
    if (named.size !== 1) {
      throw new WitResolveError(d.file, d.line, `file has no \`package\` header and its directory declares ${named.size === 0 ? 'no package' : 'several packages'}`);
    }
    d.name = [...named.values()][0];
  }
  return decls;
}

/** Packages under `deps/`: each subdirectory, and each single `.wit` file, is one package. */
function parseDeps(depsDir: string): Map<string, PackageDecl[]> {
  const byId = new Map<string, PackageDecl[]>();
  if (!fs.existsSync(depsDir)) return byId;
  const visit = (dir: string) => {
    for (const d of parseDir(dir)) {
      const id = packageId(d.name!);
      byId.set(id, [...(byId.get(id) ?? []), d]);
    }
    for (const sub of fs.readdirSync(dir).sort()) {
      if (fs.statSync(path.join(dir, sub)).isDirectory()) visit(path.join(dir, sub));
    }
  };
  visit(depsDir);
  return byId;
}

export interface LoadOptions {
  /** Enable these `@unstable` features (none by default, as in wasm-tools and jco). */
  features?: string[];
}

/**
 * Loads and resolves the WIT packages in `dir` (default: the repository's
 * `wit/`). Packages they refer to are taken from `dir/deps/` when present, and
 * otherwise, for `wasi:*`, from jco's builtin WASI WIT (see wasi-builtin.ts).
 */
export function loadWit(dir: string = defaultWitDir(), options: LoadOptions = {}): WitResolve {
  const deps = parseDeps(path.join(dir, 'deps'));
  return resolveWit(parseDir(dir), { ...options, deps: (pkg) => deps.get(packageId(pkg)) ?? builtinWasiPackage(pkg) });
}

/**
 * Resolves WIT given as text, e.g. `{ 'test.wit': 'package a:b; ...' }`.
 * Headerless texts are not supported; `wasi:*` dependencies come from jco.
 */
export function resolveWitSources(sources: Record<string, string>, options: LoadOptions = {}): WitResolve {
  const decls = Object.entries(sources).flatMap(([file, text]) => parseWit(text, file).packages);
  return resolveWit(decls, { ...options, deps: builtinWasiPackage });
}
