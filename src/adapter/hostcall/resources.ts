import { resolveType, witxLayout, type WitxType } from '../../witx/index.js';
import { HandleKind, INVALID_BIT } from '../handle-tags.js';
import { MappingError, type Builder } from '../mapping.js';
import { errorStatusFn, okOf } from '../names.js';
import { coreId, handleKind, type Input } from '../shape.js';
import { Status } from '../status.js';
import type { Val } from '../values.js';
import { load } from '../wat.js';
import type { WHandle, WitView, WType } from '../wit-view.js';
import type { HostcallContext } from './context.js';
import { emitCall } from './index.js';
import { rejectUnknownFlags, valFor } from './inputs.js';

/**
 * Handles and resources: guest handle checks, resources built by setters or opened by name for
 * one call (dropped on every way out until a call takes them as `own`), and select.
 */

const READY_CALL = 'async-io/pollable.is-ready';
const SELECT_CALL = 'async-io/select';

/** Not ready: `done` = 0 and success with the `initially` values; ready: `done` = 1. */
export function emitReadyCheck(g: HostcallContext, ready: { handle: string; done: string }): void {
  const input = g.input(ready.handle);
  if (input.kind !== 'value') throw new MappingError(`${ready.handle} is not a handle`);
  const pollable = g.imports.view(READY_CALL).params[0]?.type;
  if (pollable?.kind !== 'borrow') throw new MappingError(`${READY_CALL} does not borrow a resource`);
  const handle = guestHandle(g, input, pollable).expr;
  g.b.emit(
    `(if (i32.eqz (call ${g.imports.id(READY_CALL)} ${handle})) (then ${g.writeTo(ready.done, '(i32.const 0)')} ${g.returnStatus('ok')}))`,
    g.writeTo(ready.done, '(i32.const 1)'),
  );
}

/**
 * A resource from a constructor and setters. It is dropped on every way out until a call
 * takes it as `own`.
 */
export function buildVal(g: HostcallContext, t: WType, build: Builder, what: string): Val {
  if (t.kind !== 'own' && t.kind !== 'borrow') throw new MappingError(`${what}: 'build' source for a ${t.kind}`);
  const outer = g.struct;
  const base = g.b.local('i32', 'struct');
  let structType: WitxType;
  if (typeof build.struct === 'string') {
    const input = g.input(build.struct);
    if (input.kind !== 'struct') throw new MappingError(`${what}: ${build.struct} is not a struct param`);
    g.b.emit(`(local.set ${base} (local.get ${coreId(input.param)}))`);
    structType = input.type;
  } else {
    const field = structFieldOf(g, build.struct.field);
    const target = resolveType(g.abi, field.type);
    if (target.kind !== 'pointer' && target.kind !== 'constPointer') throw new MappingError(`${what}: ${build.struct.field} is not a pointer`);
    g.b.emit(`(local.set ${base} ${load('i32', 4, outer!.base, field.offset)})`);
    structType = target.target;
  }
  g.struct = { base: `(local.get ${base})`, type: structType };
  // The setters' text fields are checked before the constructor, so bad text costs no host call.
  for (const setter of build.set) {
    const params = g.imports.view(setter.call).params.slice(1);
    const cond = setter.flag && build.mask ? g.maskBit(build.mask, setter.flag) : undefined;
    (setter.args ?? []).forEach((src, i) => {
      const p = params[i];
      if (!p || typeof src !== 'object' || !('field' in src) || p.type.kind !== 'string') return;
      for (const bad of textChecks(p.type, valFor(g, p.type, src, `${setter.call} ${p.name}`), setter.call)) {
        g.checkText(cond ? `(if (result i32) ${cond} (then ${bad}) (else (i32.const 0)))` : bad);
        g.markChecked(bad);
      }
    });
  }
  const handle = g.b.local('i32', 'built');
  emitCall(g, { call: build.ctor, args: build.args }, undefined, false, handle);
  const ctor = g.imports.view(build.ctor);
  const resource = okOf(ctor.result);
  if (resource?.kind !== 'own') throw new MappingError(`${build.ctor} does not make a resource`);
  g.drops.push({ id: g.imports.dropId(resource), local: handle });
  const used = new Set<string>();
  for (const setter of build.set) {
    const cond = setter.flag && build.mask ? g.maskBit(build.mask, setter.flag) : undefined;
    if (setter.flag) used.add(setter.flag);
    if (cond) g.b.emit(`(if ${cond} (then`);
    emitCall(g, setter, `(local.get ${handle})`);
    if (cond) g.b.emit('))');
  }
  if (build.mask) rejectUnknownFlags(g, build.mask, used);
  g.struct = outer;
  return { k: 'leaf', expr: `(local.get ${handle})`, core: 'i32', resource: handle };
}

export function structFieldOf(g: HostcallContext, name: string) {
  if (!g.struct) throw new MappingError(`'field' ${name} outside a builder`);
  const field = witxLayout(g.abi, g.struct.type).fields?.find((f) => f.name === name);
  if (!field) throw new MappingError(`the builder's struct has no field ${name}`);
  return field;
}

/**
 * Waits with `async-io/select` on a WITX handle list (borrowed as it is: none is tagged) and
 * returns the chosen handle, its index written to `index`, as a value of `t` (the type the
 * mapping passes it as). Empty lists are `inval`; invalid, wrong-kind or dead handles `badf`,
 * checked before the host sees any.
 */
export function selectFrom(g: HostcallContext, t: WType, listName: string, index: string): Val {
  const list = g.input(listName);
  if (list.kind !== 'list') throw new MappingError(`${listName} is not a list`);
  const element = resolveType(g.abi, list.type);
  if (element.kind !== 'list') throw new MappingError(`${listName} is not a handle list`);
  const selected = g.imports.view(SELECT_CALL).params[0]?.type;
  if (selected?.kind !== 'list' || selected.element.kind !== 'borrow') throw new MappingError(`${SELECT_CALL} does not take a handle list`);
  if (t.kind !== 'own' && t.kind !== 'borrow') throw new MappingError(`'select' source for a ${t.kind}`);
  const live = g.imports.liveId(t);
  // One check covers both uses only when select's element and the param are one resource type.
  if (g.imports.liveId(selected.element) !== live) throw new MappingError(`'select' source for a ${t.resource}, not a ${selected.element.resource}`);
  const kind = handleKind(g.abi, element.element);
  const [ptr, len] = [`(local.get ${coreId(list.ptr)})`, `(local.get ${coreId(list.len)})`];
  const i = g.b.local('i32', 'i');
  const chosen = g.b.local('i32', 'chosen');
  g.b.emit(
    `(if (i32.eqz ${len}) (then ${g.returnStatus('inval')}))`,
    `(local.set ${i} (i32.const 0))`,
    `(block $checked (loop $check`,
    `  (br_if $checked (i32.ge_u (local.get ${i}) ${len}))`,
    `  (if (call $bad_handle (i32.load (i32.add ${ptr} (i32.shl (local.get ${i}) (i32.const 2)))) (i32.const ${kind}) (i32.const ${live})) (then ${g.returnStatus('badf')}))`,
    `  (local.set ${i} (i32.add (local.get ${i}) (i32.const 1)))`,
    `  (br $check)))`,
    `(local.set ${i} (call ${g.imports.id(SELECT_CALL)} ${ptr} ${len}))`,
    g.writeTo(index, `(local.get ${i})`),
    `(local.set ${chosen} (i32.load (i32.add ${ptr} (i32.shl (local.get ${i}) (i32.const 2)))))`,
  );
  const expr = kind === HandleKind.Other ? `(local.get ${chosen})` : `(call $strip (local.get ${chosen}))`;
  return { k: 'leaf', expr, core: 'i32', guest: live };
}

export function openByName(g: HostcallContext, ref: string, nameParam: string): string {
  const input = g.input(nameParam);
  if (input.kind !== 'list') throw new MappingError(`${nameParam} is not a string`);
  const open = g.imports.view(ref);
  const result = open.result;
  if (result?.kind !== 'result' || !result.err || result.ok?.kind !== 'own') throw new MappingError(`${ref} does not open a resource`);
  const name = open.params[0]?.type;
  if (name?.kind === 'string') g.checkText(`(call $bad_utf8 (local.get ${coreId(input.ptr)}) (local.get ${coreId(input.len)}))`);
  const ret = g.b.local('i32', 'opened');
  const failed = g.b.local('i32', 'open_status');
  const lay = g.wit.layout(result);
  // Legacy hosts answer an unknown backend name with `inval`; `none` (what `not-found` means
  // for stores) is not an answer these calls ever gave.
  g.b.emit(
    `(local.set ${ret} (call $alloc (i32.const ${lay.size}) (i32.const ${lay.align})))`,
    `(call ${g.imports.id(ref)} (local.get ${coreId(input.ptr)}) (local.get ${coreId(input.len)}) (local.get ${ret}))`,
    `(if (i32.load8_u (local.get ${ret})) (then ${unopenedDetail(g)}(local.set ${failed} (call ${errorStatusFn(result.err)} (i32.add (local.get ${ret}) (i32.const ${lay.payloadOffset})) (i32.const 0))) ${g.ret(`(select (i32.const ${Status.inval}) (local.get ${failed}) (i32.eq (local.get ${failed}) (i32.const ${Status.none})))`)}))`,
  );
  const handle = g.b.local('i32', 'res');
  g.b.emit(`(local.set ${handle} ${load('i32', 4, `(local.get ${ret})`, lay.payloadOffset!)})`);
  g.drops.push({ id: g.imports.dropId(result.ok), local: handle });
  return `(local.get ${handle})`;
}

/** A backend that does not open is, to a send's error detail, a destination not found. */
function unopenedDetail(g: HostcallContext): string {
  const { detail } = g.top;
  return detail ? `${g.writeTo(`${detail}.tag`, `(i32.const ${g.witxCase(`${detail}.tag`, 'destination_not_found')})`)} ` : '';
}

/**
 * A guest handle param of WIT type `t`, checked before anything else: a handle of another tag
 * kind, an invalid marker or a handle not live as a `t` is `badf`. With `invalidIsNone`, an
 * invalid marker passes (the caller reads it as `none`) and only other handles are checked.
 */
export function guestHandle(
  g: HostcallContext,
  input: Extract<Input, { kind: 'value' }>,
  t: WHandle,
  invalidIsNone = false,
): Extract<Val, { k: 'leaf' }> {
  const kind = handleKind(g.abi, input.type);
  const live = g.imports.liveId(t);
  const h = `(local.get ${coreId(input.param)})`;
  const bad = `(call $bad_handle ${h} (i32.const ${kind}) (i32.const ${live}))`;
  g.guard(
    `${h} ${live}`,
    invalidIsNone ? `(i32.and (i32.eqz (i32.and ${h} (i32.const ${INVALID_BIT | 0}))) ${bad})` : bad,
    'badf',
  );
  return { k: 'leaf', expr: kind === HandleKind.Other ? h : `(call $strip ${h})`, core: 'i32', guest: live };
}

/**
 * A guest handle in a WITX struct field at `addr`, present when `present` holds; checked with
 * the hostcall's first checks, or where it is read when `addr` needs a local set on the way
 * (a builder's struct, read between setter calls: the check then drops what was built).
 */
export function guestHandleField(
  g: HostcallContext,
  key: string,
  addr: string,
  witxType: WitxType,
  t: WHandle,
  where: { present: string } | 'here',
): Extract<Val, { k: 'leaf' }> {
  const kind = handleKind(g.abi, witxType);
  const live = g.imports.liveId(t);
  const bad = `(call $bad_handle ${addr} (i32.const ${kind}) (i32.const ${live}))`;
  if (where === 'here') g.b.emit(`(if ${bad} (then ${g.returnStatus('badf')}))`);
  else g.guard(key, `(if (result i32) ${where.present} (then ${bad}) (else (i32.const 0)))`, 'badf');
  return { k: 'leaf', expr: kind === HandleKind.Other ? addr : `(call $strip ${addr})`, core: 'i32', guest: live };
}

/**
 * The `$bad_utf8` checks for every WIT `string` inside `v` (options and variants only when
 * present), so that text that is not UTF-8 never reaches the host (see utf8.ts).
 */
export function textChecks(t: WType, v: Val, what: string): string[] {
  switch (v.k) {
    case 'list':
      if (t.kind === 'string') return [`(call $bad_utf8 ${v.ptr} ${v.len})`];
      if (t.kind === 'list' && containsString(t.element)) throw new MappingError(`${what}: a list of strings from the guest is not checked`);
      return [];
    case 'fields': {
      const types = t.kind === 'record' ? t.fields.map((f) => f.type) : t.kind === 'tuple' ? t.types : [];
      return types.flatMap((ft, i) => textChecks(ft, v.vals[i], what));
    }
    case 'option':
      if (t.kind !== 'option' || !v.some) return [];
      return textChecks(t.inner, v.some, what).map((bad) => `(if (result i32) ${v.disc} (then ${bad}) (else (i32.const 0)))`);
    case 'variant':
      if (t.kind !== 'variant') return [];
      return t.cases.flatMap((c, i) => {
        const val = v.cases[i];
        return c.type && val ? textChecks(c.type, val, what).map((bad) => `(if (result i32) (i32.eq ${v.disc} (i32.const ${i})) (then ${bad}) (else (i32.const 0)))`) : [];
      });
    default:
      return [];
  }
}

function containsString(t: WType): boolean {
  switch (t.kind) {
    case 'string':
      return true;
    case 'list':
      return containsString(t.element);
    case 'option':
      return containsString(t.inner);
    case 'tuple':
      return t.types.some(containsString);
    case 'record':
      return t.fields.some((f) => containsString(f.type));
    case 'variant':
      return t.cases.some((c) => !!c.type && containsString(c.type));
    default:
      return false;
  }
}

/** Clears the live bits of the guest handles in `v` that a call takes as `own` (moved to the host). */
export function consumedGuestHandles(wit: WitView, t: WType, v: Val): string[] {
  switch (v.k) {
    case 'leaf':
      return t.kind === 'own' && v.guest !== undefined ? [`(call $clear_live ${v.expr} (i32.const ${v.guest}))`] : [];
    case 'fields': {
      const types = t.kind === 'record' ? t.fields.map((f) => f.type) : t.kind === 'tuple' ? t.types : [];
      return types.flatMap((ft, i) => consumedGuestHandles(wit, ft, v.vals[i]));
    }
    case 'option': {
      if (t.kind !== 'option' || !v.some) return [];
      const inner = consumedGuestHandles(wit, t.inner, v.some);
      return inner.length ? [`(if ${v.disc} (then ${inner.join(' ')}))`] : [];
    }
    case 'variant': {
      if (t.kind !== 'variant') return [];
      return t.cases.flatMap((c, i) => {
        const val = v.cases[i];
        const inner = c.type && val ? consumedGuestHandles(wit, c.type, val) : [];
        return inner.length ? [`(if (i32.eq ${v.disc} (i32.const ${i})) (then ${inner.join(' ')}))`] : [];
      });
    }
    default:
      return [];
  }
}
