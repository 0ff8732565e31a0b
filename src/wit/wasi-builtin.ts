// WASI packages come from @bytecodealliance/jco rather than from copies in
// this repository. jco ships the WASI WIT it implements under
// `lib/wit/builtin/<version>/wasi-<name>/package.wit`, e.g. 0.2.12. Our worlds
// import `wasi:*@0.2.6`, as the published Fastly WIT does. Within 0.2.x the
// WASI packages only ever gain `@since`-gated items, and jco's copies have the
// gates stripped; for the interfaces we import, 0.2.12 and 0.2.6 were checked
// to be identical. So a request for `wasi:io@0.2.6` is served by the newest
// semver-compatible builtin (same 0.minor, patch >= 6) with its package
// version, and its references to sibling `wasi:*` packages, rewritten to the
// requested version: the component we describe then names exactly the
// versions our worlds import.

import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { interfacePaths, packageId, type PackageDecl, type PackageName } from './ast.js';
import { parseWit } from './parser.js';

type Semver = [number, number, number];

function parseSemver(v: string): Semver | undefined {
  const m = /^(\d+)\.(\d+)\.(\d+)$/.exec(v);
  return m ? [Number(m[1]), Number(m[2]), Number(m[3])] : undefined;
}

/** Whether `provided` can stand in for `wanted` under semver (0.x: same minor). */
function compatible(provided: Semver, wanted: Semver): boolean {
  if (provided[0] !== wanted[0]) return false;
  if (provided[0] === 0 && provided[1] !== wanted[1]) return false;
  return provided[1] > wanted[1] || (provided[1] === wanted[1] && provided[2] >= wanted[2]);
}

let builtinRoot: string | undefined;

/** `<jco>/lib/wit/builtin`. jco's package.json is not exported, so walk up from its entry point. */
export function jcoBuiltinWitDir(): string {
  if (builtinRoot) return builtinRoot;
  let dir = path.dirname(createRequire(import.meta.url).resolve('@bytecodealliance/jco'));
  while (!fs.existsSync(path.join(dir, 'package.json'))) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error('cannot locate the @bytecodealliance/jco package directory');
    dir = up;
  }
  builtinRoot = path.join(dir, 'lib', 'wit', 'builtin');
  return builtinRoot;
}

/** The syntax of `wasi:<name>@<version>` taken from jco's builtin WIT, or undefined if jco has no compatible copy. */
export function builtinWasiPackage(pkg: PackageName): PackageDecl[] | undefined {
  const wanted = pkg.version && parseSemver(pkg.version);
  if (pkg.namespace !== 'wasi' || !wanted) return undefined;
  const root = jcoBuiltinWitDir();
  const candidates = fs
    .readdirSync(root)
    .map((v) => ({ v, semver: parseSemver(v) }))
    .filter((c): c is { v: string; semver: Semver } => !!c.semver && compatible(c.semver, wanted))
    .filter((c) => fs.existsSync(path.join(root, c.v, `wasi-${pkg.name}`, 'package.wit')))
    .sort((a, b) => b.semver[0] - a.semver[0] || b.semver[1] - a.semver[1] || b.semver[2] - a.semver[2]);
  const best = candidates[0];
  if (!best) return undefined;
  const file = path.join(root, best.v, `wasi-${pkg.name}`, 'package.wit');
  const decls = parseWit(fs.readFileSync(file, 'utf8'), file).packages;
  for (const decl of decls) {
    if (decl.name?.namespace === 'wasi' && decl.name.version === best.v) decl.name.version = pkg.version;
    for (const p of interfacePaths(decl)) {
      if (p.package?.namespace === 'wasi' && p.package.version === best.v) p.package.version = pkg.version;
    }
  }
  return decls.filter((d) => d.name && packageId(d.name) === packageId(pkg));
}
