import { findFunction } from './lookup.js';
import { dealias, type WitFunction, type WitResolve, type WitType, type WitTypeDef } from './model.js';

function resourceName(def: WitTypeDef): string {
  const r = dealias(def);
  return `${r.owner.id}#${r.name}`;
}

/**
 * WIT-like text for a type with every named type spelled out (aliases
 * followed), so that the text changes whenever anything the type is made of
 * changes. Resources are nominal and stay names.
 */
export function describeType(t: WitType): string {
  switch (t.kind) {
    case 'list':
      return `list<${describeType(t.element)}>`;
    case 'option':
      return `option<${describeType(t.inner)}>`;
    case 'tuple':
      return `tuple<${t.types.map(describeType).join(', ')}>`;
    case 'result':
      return `result<${t.ok ? describeType(t.ok) : '_'}, ${t.err ? describeType(t.err) : '_'}>`;
    case 'own':
    case 'borrow':
      return `${t.kind}<${resourceName(t.resource)}>`;
    case 'named':
      return describeDef(t.def);
    default:
      return t.kind;
  }
}

function describeDef(def: WitTypeDef): string {
  switch (def.kind) {
    case 'alias':
      return describeType(def.target);
    case 'resource':
      return resourceName(def);
    case 'record':
      return `record ${def.name} { ${def.fields.map((f) => `${f.name}: ${describeType(f.type)}`).join(', ')} }`;
    case 'variant':
      return `variant ${def.name} { ${def.cases.map((c) => (c.type ? `${c.name}(${describeType(c.type)})` : c.name)).join(', ')} }`;
    case 'enum':
      return `enum ${def.name} { ${def.cases.map((c) => c.name).join(', ')} }`;
    case 'flags':
      return `flags ${def.name} { ${def.flags.map((f) => f.name).join(', ')} }`;
  }
}

/**
 * A canonical one-line signature: `name(param: type, ...) -> type` with all
 * types expanded by `describeType`. Two copies of an ABI agree on a function
 * exactly when these strings are equal. `fn` may be given as
 * `<interface id>#<function name>`.
 */
export function describeWitFunction(resolve: WitResolve, fn: WitFunction | string): string {
  const f = typeof fn === 'string' ? findFunction(resolve, fn) : fn;
  const params = f.params.map((p) => `${p.name}: ${describeType(p.type)}`).join(', ');
  return `${f.name}(${params})${f.result ? ` -> ${describeType(f.result)}` : ''}`;
}
