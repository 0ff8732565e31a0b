import { WitxError } from './errors.js';
import { describeNode, readSexprs, type SList, type SNode } from './sexpr.js';
import type {
  WitxBuiltin,
  WitxDocument,
  WitxField,
  WitxFunction,
  WitxInt,
  WitxModule,
  WitxParam,
  WitxType,
  WitxTypeDef,
} from './types.js';

const ATOM_BUILTINS = new Set<WitxBuiltin>(['u8', 'u16', 'u32', 'u64', 's8', 's16', 's32', 's64', 'f32', 'f64', 'char']);
const REPR_BITS: Partial<Record<WitxInt, number>> = { u8: 8, u16: 16, u32: 32, u64: 64 };
const ID = /^\$[A-Za-z0-9_.-]+$/;

/**
 * Parses one WITX file. Type references are left unchecked: in WITX all files loaded together
 * share one namespace, so only `linkWitx` can tell whether a name exists.
 */
export function parseWitx(text: string, file: string): WitxDocument {
  const doc: WitxDocument = { file, uses: [], types: [], modules: [] };
  for (const node of readSexprs(text, file)) {
    const list = asList(node, 'at top level');
    switch (headOf(list)) {
      case 'use':
        doc.uses.push(parseUse(list));
        break;
      case 'typename':
        doc.types.push(parseTypename(list));
        break;
      case 'module':
        doc.modules.push(parseModule(list));
        break;
      default:
        throw new WitxError(
          list.loc,
          `expected (use ...), (typename ...) or (module ...) at top level, found ${describeNode(list)}`,
        );
    }
  }
  return doc;
}

function parseUse(list: SList): WitxDocument['uses'][number] {
  const [, target, ...extra] = list.items;
  if (target?.kind !== 'string' || extra.length > 0) {
    throw new WitxError(list.loc, 'expected (use "file.witx")');
  }
  return { path: target.value, loc: target.loc };
}

function parseTypename(list: SList): WitxTypeDef {
  const [, id, body, ...extra] = list.items;
  const name = parseId(id, list, 'typename');
  const ctx = `typename $${name}`;
  if (!body) throw new WitxError(list.loc, `missing type in ${ctx}`);
  if (extra.length > 0) throw new WitxError(extra[0].loc, `unexpected ${describeNode(extra[0])} after the type in ${ctx}`);
  return { name, type: parseType(body, ctx), doc: list.doc, loc: list.loc };
}

function parseModule(list: SList): WitxModule {
  const name = parseId(list.items[1], list, 'module');
  const functions: WitxFunction[] = [];
  for (const item of list.items.slice(2)) {
    const fn = parseFunction(asList(item, `in module $${name}`), name);
    if (functions.some((f) => f.name === fn.name)) {
      throw new WitxError(fn.loc, `duplicate function "${fn.name}" in module $${name}`);
    }
    functions.push(fn);
  }
  return { name, functions, doc: list.doc, loc: list.loc };
}

function parseFunction(list: SList, module: string): WitxFunction {
  const [annotation, func, exportName, ...rest] = list.items;
  if (!isAtom(annotation, '@interface') || !isAtom(func, 'func')) {
    throw new WitxError(list.loc, `expected (@interface func ...) in module $${module}, found ${describeNode(list)}`);
  }
  const exp = exportName?.kind === 'list' ? exportName.items : [];
  if (!isAtom(exp[0], 'export') || exp[1]?.kind !== 'string' || exp.length !== 2) {
    throw new WitxError(exportName?.loc ?? list.loc, `expected (export "name") in a function of module $${module}`);
  }
  const fn: WitxFunction = { module, name: exp[1].value, params: [], results: [], doc: list.doc, loc: list.loc };
  const where = `${module}#${fn.name}`;
  for (const item of rest) {
    const entry = asList(item, `in ${where}`);
    const kind = headOf(entry);
    if (kind !== 'param' && kind !== 'result') {
      throw new WitxError(entry.loc, `expected (param ...) or (result ...) in ${where}, found ${describeNode(entry)}`);
    }
    if (kind === 'param' && fn.results.length > 0) {
      throw new WitxError(entry.loc, `param after result in ${where}`);
    }
    const param = parseParam(entry, kind, where);
    if ([...fn.params, ...fn.results].some((p) => p.name === param.name)) {
      throw new WitxError(entry.loc, `duplicate ${kind} $${param.name} in ${where}`);
    }
    (kind === 'param' ? fn.params : fn.results).push(param);
  }
  return fn;
}

function parseParam(list: SList, kind: string, where: string): WitxParam {
  const [, id, body, ...extra] = list.items;
  const name = parseId(id, list, kind);
  const ctx = `${kind} $${name} of ${where}`;
  if (!body) throw new WitxError(list.loc, `missing type in ${ctx}`);
  if (extra.length > 0) throw new WitxError(extra[0].loc, `unexpected ${describeNode(extra[0])} after the type in ${ctx}`);
  return { name, type: parseType(body, ctx) };
}

function parseType(node: SNode, ctx: string): WitxType {
  if (node.kind === 'atom') {
    if (ID.test(node.text)) return { kind: 'ref', name: node.text.slice(1), loc: node.loc };
    if (node.text === 'string') return { kind: 'string' };
    if (ATOM_BUILTINS.has(node.text as WitxBuiltin)) return { kind: 'builtin', name: node.text as WitxBuiltin };
    throw new WitxError(node.loc, `unknown type '${node.text}' in ${ctx}`);
  }
  if (node.kind === 'string') throw new WitxError(node.loc, `expected a type in ${ctx}, found a string`);
  const args = node.items.slice(1);
  switch (headOf(node)) {
    case '@witx':
      return parseWitxAnnotation(node, ctx);
    case 'handle':
      expectArgCount(node, 0, ctx);
      return { kind: 'handle' };
    case 'enum': {
      const { repr, names } = parseNamedMembers(node, 'tag', ctx);
      return { kind: 'enum', tag: repr, cases: names };
    }
    case 'flags': {
      const { repr, names } = parseNamedMembers(node, 'repr', ctx);
      if (names.length > REPR_BITS[repr]!) {
        throw new WitxError(node.loc, `${names.length} flags do not fit in ${repr} in ${ctx}`);
      }
      return { kind: 'flags', repr, members: names };
    }
    case 'record':
      return { kind: 'record', fields: parseFields(args, ctx) };
    case 'tuple':
      return { kind: 'tuple', elements: args.map((a, i) => parseType(a, `element ${i} of ${ctx}`)) };
    case 'list':
      expectArgCount(node, 1, ctx);
      return { kind: 'list', element: parseType(args[0], `list element of ${ctx}`) };
    case 'expected':
      return parseExpected(node, ctx);
    default:
      throw new WitxError(node.loc, `unsupported type ${describeNode(node)} in ${ctx}`);
  }
}

function parseWitxAnnotation(list: SList, ctx: string): WitxType {
  const [, what, target, ...extra] = list.items;
  const name = what?.kind === 'atom' ? what.text : '';
  if ((name === 'char8' || name === 'usize') && !target) return { kind: 'builtin', name };
  if ((name === 'pointer' || name === 'const_pointer') && target && extra.length === 0) {
    const inner = parseType(target, `pointee of ${ctx}`);
    return name === 'pointer' ? { kind: 'pointer', target: inner } : { kind: 'constPointer', target: inner };
  }
  throw new WitxError(list.loc, `unsupported annotation ${describeNode(list)} (${name || '?'}) in ${ctx}`);
}

function parseNamedMembers(list: SList, annotation: 'tag' | 'repr', ctx: string): { repr: WitxInt; names: string[] } {
  let rest = list.items.slice(1);
  let repr: WitxInt = 'u32';
  const first = rest[0];
  if (first?.kind === 'list' && isAtom(first.items[0], '@witx')) {
    const [, key, value, ...extra] = first.items;
    if (!isAtom(key, annotation) || value?.kind !== 'atom' || !(value.text in REPR_BITS) || extra.length > 0) {
      throw new WitxError(first.loc, `expected (@witx ${annotation} u8|u16|u32|u64) in ${ctx}`);
    }
    repr = value.text as WitxInt;
    rest = rest.slice(1);
  }
  const names: string[] = [];
  for (const item of rest) {
    const name = parseId(item, list, `member of ${ctx}`);
    if (names.includes(name)) throw new WitxError(item.loc, `duplicate $${name} in ${ctx}`);
    names.push(name);
  }
  return { repr, names };
}

function parseFields(items: SNode[], ctx: string): WitxField[] {
  const fields: WitxField[] = [];
  for (const item of items) {
    const list = asList(item, `in ${ctx}`);
    const [head, id, body, ...extra] = list.items;
    if (!isAtom(head, 'field')) {
      throw new WitxError(list.loc, `expected (field $name type) in ${ctx}, found ${describeNode(list)}`);
    }
    const name = parseId(id, list, `field of ${ctx}`);
    const fieldCtx = `field $${name} of ${ctx}`;
    if (!body || extra.length > 0) throw new WitxError(list.loc, `expected exactly one type in ${fieldCtx}`);
    if (fields.some((f) => f.name === name)) throw new WitxError(list.loc, `duplicate ${fieldCtx}`);
    fields.push({ name, type: parseType(body, fieldCtx) });
  }
  return fields;
}

function parseExpected(list: SList, ctx: string): WitxType {
  const args = list.items.slice(1);
  const last = args[args.length - 1];
  if (last?.kind !== 'list' || !isAtom(last.items[0], 'error') || last.items.length !== 2 || args.length > 2) {
    throw new WitxError(list.loc, `expected (expected [ok-type] (error type)) in ${ctx}`);
  }
  const error = parseType(last.items[1], `error type of ${ctx}`);
  if (args.length === 1) return { kind: 'expected', error };
  return { kind: 'expected', ok: parseType(args[0], `ok type of ${ctx}`), error };
}

function parseId(node: SNode | undefined, parent: SList, what: string): string {
  if (node?.kind === 'atom' && ID.test(node.text)) return node.text.slice(1);
  const found = node ? describeNode(node) : 'nothing';
  throw new WitxError(node?.loc ?? parent.loc, `expected a $name for ${what}, found ${found}`);
}

function asList(node: SNode, where: string): SList {
  if (node.kind !== 'list') throw new WitxError(node.loc, `unexpected ${describeNode(node)} ${where}`);
  return node;
}

function headOf(list: SList): string | undefined {
  const head = list.items[0];
  return head?.kind === 'atom' ? head.text : undefined;
}

function isAtom(node: SNode | undefined, text: string): boolean {
  return node?.kind === 'atom' && node.text === text;
}

function expectArgCount(list: SList, count: number, ctx: string): void {
  if (list.items.length - 1 !== count) {
    throw new WitxError(list.loc, `${describeNode(list)} takes ${count} argument(s) in ${ctx}`);
  }
}
