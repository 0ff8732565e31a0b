// Names of the core wasm imports through which core code calls a world's
// imported functions, as wit-component expects them.
//
// Two schemes exist. `legacy` is what wit-bindgen emits and what
// `componentNew` has always accepted: module `ns:pkg/iface@1.2.3` (or `$root`
// for functions imported by the world itself), field = the function's name,
// and `[resource-drop]r` for dropping an owned handle. `standard32` is the
// newer "cm32p2" scheme of the component model's BuildTargets.md, which jco's
// `componentEmbed({ dummy: true })` produces: module
// `cm32p2|ns:pkg/iface@<semver track>` (or `cm32p2` for the world itself),
// the same function names, and `r_drop` for drops.

import { flattenFunction, type CoreSignature } from './abi.js';
import { findWorld } from './lookup.js';
import type { WitFunction, WitInterface, WitResolve, WitTypeDef, WitWorld } from './model.js';

export type NameScheme = 'legacy' | 'standard32';

export interface CoreImportName {
  module: string;
  name: string;
}

export interface CoreImport extends CoreImportName {
  /** The imported function, or undefined for a resource-drop intrinsic. */
  function?: WitFunction;
  /** The resource a `[resource-drop]` intrinsic drops. */
  dropped?: WitTypeDef;
  signature: CoreSignature;
}

/**
 * The part of a version that semver-compatible versions share, as the
 * standard32 scheme puts it in names: `0.2.6` -> `0.2`, `1.4.0` -> `1`,
 * `0.0.3` -> `0.0.3`; prereleases are kept whole.
 */
export function versionTrack(version: string): string {
  const v = version.replace(/\+.*$/, '');
  const m = /^(\d+)\.(\d+)\.(\d+)$/.exec(v);
  if (!m) return v;
  if (m[1] !== '0') return m[1];
  if (m[2] !== '0') return `0.${m[2]}`;
  return v;
}

function moduleName(owner: WitInterface | WitWorld, scheme: NameScheme): string {
  if (owner.kind === 'world') return scheme === 'legacy' ? '$root' : 'cm32p2';
  const { name: pkg } = owner.package;
  const named = owner.package.interfaces.get(owner.name) === owner;
  if (!named) return scheme === 'legacy' ? owner.name : `cm32p2|${owner.name}`;
  if (scheme === 'legacy') return owner.id;
  const version = pkg.version ? `@${versionTrack(pkg.version)}` : '';
  return `cm32p2|${pkg.namespace}:${pkg.name}/${owner.name}${version}`;
}

export function coreImportName(fn: WitFunction, scheme: NameScheme = 'legacy'): CoreImportName {
  return { module: moduleName(fn.owner, scheme), name: fn.name };
}

export function resourceDropName(resource: WitTypeDef, scheme: NameScheme = 'legacy'): CoreImportName {
  if (resource.kind !== 'resource') throw new Error(`\`${resource.name}\` is not a resource definition`);
  const name = scheme === 'legacy' ? `[resource-drop]${resource.name}` : `${resource.name}_drop`;
  return { module: moduleName(resource.owner, scheme), name };
}

/** Drop intrinsics of a resource's handle: (i32) -> (). */
const DROP: CoreSignature = { params: ['i32'], results: [], paramsIndirect: false, resultsIndirect: false };

/**
 * Every core import a module targeting `world` may use: each function of each
 * imported interface (including those imported only because other imports use
 * their types) and of the world itself, lowered; then, per interface, a drop
 * intrinsic for each resource it defines. A `use`d resource (such as
 * `http-body`'s `body`, an alias of `async-io`'s `pollable`) is the same
 * resource, so it is dropped through the interface that defines it.
 */
export function worldCoreImports(resolve: WitResolve, world: string | WitWorld, scheme: NameScheme = 'legacy'): CoreImport[] {
  const w = typeof world === 'string' ? findWorld(resolve, world) : world;
  const out: CoreImport[] = [];
  const drop = (def: WitTypeDef) => out.push({ ...resourceDropName(def, scheme), dropped: def, signature: DROP });
  for (const item of w.imports) {
    if (item.kind === 'function') {
      out.push({ ...coreImportName(item.function, scheme), function: item.function, signature: flattenFunction(resolve, item.function, 'lower') });
    } else if (item.kind === 'type') {
      if (item.type.kind === 'resource') drop(item.type);
    } else {
      for (const fn of item.interface.functions.values()) {
        out.push({ ...coreImportName(fn, scheme), function: fn, signature: flattenFunction(resolve, fn, 'lower') });
      }
      for (const def of item.interface.types.values()) if (def.kind === 'resource') drop(def);
    }
  }
  return out;
}
