import { dealias, type WitFunction, type WitInterface, type WitResolve, type WitType, type WitWorld, type WitWorldItem } from './model.js';

export function findInterface(resolve: WitResolve, id: string): WitInterface {
  const iface = resolve.interfaces.get(id);
  if (!iface) throw new Error(`no interface \`${id}\` (known: ${[...resolve.interfaces.keys()].join(', ')})`);
  return iface;
}

export function findWorld(resolve: WitResolve, id: string): WitWorld {
  const world = resolve.worlds.get(id);
  if (!world) throw new Error(`no world \`${id}\` (known: ${[...resolve.worlds.keys()].join(', ')})`);
  return world;
}

function split(ref: string): [string, string] {
  const at = ref.lastIndexOf('#');
  if (at < 0) throw new Error(`expected \`<interface id>#<name>\`, got \`${ref}\``);
  return [ref.slice(0, at), ref.slice(at + 1)];
}

/** `fastly:compute/http-req@0.1.0#[method]request.get-uri` */
export function findFunction(resolve: WitResolve, ref: string): WitFunction {
  const [id, name] = split(ref);
  const fn = findInterface(resolve, id).functions.get(name);
  if (!fn) throw new Error(`no function \`${name}\` in interface \`${id}\``);
  return fn;
}

/** The named type `fastly:compute/cache@0.1.0#write-options`, as a `WitType` for the ABI functions. */
export function findType(resolve: WitResolve, ref: string): WitType {
  const [id, name] = split(ref);
  const def = findInterface(resolve, id).types.get(name);
  if (!def) throw new Error(`no type \`${name}\` in interface \`${id}\``);
  return dealias(def).kind === 'resource' ? { kind: 'own', resource: def } : { kind: 'named', def };
}

/**
 * A world's imports and exports after elaboration: `include`s merged and every
 * interface that an imported or exported interface uses types from imported
 * ahead of it. Interface items are named by id (`wasi:io/poll@0.2.6`).
 */
export function worldItems(resolve: WitResolve, world: string): { imports: WitWorldItem[]; exports: WitWorldItem[] } {
  const w = findWorld(resolve, world);
  return { imports: w.imports, exports: w.exports };
}
