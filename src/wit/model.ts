// The resolved form of WIT: names are bound to definitions, `use`s point at
// the definitions they import, and worlds are elaborated. Cross references are
// plain object references.

import type { PackageDecl, PackageName, Primitive } from './ast.js';

export type { Primitive };

export type WitType =
  | { kind: Primitive }
  | { kind: 'list'; element: WitType }
  | { kind: 'option'; inner: WitType }
  | { kind: 'result'; ok?: WitType; err?: WitType }
  | { kind: 'tuple'; types: WitType[] }
  /** `resource` is a definition that `dealias`es to a resource; it may be a `use` of one. */
  | { kind: 'own' | 'borrow'; resource: WitTypeDef }
  | { kind: 'named'; def: WitTypeDef };

export interface WitField {
  name: string;
  type: WitType;
  docs: string[];
}

export interface WitCase {
  name: string;
  type?: WitType;
  docs: string[];
}

export interface WitLabel {
  name: string;
  docs: string[];
}

interface TypeDefBase {
  name: string;
  owner: WitInterface | WitWorld;
  docs: string[];
}

export type WitTypeDef = TypeDefBase &
  (
    | { kind: 'record'; fields: WitField[] }
    | { kind: 'variant'; cases: WitCase[] }
    | { kind: 'enum'; cases: WitLabel[] }
    | { kind: 'flags'; flags: WitLabel[] }
    | { kind: 'resource' }
    /** `type a = t`, or a name brought in by `use` (then `target` is `named`). */
    | { kind: 'alias'; target: WitType }
  );

export interface WitParam {
  name: string;
  type: WitType;
}

export interface WitFunction {
  /** As wit-parser names functions: `f`, `[method]r.f`, `[static]r.f`, `[constructor]r`. */
  name: string;
  kind: 'freestanding' | 'method' | 'static' | 'constructor';
  /** The resource that a method, static function or constructor belongs to. */
  resource?: WitTypeDef;
  /** For methods the first parameter is `self: borrow<r>`. */
  params: WitParam[];
  /** For constructors without an explicit result, `own<r>`. */
  result?: WitType;
  owner: WitInterface | WitWorld;
  docs: string[];
}

export interface WitInterface {
  kind: 'interface';
  /** The kebab name; for an inline world interface, its import/export name. */
  name: string;
  /** `ns:pkg/name@version`, or just the name for an inline world interface. */
  id: string;
  package: WitPackage;
  docs: string[];
  /** In declaration order; includes the aliases created by `use`. */
  types: Map<string, WitTypeDef>;
  functions: Map<string, WitFunction>;
  /** Interfaces this one `use`s types from, in order of first use. */
  deps: WitInterface[];
}

export type WitWorldItem =
  | { kind: 'interface'; name: string; interface: WitInterface }
  | { kind: 'function'; name: string; function: WitFunction }
  | { kind: 'type'; name: string; type: WitTypeDef };

export interface WitWorld {
  kind: 'world';
  name: string;
  /** `ns:pkg/name@version`. */
  id: string;
  package: WitPackage;
  docs: string[];
  /** World-level types (typedefs and `use`s written in the world). */
  types: Map<string, WitTypeDef>;
  /**
   * Elaborated as wit-parser does: `include`s merged, and every interface that
   * an imported (or exported) interface depends on imported before it.
   */
  imports: WitWorldItem[];
  exports: WitWorldItem[];
}

export interface WitPackage {
  name: PackageName;
  /** `ns:pkg@version`. */
  id: string;
  docs: string[];
  interfaces: Map<string, WitInterface>;
  worlds: Map<string, WitWorld>;
  /** The syntax this package was resolved from (one entry per file or nested block). */
  decls: PackageDecl[];
}

export interface WitResolve {
  /** By package id, `fastly:compute@0.1.0`. */
  packages: Map<string, WitPackage>;
  /** Named interfaces by id, `fastly:compute/http-req@0.1.0`. */
  interfaces: Map<string, WitInterface>;
  /** Worlds by id, `fastly:adapter/adapter-service`. */
  worlds: Map<string, WitWorld>;
  /** Ids of the packages that were loaded from the requested directory, as opposed to dependencies. */
  main: string[];
}

/** Follows aliases (`type a = b`, `use`) to the definition they name. */
export function dealias(def: WitTypeDef): WitTypeDef {
  let d = def;
  const seen = new Set<WitTypeDef>();
  while (d.kind === 'alias' && d.target.kind === 'named') {
    if (seen.has(d)) throw new Error(`type alias cycle through \`${d.name}\``);
    seen.add(d);
    d = d.target.def;
  }
  return d;
}

/** Follows named types that are aliases of other types, to the underlying type. */
export function dealiasType(t: WitType): WitType {
  let ty = t;
  while (ty.kind === 'named') {
    const d = dealias(ty.def);
    if (d.kind !== 'alias') return { kind: 'named', def: d };
    ty = d.target;
  }
  return ty;
}

