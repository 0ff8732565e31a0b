import { flatten, flattenFunction, layout } from '../wit/abi.js';
import { coreImportName, resourceDropName } from '../wit/mangle.js';
import { dealias, dealiasType, type WitFunction, type WitResolve, type WitType, type WitTypeDef } from '../wit/model.js';
import type { TypeLayout, WitFunctionView, WitView, WType } from './wit-view.js';

const COMPUTE = 'fastly:compute';
const VERSION = '0.1.0';

/** Each WType remembers the WIT type it came from, so layouts come from src/wit's canonical ABI. */
const ORIGIN = new WeakMap<object, WitType>();

/**
 * The generator's view of the component ABI. Mapping refs name an interface of
 * `fastly:compute@0.1.0` (or `adapter:<iface>` for `fastly:adapter`) and a function in it:
 * `http-req/send`, `http-req/request.get-uri` (method or static), `async-io/[resource-drop]pollable`.
 */
export function witViewFor(resolve: WitResolve): WitView {
  const cache = new Map<string, WitFunctionView>();
  return {
    func(ref) {
      let view = cache.get(ref);
      if (!view) {
        view = lookup(resolve, ref);
        cache.set(ref, view);
      }
      return view;
    },
    layout: (t) => toLayout(origin(t)),
    flatten: (t) => flatten(origin(t)),
  };
}

function interfaceId(iface: string): string {
  if (iface.startsWith('adapter:')) return `fastly:adapter/${iface.slice('adapter:'.length)}`;
  // witshim's own interfaces (wit/witshim.wit), which no Fastly host has.
  if (iface.startsWith('witshim:')) return `witshim:adapter/${iface.slice('witshim:'.length)}`;
  return `${COMPUTE}/${iface}@${VERSION}`;
}

function lookup(resolve: WitResolve, ref: string): WitFunctionView {
  const slash = ref.indexOf('/');
  const iface = resolve.interfaces.get(interfaceId(ref.slice(0, slash)));
  if (!iface) throw new Error(`${ref}: no interface ${interfaceId(ref.slice(0, slash))}`);
  const name = ref.slice(slash + 1);

  if (name.startsWith('[resource-drop]')) {
    const def = iface.types.get(name.slice('[resource-drop]'.length));
    if (!def) throw new Error(`${ref}: no resource`);
    const resource = dealias(def);
    const { module, name: importName } = resourceDropName(resource);
    const self: WitType = { kind: 'own', resource: def };
    return {
      ref,
      importModule: module,
      importName,
      params: [{ name: 'self', type: toWType(self) }],
      flatParams: ['i32'],
      paramsIndirect: false,
      flatResults: [],
      resultsIndirect: false,
    };
  }

  const dot = name.indexOf('.');
  const candidates = dot < 0 ? [name] : [`[method]${name}`, `[static]${name}`];
  if (dot >= 0 && name.endsWith('.new')) candidates.push(`[constructor]${name.slice(0, dot)}`);
  const fn = candidates.map((c) => iface.functions.get(c)).find((f): f is WitFunction => !!f);
  if (!fn) throw new Error(`${ref}: no function ${candidates.join(' or ')} in ${iface.id}`);
  const sig = flattenFunction(resolve, fn, 'lower');
  const { module, name: importName } = coreImportName(fn);
  const flatParams = fn.params.flatMap((p) => flatten(p.type));
  const flatResults = fn.result ? flatten(fn.result) : [];
  return {
    ref,
    importModule: module,
    importName,
    params: fn.params.map((p) => ({ name: p.name, type: toWType(p.type) })),
    result: fn.result ? toWType(fn.result) : undefined,
    flatParams,
    paramsIndirect: sig.paramsIndirect,
    flatResults,
    resultsIndirect: sig.resultsIndirect,
  };
}

function origin(t: WType): WitType {
  const known = ORIGIN.get(t);
  if (known) return known;
  // Types the generator builds itself (a call's param tuple) are made of converted parts.
  if (t.kind === 'tuple') return { kind: 'tuple', types: t.types.map(origin) };
  throw new Error(`no WIT type behind ${t.kind}`);
}

function toLayout(t: WitType): TypeLayout {
  const l = layout(t);
  switch (l.kind) {
    case 'record':
      return { size: l.size, align: l.align, offsets: l.fields.map((f) => f.offset) };
    case 'variant':
      return { size: l.size, align: l.align, payloadOffset: l.payloadOffset, discSize: l.discriminantSize };
    default:
      return { size: l.size, align: l.align };
  }
}

function resourceType(kind: 'own' | 'borrow', def: WitTypeDef): WType {
  const owner = def.owner;
  const pkg = owner.package.name;
  let iface = owner.kind === 'interface' ? owner.id : owner.name;
  if (owner.kind === 'interface' && pkg.namespace === 'fastly') iface = pkg.name === 'compute' ? owner.name : `${pkg.name}:${owner.name}`;
  return { kind, resource: def.name, iface };
}

export function toWType(t: WitType): WType {
  const w = convert(t);
  ORIGIN.set(w, t);
  return w;
}

function convert(t: WitType): WType {
  const d = dealiasType(t);
  switch (d.kind) {
    case 'list':
      return { kind: 'list', element: toWType(d.element) };
    case 'option':
      return { kind: 'option', inner: toWType(d.inner) };
    case 'result':
      return { kind: 'result', ok: d.ok && toWType(d.ok), err: d.err && toWType(d.err) };
    case 'tuple':
      return { kind: 'tuple', types: d.types.map(toWType) };
    case 'own':
    case 'borrow':
      return resourceType(d.kind, dealias(d.resource));
    case 'named': {
      const def = d.def;
      switch (def.kind) {
        case 'record':
          return { kind: 'record', name: def.name, fields: def.fields.map((f) => ({ name: f.name, type: toWType(f.type) })) };
        case 'variant':
          return { kind: 'variant', name: def.name, cases: def.cases.map((c) => ({ name: c.name, type: c.type && toWType(c.type) })) };
        case 'enum':
          return { kind: 'enum', name: def.name, cases: def.cases.map((c) => c.name) };
        case 'flags':
          return { kind: 'flags', name: def.name, flags: def.flags.map((f) => f.name) };
        case 'resource':
          return resourceType('own', def);
        case 'alias':
          return convert(def.target);
      }
      break;
    }
    default:
      return { kind: d.kind };
  }
  throw new Error(`unexpected WIT type`);
}
