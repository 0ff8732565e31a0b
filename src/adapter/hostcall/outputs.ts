import { resolveType, witxLayout, type WitxType } from '../../witx/index.js';
import { HandleKind } from '../handle-tags.js';
import { MappingError, type Out } from '../mapping.js';
import { caseName, kebab } from '../names.js';
import { coreId, handleKind } from '../shape.js';
import type { StatusName } from '../status.js';
import { convert, load, store, type CoreType } from '../wat.js';
import type { WitFunctionView, WType } from '../wit-view.js';
import type { HostcallContext } from './context.js';
import { emitCall } from './index.js';

/**
 * WIT results to WITX outs: the ok value's leaves go to out-pointers and guest buffers by type
 * or as the mapping's `out` directives say.
 */

/** An output directive: the DSL's, or `keep` (a result the generator itself holds on to). */
export type Directive = Out | { keep: string };

/** Where a list output lands: a guest buffer, or an out-pointer with a fixed capacity. */
export function dest(g: HostcallContext, d: { buf: string; cap?: number }): { ptr: string; cap: string } {
  if (d.cap !== undefined) return { ptr: `(local.get ${coreId(g.outSlot(d.buf).param)})`, cap: `(i32.const ${d.cap})` };
  const dot = d.buf.indexOf('.');
  if (dot >= 0) {
    // A buffer named by a struct param: its `<name>_ptr` and `<name>_len` fields.
    const [param, name] = [d.buf.slice(0, dot), d.buf.slice(dot + 1)];
    const ptr = g.structField(param, `${name}_ptr`);
    const len = g.structField(param, `${name}_len`);
    return { ptr: load('i32', 4, ptr.base, ptr.offset), cap: load('i32', 4, len.base, len.offset) };
  }
  const found = g.shape.buffers.find((b) => b.name === d.buf);
  if (!found) throw new MappingError(`no output buffer named ${d.buf}`);
  return { ptr: `(local.get ${coreId(found.ptr)})`, cap: `(local.get ${coreId(found.cap)})` };
}

/**
 * Binds the ok value's leaves to outputs by type: each list goes into the next guest buffer
 * (its length to `nwritten_out`, or else to the next out-pointer), an `option<u32>` aimed at a
 * cursor-result out becomes the ending cursor, other options return `none` when empty, and
 * every other leaf takes the next out-pointer.
 */
export function planOuts(g: HostcallContext, fn: WitFunctionView, explicit: Out[] | undefined): Out[] {
  if (explicit) return explicit;
  const result = fn.result?.kind === 'result' ? fn.result.ok : fn.result;
  if (!result) return [];
  const buffers = [...g.shape.buffers];
  const nwrittenNames = g.shape.outs.filter((o) => o.name.includes('nwritten')).map((o) => o.name);
  const free = g.shape.outs.filter((o) => !o.name.includes('nwritten')).map((o) => o.name);
  const plan: Out[] = [];
  const visit = (t: WType): void => {
    switch (t.kind) {
      case 'string':
      case 'list': {
        const buf = buffers.shift();
        if (!buf) throw new MappingError(`${fn.ref} returns a list but the hostcall has no buffer for it`);
        const nwritten = nwrittenNames.shift() ?? free.shift();
        if (!nwritten) throw new MappingError(`${fn.ref}: nowhere to write the list length`);
        plan.push({ buf: buf.name, nwritten });
        return;
      }
      case 'option': {
        const next = free[0];
        if (next && (t.inner.kind === 'u32' || t.inner.kind === 'u64') && isCursorOut(g, next)) {
          plan.push({ cursor: free.shift()! });
          return;
        }
        plan.push({ noneStatus: 'none' });
        visit(t.inner);
        return;
      }
      case 'tuple':
        t.types.forEach(visit);
        return;
      case 'record':
        t.fields.forEach((f) => visit(f.type));
        return;
      case 'variant':
        throw new MappingError(`${fn.ref} returns variant ${t.name}: map its output explicitly`);
      default: {
        const out = free.shift();
        if (!out) throw new MappingError(`${fn.ref}: no out-pointer left for a ${t.kind}`);
        plan.push(out);
      }
    }
  };
  visit(result);
  return plan;
}

function isCursorOut(g: HostcallContext, name: string): boolean {
  const slot = g.shape.outs.find((o) => o.name === name);
  return !!slot && slot.type.kind === 'ref' && slot.type.name === 'multi_value_cursor_result';
}

export function writeOut(g: HostcallContext, t: WType, ret: string, offset: number, outs: Directive[], what: string): void {
  const lay = g.wit.layout(t);
  const addr = `(local.get ${ret})`;
  switch (t.kind) {
    case 'tuple':
      t.types.forEach((ft, i) => writeOut(g, ft, ret, offset + lay.offsets![i], outs, what));
      return;
    case 'record':
      t.fields.forEach((f, i) => writeOut(g, f.type, ret, offset + lay.offsets![i], outs, what));
      return;
    case 'option': {
      const directive = outs.shift();
      if (directive && typeof directive === 'object' && 'cursor' in directive) {
        const slot = g.outSlot(directive.cursor);
        // `$multi_value_cursor_result` is an s64: all 8 bytes, or a caller that reads it as
        // one sees 0xFFFFFFFF, not -1, and asks for more forever.
        g.b.emit(
          store('i64', 8, `(local.get ${coreId(slot.param)})`, 0,
            `(if (result i64) ${load('i32', 1, addr, offset)} (then (i64.extend_i32_u ${load('i32', 4, addr, offset + lay.payloadOffset!)})) (else (i64.const -1)))`),
        );
        return;
      }
      if (directive && typeof directive === 'object' && 'noneCase' in directive) {
        if (!g.top.errorOut) throw new MappingError(`${what}: noneCase needs an errorOut`);
        const write = g.writeTo(g.top.errorOut, `(i32.const ${g.witxCase(g.top.errorOut, directive.noneCase)})`);
        g.b.emit(`(if (i32.eqz ${load('i32', 1, addr, offset)}) (then ${write} ${g.returnStatus('ok')}))`);
        writeOut(g, t.inner, ret, offset + lay.payloadOffset!, outs, what);
        return;
      }
      if (directive && typeof directive === 'object' && 'noneValue' in directive) {
        // An absent list has length `noneValue`; any other absent value is `noneValue`.
        const next = outs[0];
        const target = typeof next === 'object' && 'buf' in next ? next.nwritten : next;
        if (typeof target !== 'string') throw new MappingError(`${what}: noneValue needs an out-pointer next, got ${JSON.stringify(next)}`);
        g.b.emit(`(if (i32.eqz ${load('i32', 1, addr, offset)}) (then ${g.writeTo(target, `(i32.const ${directive.noneValue})`)}))`);
        // The payload is written only when present; emitted lines nest inside the `if`.
        g.b.emit(`(if ${load('i32', 1, addr, offset)} (then`);
        writeOut(g, t.inner, ret, offset + lay.payloadOffset!, outs, what);
        g.b.emit('))');
        return;
      }
      const status: StatusName = directive && typeof directive === 'object' && 'noneStatus' in directive ? directive.noneStatus : 'none';
      if (directive && !(typeof directive === 'object' && 'noneStatus' in directive)) outs.unshift(directive);
      g.b.emit(`(if (i32.eqz ${load('i32', 1, addr, offset)}) (then ${g.returnStatus(status)}))`);
      writeOut(g, t.inner, ret, offset + lay.payloadOffset!, outs, what);
      return;
    }
    case 'string':
    case 'list': {
      const directive = outs.shift();
      if (!directive || typeof directive !== 'object' || !('buf' in directive)) {
        throw new MappingError(`${what}: a list needs a buffer output, got ${JSON.stringify(directive)}`);
      }
      const { ptr: dst, cap } = dest(g, directive);
      const nw = g.lengthOut(directive.nwritten);
      const ptr = g.b.local('i32', 'lp');
      const len = g.b.local('i32', 'll');
      g.b.emit(
        `(local.set ${ptr} ${load('i32', 4, addr, offset)})`,
        `(local.set ${len} ${load('i32', 4, addr, offset + 4)})`,
        store('i32', 4, nw, 0, `(local.get ${len})`),
        `(if (i32.gt_u (local.get ${len}) ${cap}) (then ${g.returnStatus('buflen')}))`,
        `(if (i32.ne (local.get ${ptr}) ${dst}) (then (memory.copy ${dst} (local.get ${ptr}) (local.get ${len}))))`,
      );
      return;
    }
    case 'variant': {
      const directive = outs.shift();
      if (directive && typeof directive === 'object' && 'caseIndex' in directive) {
        writeCaseIndex(g, t, ret, offset, directive.caseIndex, directive.method, what);
        return;
      }
      if (t.name !== 'ip-address' || !directive || typeof directive !== 'object' || !('ipInto' in directive)) {
        throw new MappingError(`${what}: variant ${t.name} output needs a custom mapping`);
      }
      const dst = `(local.get ${coreId(g.outSlot(directive.ipInto).param)})`;
      const nw = `(local.get ${coreId(g.outSlot(directive.nwritten).param)})`;
      const payload = offset + lay.payloadOffset!;
      const v4 = [0, 1, 2, 3].map((i) => store('i32', 1, dst, i, load('i32', 1, addr, payload + i)));
      const v6 = [0, 1, 2, 3, 4, 5, 6, 7].flatMap((i) => [
        store('i32', 1, dst, 2 * i, `(i32.shr_u ${load('i32', 2, addr, payload + 2 * i)} (i32.const 8))`),
        store('i32', 1, dst, 2 * i + 1, load('i32', 2, addr, payload + 2 * i)),
      ]);
      g.b.emit(
        `(if ${load('i32', 1, addr, offset)}`,
        `  (then ${v6.join(' ')} ${store('i32', 4, nw, 0, '(i32.const 16)')})`,
        `  (else ${v4.join(' ')} ${store('i32', 4, nw, 0, '(i32.const 4)')}))`,
      );
      return;
    }
    default: {
      const directive = outs.shift();
      if (directive && typeof directive === 'object' && 'skip' in directive) return;
      if (directive && typeof directive === 'object' && !('out' in directive)) {
        writeSpecial(g, t, load('i32', lay.size, addr, offset), directive, what);
        return;
      }
      if (directive && typeof directive === 'object') {
        const v = g.b.local('i32', 'v');
        g.b.emit(`(local.set ${v} ${convert(load(g.wit.flatten(t)[0], lay.size, addr, offset), g.wit.flatten(t)[0], 'i32')})`);
        const index = directive.table.reduceRight(
          (acc, value, i) => `(if (result i32) (i32.eq (local.get ${v}) (i32.const ${value})) (then (i32.const ${i})) (else ${acc}))`,
          `(block (result i32) ${g.returnStatus('unsupported')})`,
        );
        g.b.emit(g.writeTo(directive.out, index));
        return;
      }
      if (typeof directive !== 'string') throw new MappingError(`${what}: a ${t.kind} needs an out-pointer, got ${JSON.stringify(directive)}`);
      const slot = g.outSlot(directive);
      const witCore = g.wit.flatten(t)[0];
      let value = load(witCore, lay.size, addr, offset);
      const outLayout = witxLayout(g.abi, slot.type);
      const outCore: CoreType = outLayout.size === 8 ? 'i64' : 'i32';
      if (t.kind === 'own' || t.kind === 'borrow') {
        // The guest now holds this handle: it is live until a call takes it as `own`.
        g.b.emit(`(call $set_live ${value} (i32.const ${g.imports.liveId(t)}))`);
        const kind = handleKind(g.abi, slot.type);
        if (kind !== HandleKind.Other) value = `(call $tag ${value} (i32.const ${kind}))`;
      }
      value = remapOutEnum(g, t, slot.type, value, what);
      g.b.emit(store(outCore, outLayout.size, `(local.get ${coreId(slot.param)})`, 0, convert(value, witCore, outCore)));
    }
  }
}

/** Resource and bool leaves that are not simply stored: kept, dropped, used, or a false case. */
function writeSpecial(g: HostcallContext, t: WType, value: string, directive: Exclude<Directive, string>, what: string): void {
  if ('falseCase' in directive) {
    if (t.kind !== 'bool' || !g.top.errorOut) throw new MappingError(`${what}: falseCase needs a bool and an errorOut`);
    const write = g.writeTo(g.top.errorOut, `(i32.const ${g.witxCase(g.top.errorOut, directive.falseCase)})`);
    g.b.emit(`(if (i32.eqz ${value}) (then ${write} ${g.returnStatus('ok')}))`);
    return;
  }
  if (t.kind !== 'own') throw new MappingError(`${what}: ${JSON.stringify(directive)} needs an owned resource, got ${t.kind}`);
  if ('keep' in directive) {
    g.b.emit(`(local.set ${directive.keep} ${value})`);
    return;
  }
  const handle = g.b.local('i32', 'owned');
  const drop = { id: g.imports.dropId(t), local: handle };
  g.b.emit(`(local.set ${handle} ${value})`);
  if ('drop' in directive) {
    g.b.emit(`(call ${drop.id} (local.get ${handle}))`);
    return;
  }
  if (!('then' in directive)) throw new MappingError(`${what}: ${JSON.stringify(directive)} does not fit a resource`);
  g.drops.push(drop);
  for (const call of directive.then) emitCall(g, call, `(local.get ${handle})`);
  g.drops = g.drops.filter((d) => d !== drop);
  g.b.emit(`(call ${drop.id} (local.get ${handle}))`);
}

/** A variant as its case index; a resource payload gives its raw code through `method`. */
function writeCaseIndex(g: HostcallContext, t: Extract<WType, { kind: 'variant' }>, ret: string, offset: number, out: string, method: string, what: string): void {
  const lay = g.wit.layout(t);
  const addr = `(local.get ${ret})`;
  const disc = g.b.local('i32', 'case');
  const value = g.b.local('i32', 'code');
  g.b.emit(`(local.set ${disc} ${load('i32', lay.discSize ?? 1, addr, offset)})`, `(local.set ${value} (local.get ${disc}))`);
  t.cases.forEach((c, i) => {
    if (!c.type) return;
    if (c.type.kind !== 'own') throw new MappingError(`${what}: case ${c.name} of ${t.name} carries a ${c.type.kind}`);
    const handle = load('i32', 4, addr, offset + lay.payloadOffset!);
    g.b.emit(
      `(if (i32.eq (local.get ${disc}) (i32.const ${i})) (then`,
      `  (local.set ${value} (call ${g.imports.id(method)} ${handle}))`,
      `  (call ${g.imports.dropId(c.type)} ${handle})))`,
    );
  });
  g.b.emit(g.writeTo(out, `(local.get ${value})`));
}

/** WIT enum/flags values written to a WITX out of a differently ordered enum/flags type. */
function remapOutEnum(g: HostcallContext, t: WType, witxType: WitxType, value: string, what: string): string {
  const resolved = resolveType(g.abi, witxType);
  if (t.kind === 'enum' && resolved.kind === 'enum') {
    const witx = resolved.cases.map(caseName);
    if (t.cases.every((c, i) => witx[i] === caseName(c))) return value;
    const v = g.b.local('i32', 'e');
    g.b.emit(`(local.set ${v} ${value})`);
    let expr = `(i32.const 0)`;
    for (let i = t.cases.length - 1; i >= 0; i--) {
      const target = witx.indexOf(caseName(t.cases[i]));
      if (target < 0) throw new MappingError(`${what}: WIT case ${t.cases[i]} has no WITX counterpart`);
      expr = `(if (result i32) (i32.eq (local.get ${v}) (i32.const ${i})) (then (i32.const ${target})) (else ${expr}))`;
    }
    return expr;
  }
  if (t.kind === 'flags' && resolved.kind === 'flags') {
    const witx = resolved.members.map(kebab);
    if (t.flags.every((f, i) => witx[i] === f)) return value;
    const v = g.b.local('i32', 'f');
    g.b.emit(`(local.set ${v} ${value})`);
    return t.flags
      .map((f, i) => {
        const target = witx.indexOf(f);
        if (target < 0) throw new MappingError(`${what}: WIT flag ${f} has no WITX counterpart`);
        return `(i32.shl (i32.and (i32.shr_u (local.get ${v}) (i32.const ${i})) (i32.const 1)) (i32.const ${target}))`;
      })
      .reduce((acc, p) => `(i32.or ${acc} ${p})`, '(i32.const 0)');
  }
  return value;
}
