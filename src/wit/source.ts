import type { PackageDecl } from './ast.js';
import { loadWit } from './load.js';
import type { WitResolve } from './model.js';
import { printWitPackage } from './printer.js';

/**
 * One WIT text holding every package of `resolve` (or of `loadWit(dir)`) —
 * ours and the WASI packages they pull in — as nested `package x { ... }`
 * blocks. This is the form jco's `componentEmbed({ witSource, world })`
 * accepts (its `witPath` option fails with NotFound here). jco insists on a
 * top-level `package` header, so an empty `witshim:bundle` package heads the
 * text; worlds must therefore be named in full, e.g.
 * `fastly:adapter/adapter-service`. `root` is WIT for that head package
 * (a world of the caller's own, say).
 */
export function witSource(resolveOrDir?: WitResolve | string, root = ''): string {
  const resolve = typeof resolveOrDir === 'object' ? resolveOrDir : loadWit(resolveOrDir);
  const blocks = [...resolve.packages.values()].map((pkg) => {
    // A package spread over several files becomes one block.
    const merged: PackageDecl = { ...pkg.decls[0], items: pkg.decls.flatMap((d) => d.items) };
    return printWitPackage(merged, { nested: true, docs: false });
  });
  return ['package witshim:bundle;', root, ...blocks].join('\n');
}
