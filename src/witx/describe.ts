import { lookupTypeDef } from './resolve.js';
import type { WitxAbi, WitxFunction, WitxParam, WitxType } from './types.js';

/**
 * Canonical text of a type with every typename expanded in place (and still named), so that two
 * ABIs describe a type identically exactly when its whole structure and all names agree.
 */
export function describeWitxType(abi: WitxAbi, t: WitxType): string {
  const d = (inner: WitxType) => describeWitxType(abi, inner);
  switch (t.kind) {
    case 'builtin':
      return t.name;
    case 'string':
    case 'handle':
      return t.kind;
    case 'ref':
      return `$${t.name}=${d(lookupTypeDef(abi, t.name).type)}`;
    case 'enum':
      return `enum<${t.tag}>{${t.cases.join(',')}}`;
    case 'flags':
      return `flags<${t.repr}>{${t.members.join(',')}}`;
    case 'record':
      return `record{${t.fields.map((f) => `${f.name}: ${d(f.type)}`).join(', ')}}`;
    case 'tuple':
      return `tuple<${t.elements.map(d).join(', ')}>`;
    case 'list':
      return `list<${d(t.element)}>`;
    case 'pointer':
      return `pointer<${d(t.target)}>`;
    case 'constPointer':
      return `const_pointer<${d(t.target)}>`;
    case 'expected':
      return `expected<${t.ok ? `${d(t.ok)}, ` : ''}error=${d(t.error)}>`;
  }
}

/** One line naming the function, its params and results in order, with types fully expanded. */
export function describeWitxFunction(abi: WitxAbi, fn: WitxFunction): string {
  const list = (ps: WitxParam[]) => ps.map((p) => `${p.name}: ${describeWitxType(abi, p.type)}`).join(', ');
  return `${fn.module}#${fn.name}(${list(fn.params)}) -> (${list(fn.results)})`;
}
