import { WitxError } from './errors.js';
import type { WitxAbi, WitxDocument, WitxModule, WitxType, WitxTypeDef } from './types.js';

/**
 * Joins parsed files into one ABI. Like the WITX tooling, all files share one namespace, so a file
 * may use a typename defined in a file it never `use`s. Every reference must resolve and no
 * typename may be defined in terms of itself.
 */
export function linkWitx(docs: WitxDocument[]): WitxAbi {
  const types = new Map<string, WitxTypeDef>();
  const modules: WitxModule[] = [];
  for (const doc of docs) {
    for (const def of doc.types) {
      const first = types.get(def.name);
      if (first) throw new WitxError(def.loc, `duplicate typename $${def.name} (first defined at ${where(first.loc)})`);
      types.set(def.name, def);
    }
    for (const mod of doc.modules) {
      const first = modules.find((m) => m.name === mod.name);
      if (first) throw new WitxError(mod.loc, `duplicate module $${mod.name} (first defined at ${where(first.loc)})`);
      modules.push(mod);
    }
  }

  const checkRefs = (t: WitxType, ctx: string) =>
    forEachRef(t, ctx, (ref, refCtx) => {
      if (!types.has(ref.name)) throw new WitxError(ref.loc, `unknown type $${ref.name} in ${refCtx}`);
    });
  for (const def of types.values()) checkRefs(def.type, `typename $${def.name}`);
  for (const mod of modules) {
    for (const fn of mod.functions) {
      for (const p of fn.params) checkRefs(p.type, `param $${p.name} of ${mod.name}#${fn.name}`);
      for (const r of fn.results) checkRefs(r.type, `result $${r.name} of ${mod.name}#${fn.name}`);
    }
  }
  for (const def of types.values()) checkAcyclic(def, types);
  return { modules, types };
}

type Ref = Extract<WitxType, { kind: 'ref' }>;

function forEachRef(t: WitxType, ctx: string, visit: (ref: Ref, ctx: string) => void): void {
  switch (t.kind) {
    case 'ref':
      return visit(t, ctx);
    case 'record':
      return t.fields.forEach((f) => forEachRef(f.type, `field $${f.name} of ${ctx}`, visit));
    case 'tuple':
      return t.elements.forEach((e, i) => forEachRef(e, `element ${i} of ${ctx}`, visit));
    case 'list':
      return forEachRef(t.element, `list element of ${ctx}`, visit);
    case 'pointer':
    case 'constPointer':
      return forEachRef(t.target, `pointee of ${ctx}`, visit);
    case 'expected':
      if (t.ok) forEachRef(t.ok, `ok type of ${ctx}`, visit);
      return forEachRef(t.error, `error type of ${ctx}`, visit);
    default:
      return;
  }
}

function checkAcyclic(start: WitxTypeDef, types: Map<string, WitxTypeDef>): void {
  const walk = (def: WitxTypeDef, path: string[]): void =>
    forEachRef(def.type, '', (ref) => {
      if (ref.name === start.name) {
        const chain = [...path, ref.name].map((n) => `$${n}`).join(' -> ');
        throw new WitxError(start.loc, `typename $${start.name} is defined in terms of itself (${chain})`);
      }
      if (!path.includes(ref.name)) walk(types.get(ref.name)!, [...path, ref.name]);
    });
  walk(start, [start.name]);
}

function where(loc: WitxTypeDef['loc']): string {
  return `${loc.file}:${loc.line}:${loc.column}`;
}
