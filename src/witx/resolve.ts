import type { ResolvedWitxType, WitxAbi, WitxFunction, WitxType, WitxTypeDef } from './types.js';

export function lookupTypeDef(abi: WitxAbi, name: string): WitxTypeDef {
  const def = abi.types.get(name);
  if (!def) throw new Error(`unknown WITX type $${name}`);
  return def;
}

/** Follows typename references until reaching a structural type. */
export function resolveType(abi: WitxAbi, t: WitxType): ResolvedWitxType {
  let current = t;
  while (current.kind === 'ref') current = lookupTypeDef(abi, current.name).type;
  return current;
}

/** The typename a type was written as (without `$`), or undefined for an inline type. */
export function typeName(t: WitxType): string | undefined {
  return t.kind === 'ref' ? t.name : undefined;
}

export function findWitxFunction(abi: WitxAbi, module: string, name: string): WitxFunction | undefined {
  return abi.modules.find((m) => m.name === module)?.functions.find((f) => f.name === name);
}
