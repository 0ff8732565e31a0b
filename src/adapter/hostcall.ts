import { resolveType, witxLayout, type WitxAbi, type WitxType } from '../witx/index.js';
import { HandleKind, INVALID_BIT } from './handle-tags.js';
import { asCall, isBranch, isCall, MappingError, type Builder, type CallMapping, type Condition, type Mapping, type MethodCall, type Out, type Source } from './mapping.js';
import { sendErrorDetailWriter } from './send-error.js';
import { coreId, handleKind, hostcallShape, type HostcallShape, type Input, type OutSlot } from './shape.js';
import { dropOwned } from './errors.js';
import { ImportTable } from './import-table.js';
import { caseName, errorStatusFn, kebab, okOf } from './names.js';
import { flattenVal, guard, storeVal, type Val } from './values.js';
import { Status, type StatusName } from './status.js';
import { convert, FnBuilder, load, store, zero, type CoreType } from './wat.js';
import type { WitFunctionView, WitView, WType } from './wit-view.js';

const READY_CALL = 'async-io/pollable.is-ready';
const SELECT_CALL = 'async-io/select';

/** An output directive: the DSL's, or `keep` (a result the generator itself holds on to). */
type Directive = Out | { keep: string };

/** Generates the exported core function for one legacy hostcall. */
export function generateHostcall(
  abi: WitxAbi,
  wit: WitView,
  imports: ImportTable,
  module: string,
  name: string,
  mapping: Mapping,
): string {
  const fn = abi.modules.find((m) => m.name === module)?.functions.find((f) => f.name === name);
  if (!fn) throw new MappingError(`${module}#${name}: not a WITX hostcall`);
  const shape = hostcallShape(abi, fn);
  const b = new FnBuilder(
    `${module}#${name}`,
    shape.core.map((p) => ({ id: coreId(p), core: p.core })),
    'i32',
  );
  try {
    if (typeof mapping === 'object' && 'unsupported' in mapping) {
      b.emit(`(i32.const ${Status.unsupported})`);
    } else if (isCall(mapping)) {
      new CallGenerator(abi, wit, imports, shape, b).generate(asCall(mapping));
    } else if (isBranch(mapping)) {
      const param = shape.inputs.find((i) => i.name === mapping.branch);
      if (param?.kind !== 'value') throw new MappingError(`no WITX value param ${mapping.branch} to branch on`);
      mapping.cases.forEach((c, i) => {
        b.emit(`(if (i32.eq (local.get ${coreId(param.param)}) (i32.const ${i})) (then`);
        new CallGenerator(abi, wit, imports, shape, b).generate(asCall(c), [mapping.branch]);
        b.emit('return))');
      });
      b.emit(`(i32.const ${Status.inval})`);
    } else {
      mapping.body(b, shape, (ref) => imports.id(ref), { abi, wit, view: (ref) => imports.view(ref) });
    }
  } catch (err) {
    if (err instanceof MappingError) throw new MappingError(`${module}#${name}: ${err.message}`);
    throw err;
  }
  return b.toWat();
}

class CallGenerator {
  private inputCursor = 0;
  private consumed = new Set<string>();
  /** Resources this hostcall opened and must drop on every way out. */
  private drops: Array<{ id: string; local: string }> = [];
  private statusLocal: string | undefined;
  private top: CallMapping = { call: '' };
  /** The WIT call whose result is being written: resources in it are dropped through its interface. */
  private callRef = '';
  /** The struct `field` sources read, inside a builder. */
  private struct: { base: string; type: WitxType } | undefined;

  constructor(
    private readonly abi: WitxAbi,
    private readonly wit: WitView,
    private readonly imports: ImportTable,
    private readonly shape: HostcallShape,
    private readonly b: FnBuilder,
  ) {}

  /** `consumed`: WITX inputs already decided on (a branch's selector), skipped when binding. */
  generate(mapping: CallMapping, consumed: string[] = []): void {
    this.consumed = new Set(consumed);
    this.top = mapping;
    this.b.emit('(call $scratch_reset)');
    for (const init of mapping.initially ?? []) this.b.emit(this.writeTo(init.out, `(i32.const ${init.value})`));
    if (mapping.detail) {
      const { addr, size } = this.detailStruct();
      this.b.emit(`(memory.fill ${addr} (i32.const 0) (i32.const ${size}))`);
    }
    if (mapping.whenReady) this.emitReadyCheck(mapping.whenReady);
    this.emitCall(mapping, undefined, true);
    for (const extra of mapping.also ?? []) {
      let value = `(i32.const ${extra.value ?? 0})`;
      if (extra.lenOf) {
        const input = this.input(extra.lenOf);
        if (input.kind !== 'list') throw new MappingError(`${extra.lenOf} is not a list`);
        value = `(local.get ${coreId(input.len)})`;
      }
      this.b.emit(this.writeTo(extra.out, value));
    }
    if (mapping.detail) this.b.emit(this.writeTo(`${mapping.detail}.tag`, `(i32.const ${this.witxCase(`${mapping.detail}.tag`, 'ok')})`));
    if (mapping.errorOut) this.b.emit(this.writeTo(mapping.errorOut, `(i32.const ${this.witxCase(mapping.errorOut, 'ok')})`));
    this.b.emit(...this.dropAll(), `(i32.const ${Status.ok})`);
  }

  /** A store of an i32 `value` to an out-pointer or to `struct.field` of a WITX struct param. */
  private writeTo(target: string, value: string): string {
    const dot = target.indexOf('.');
    if (dot < 0) {
      const slot = this.outSlot(target);
      const size = witxLayout(this.abi, slot.type).size;
      return store(size === 8 ? 'i64' : 'i32', size, `(local.get ${coreId(slot.param)})`, 0, size === 8 ? `(i64.extend_i32_s ${value})` : value);
    }
    const field = this.structField(target.slice(0, dot), target.slice(dot + 1));
    return store('i32', field.size, field.base, field.offset, value);
  }

  private structField(param: string, name: string): { base: string; offset: number; size: number; type: WitxType } {
    const input = this.input(param);
    if (input.kind !== 'struct') throw new MappingError(`${param} is not a struct param`);
    const field = witxLayout(this.abi, input.type).fields?.find((f) => f.name === name);
    if (!field) throw new MappingError(`${param} has no field ${name}`);
    return { base: `(local.get ${coreId(input.param)})`, offset: field.offset, size: witxLayout(this.abi, field.type).size, type: field.type };
  }

  /** The index of WITX enum case `name` in the type of an out-pointer or `struct.field`. */
  private witxCase(target: string, name: string): number {
    const dot = target.indexOf('.');
    const type = dot < 0 ? this.outSlot(target).type : this.structField(target.slice(0, dot), target.slice(dot + 1)).type;
    const resolved = resolveType(this.abi, type);
    if (resolved.kind !== 'enum') throw new MappingError(`${target} is not an enum`);
    const i = resolved.cases.indexOf(name);
    if (i < 0) throw new MappingError(`${target} has no case ${name}`);
    return i;
  }

  private detailStruct(): { addr: string; size: number; type: WitxType } {
    const input = this.input(this.top.detail!);
    if (input.kind !== 'struct') throw new MappingError(`${this.top.detail} is not a struct param`);
    return { addr: `(local.get ${coreId(input.param)})`, size: witxLayout(this.abi, input.type).size, type: input.type };
  }

  /** Not ready: `done` = 0 and success with the `initially` values; ready: `done` = 1. */
  private emitReadyCheck(ready: { handle: string; done: string }): void {
    const input = this.input(ready.handle);
    if (input.kind !== 'value') throw new MappingError(`${ready.handle} is not a handle`);
    const handle = this.guestHandle(input);
    this.b.emit(
      `(if (i32.eqz (call ${this.imports.id(READY_CALL)} ${handle})) (then ${this.writeTo(ready.done, '(i32.const 0)')} ${this.ret(`(i32.const ${Status.ok})`)}))`,
      this.writeTo(ready.done, '(i32.const 1)'),
    );
  }

  /** `(return status)`, dropping what this hostcall opened first. */
  private ret(status: string): string {
    if (!this.drops.length) return `(return ${status})`;
    this.statusLocal ??= this.b.local('i32', 'status');
    return `(local.set ${this.statusLocal} ${status}) ${this.dropAll().join(' ')} (return (local.get ${this.statusLocal}))`;
  }

  private dropAll(): string[] {
    return this.drops.map((d) => `(call ${d.id} (local.get ${d.local}))`);
  }

  /**
   * Emits one WIT call. `self` binds the first WIT param (a method on a resource the hostcall
   * holds); `top` marks the hostcall's own call, to which the mapping's error forms apply.
   */
  /** `keep`: store the (handle) result in this local instead of binding outputs. */
  private emitCall(mapping: CallMapping | MethodCall, self?: string, top = false, keep?: string): void {
    const fn = this.imports.view(mapping.call);
    const id = this.imports.id(mapping.call);
    const explicit = self ? [undefined, ...(mapping.args ?? [])] : mapping.args;
    const args = fn.params.map((p, i) =>
      self && i === 0
        ? ({ k: 'leaf', expr: self, core: 'i32' } as Val)
        : this.valFor(p.type, explicit?.[i], `param ${p.name} of ${fn.ref}`),
    );
    if (top) this.checkInputsConsumed(mapping, fn);

    const outs: Directive[] = keep ? [{ keep }] : this.planOuts(fn, mapping.out);
    const firstBuffer = outs.find((o): o is Extract<Out, { buf: string }> => typeof o === 'object' && 'buf' in o);
    const operands: string[] = [];
    if (fn.paramsIndirect) {
      const tuple: WType = { kind: 'tuple', types: fn.params.map((p) => p.type) };
      const lay = this.wit.layout(tuple);
      const area = this.b.local('i32', 'args');
      this.b.emit(`(local.set ${area} (call $alloc (i32.const ${lay.size}) (i32.const ${lay.align})))`);
      storeVal(this.wit, this.b, tuple, { k: 'fields', vals: args }, area, 0);
      operands.push(`(local.get ${area})`);
    } else {
      fn.params.forEach((p, i) => operands.push(...flattenVal(this.wit, p.type, args[i])));
    }
    if (firstBuffer) {
      const dest = this.dest(firstBuffer);
      this.b.emit(`(call $arm_dest ${dest.ptr} ${dest.cap})`);
    }
    const ret = this.b.local('i32', 'ret');
    if (fn.resultsIndirect) {
      const lay = this.wit.layout(fn.result!);
      this.b.emit(`(local.set ${ret} (call $alloc (i32.const ${lay.size}) (i32.const ${lay.align})))`);
      this.b.emit(`(call ${id} ${[...operands, `(local.get ${ret})`].join(' ')})`);
    } else if (fn.result) {
      const lay = this.wit.layout(fn.result);
      this.b.emit(`(local.set ${ret} (call $alloc (i32.const ${lay.size}) (i32.const ${lay.align})))`);
      this.b.emit(store(fn.flatResults[0], lay.size, `(local.get ${ret})`, 0, `(call ${id} ${operands.join(' ')})`));
    } else {
      this.b.emit(`(call ${id} ${operands.join(' ')})`);
    }
    // Resources passed as `own` now belong to the host: no way out may drop them any more.
    fn.params.forEach((p, i) => {
      const arg = args[i];
      if (p.type.kind === 'own' && arg.k === 'leaf' && arg.resource) this.drops = this.drops.filter((d) => d.local !== arg.resource);
    });
    if (firstBuffer) this.b.emit('(global.set $dest_armed (i32.const 0))');
    if (!fn.result) return;

    let okType: WType | undefined = fn.result;
    let okOffset = 0;
    if (fn.result.kind === 'result') {
      const lay = this.wit.layout(fn.result);
      const nwritten = firstBuffer ? this.outSlot(firstBuffer.nwritten).param : undefined;
      if (fn.result.err) {
        const errAddr = `(i32.add (local.get ${ret}) (i32.const ${lay.payloadOffset}))`;
        const status = `(call ${errorStatusFn(fn.result.err)} ${errAddr} ${nwritten ? `(local.get ${coreId(nwritten)})` : '(i32.const 0)'})`;
        const err = fn.result.err;
        const drops = dropOwned(this.wit, err, `(local.get ${ret})`, lay.payloadOffset!, (t) => this.imports.dropId(t));
        const onError = [...drops, ...(top ? this.topErrorForms(err, errAddr) : [])];
        const handled = top && this.top.okOnError === true;
        this.b.emit(`(if (i32.load8_u (local.get ${ret})) (then ${[...onError, ...(handled ? [] : [this.ret(status)])].join(' ')}))`);
      } else {
        this.b.emit(`(if (i32.load8_u (local.get ${ret})) (then ${this.ret(`(i32.const ${Status.error})`)}))`);
      }
      okType = fn.result.ok;
      okOffset = lay.payloadOffset ?? 0;
    }
    if (okType) {
      const pending = [...outs];
      const outer = this.callRef;
      this.callRef = fn.ref;
      this.writeOut(okType, ret, okOffset, pending, `result of ${fn.ref}`);
      this.callRef = outer;
      if (pending.length) throw new MappingError(`unused outputs ${JSON.stringify(pending)}`);
    }
  }

  /** The mapping's `detail`, `okOnError` and `errorOut` forms, run before an error returns. */
  private topErrorForms(err: WType, errAddr: string): string[] {
    const lines: string[] = [];
    const { detail, okOnError, errorOut } = this.top;
    if (detail) {
      if (err.kind !== 'record') throw new MappingError(`'detail' needs an error-with-detail error, got ${err.kind}`);
      const { addr, type } = this.detailStruct();
      lines.push(`(call ${this.imports.helper(...sendErrorDetailWriter(this.abi, this.wit, err, type))} ${errAddr} ${addr})`);
    }
    if (okOnError === true) lines.push(this.ret(`(i32.const ${Status.ok})`));
    else if (okOnError || errorOut) {
      const cases = err.kind === 'variant' ? err.cases.map((c) => c.name) : err.kind === 'enum' ? err.cases : undefined;
      if (!cases) throw new MappingError(`error cases of a ${err.kind} cannot be matched`);
      const disc = load('i32', this.wit.layout(err).discSize ?? 1, errAddr, 0);
      for (const name of okOnError ?? []) {
        const i = cases.indexOf(name);
        if (i < 0) throw new MappingError(`okOnError: no error case ${name}`);
        lines.push(`(if (i32.eq ${disc} (i32.const ${i})) (then ${this.ret(`(i32.const ${Status.ok})`)}))`);
      }
      if (errorOut) {
        const slot = this.outSlot(errorOut);
        const witx = resolveType(this.abi, slot.type);
        if (witx.kind !== 'enum') throw new MappingError(`${errorOut} is not an enum out`);
        cases.forEach((name, i) => {
          const target = witx.cases.map(caseName).indexOf(caseName(name));
          if (target < 0) return;
          lines.push(`(if (i32.eq ${disc} (i32.const ${i})) (then ${this.writeTo(errorOut, `(i32.const ${target})`)} ${this.ret(`(i32.const ${Status.ok})`)}))`);
        });
        lines.push(this.writeTo(errorOut, `(i32.const ${this.witxCase(errorOut, 'uninitialized')})`));
      }
    }
    return lines;
  }

  // ---- inputs -------------------------------------------------------------------------------

  private nextInput(what: string): Input {
    while (this.consumed.has(this.shape.inputs[this.inputCursor]?.name)) this.inputCursor++;
    const input = this.shape.inputs[this.inputCursor++];
    if (!input) throw new MappingError(`no WITX input left for ${what}`);
    return input;
  }

  /** A WITX input by name; naming it takes it out of positional binding. */
  private input(name: string): Input {
    const found = this.shape.inputs.find((i) => i.name === name || (i.kind === 'buffer' && i.buffer.cap.source === name));
    if (!found) throw new MappingError(`no WITX input named ${name}`);
    this.consumed.add(found.name);
    return found;
  }

  private checkInputsConsumed(mapping: CallMapping | MethodCall, fn: WitFunctionView): void {
    if (mapping.args) return;
    const left = this.shape.inputs.slice(this.inputCursor).filter((i) => i.kind !== 'buffer' && !this.consumed.has(i.name));
    if (left.length) throw new MappingError(`WITX inputs ${left.map((i) => i.name).join(', ')} have no place in ${fn.ref}`);
  }

  private valFor(t: WType, src: Source | undefined, what: string): Val {
    if (src === undefined) {
      if (t.kind === 'record') {
        const mask = this.nextInput(what);
        const struct = this.nextInput(what);
        if (mask.kind !== 'value' || struct.kind !== 'struct') throw new MappingError(`${what} needs an options source`);
        return this.optionsVal(t, mask.name, struct.name, {});
      }
      if (t.kind === 'option' && t.inner.kind === 'record') return { k: 'option', disc: '(i32.const 0)' };
      return this.convertInput(t, this.nextInput(what), what);
    }
    if (typeof src === 'string') {
      return this.convertInput(t, this.input(src), what);
    }
    if ('const' in src) {
      const core = this.wit.flatten(t)[0];
      return { k: 'leaf', expr: `(${core}.const ${src.const})`, core };
    }
    if ('none' in src) return { k: 'option', disc: '(i32.const 0)' };
    if ('downstream' in src) {
      return { k: 'leaf', expr: `(global.get $downstream_${src.downstream})`, core: 'i32' };
    }
    if ('options' in src) {
      if (t.kind !== 'record') throw new MappingError(`${what}: options source for a non-record`);
      return this.optionsVal(t, src.options.mask, src.options.struct, src.options.rename ?? {});
    }
    if ('when' in src) {
      if (t.kind !== 'option') throw new MappingError(`${what}: 'when' source for a non-option`);
      const disc = this.maskBit(src.when.mask, src.when.flag);
      return { k: 'option', disc, some: this.valFor(t.inner, src.value, what) };
    }
    if ('flag' in src) return { k: 'leaf', expr: this.maskBit(src.flag.mask, src.flag.flag), core: 'i32' };
    if ('open' in src) return { k: 'leaf', expr: this.openByName(src.open, src.name), core: 'i32' };
    if ('ip' in src) return this.ipVal(src.ip, what);
    if ('some' in src) {
      if (t.kind !== 'option') throw new MappingError(`${what}: 'some' source for a non-option`);
      return { k: 'option', disc: '(i32.const 1)', some: this.valFor(t.inner, src.some, what) };
    }
    if ('empty' in src) return this.emptyVal(t);
    if ('fields' in src) {
      if (t.kind !== 'record') throw new MappingError(`${what}: 'fields' source for a non-record`);
      const unknown = Object.keys(src.fields).filter((f) => !t.fields.some((tf) => tf.name === f));
      if (unknown.length) throw new MappingError(`${what}: ${t.name} has no field ${unknown.join(', ')}`);
      return { k: 'fields', vals: t.fields.map((f) => (f.name in src.fields ? this.valFor(f.type, src.fields[f.name], `${what}.${f.name}`) : this.emptyVal(f.type))) };
    }
    if ('cases' in src) return this.casesVal(t, src.cases, what);
    if ('build' in src) return this.buildVal(t, src.build, what);
    if ('field' in src) return this.fieldVal(t, src.field, src.table, what);
    if ('handleOrNone' in src) {
      if (t.kind !== 'option') throw new MappingError(`${what}: 'handleOrNone' source for a non-option`);
      const input = this.input(src.handleOrNone);
      if (input.kind !== 'value') throw new MappingError(`${what}: ${src.handleOrNone} is not a handle`);
      return { k: 'option', disc: `(i32.eqz (i32.and (local.get ${coreId(input.param)}) (i32.const ${INVALID_BIT | 0})))`, some: this.convertInput(t.inner, input, what) };
    }
    if ('select' in src) return { k: 'leaf', expr: this.selectFrom(src.select, src.index), core: 'i32' };
    throw new MappingError(`${what}: unknown source`);
  }

  /** The all-defaults value of a WIT type. */
  private emptyVal(t: WType): Val {
    switch (t.kind) {
      case 'record':
        return { k: 'fields', vals: t.fields.map((f) => this.emptyVal(f.type)) };
      case 'tuple':
        return { k: 'fields', vals: t.types.map((ft) => this.emptyVal(ft)) };
      case 'option':
        return { k: 'option', disc: '(i32.const 0)' };
      case 'variant':
        if (t.cases[0].type) throw new MappingError(`variant ${t.name} has no payload-free first case`);
        return { k: 'case', index: 0 };
      case 'string':
      case 'list':
        return { k: 'list', ptr: '(i32.const 0)', len: '(i32.const 0)' };
      case 'own':
      case 'borrow':
        throw new MappingError(`a ${t.resource} handle has no default`);
      default: {
        const core = this.wit.flatten(t)[0];
        return { k: 'leaf', expr: zero(core), core };
      }
    }
  }

  /** A variant whose case is the first with a true condition (the last case needs none). */
  private casesVal(t: WType, cases: Array<{ case: string; if?: Condition; value?: Source }>, what: string): Val {
    if (t.kind !== 'variant') throw new MappingError(`${what}: 'cases' source for a ${t.kind}`);
    const index = (name: string) => {
      const i = t.cases.findIndex((c) => c.name === name);
      if (i < 0) throw new MappingError(`${what}: ${t.name} has no case ${name}`);
      return i;
    };
    if (cases.some((c, i) => !c.if !== (i === cases.length - 1))) throw new MappingError(`${what}: exactly the last case must be unconditional`);
    let disc = '';
    for (let i = cases.length - 1; i >= 0; i--) {
      const c = cases[i];
      const cond = !c.if ? undefined : 'zero' in c.if ? `(i32.eqz ${this.valueOf(c.if.zero)})` : this.maskBit(c.if.flag.mask, c.if.flag.flag);
      disc = cond ? `(if (result i32) ${cond} (then (i32.const ${index(c.case)})) (else ${disc}))` : `(i32.const ${index(c.case)})`;
    }
    const local = this.b.local('i32', 'case');
    this.b.emit(`(local.set ${local} ${disc})`);
    const vals: Array<Val | undefined> = t.cases.map(() => undefined);
    for (const c of cases) {
      const payload = t.cases[index(c.case)].type;
      if (!payload !== !c.value) throw new MappingError(`${what}: case ${c.case} ${payload ? 'needs' : 'takes no'} value`);
      if (payload && c.value) vals[index(c.case)] = this.valFor(payload, c.value, `${what}.${c.case}`);
    }
    return { k: 'variant', disc: `(local.get ${local})`, cases: vals };
  }

  private valueOf(name: string): string {
    const input = this.input(name);
    if (input.kind !== 'value') throw new MappingError(`${name} is not a value param`);
    return `(local.get ${coreId(input.param)})`;
  }

  /**
   * A resource from a constructor and setters. It is dropped on every way out until a call
   * takes it as `own`.
   */
  private buildVal(t: WType, build: Builder, what: string): Val {
    if (t.kind !== 'own' && t.kind !== 'borrow') throw new MappingError(`${what}: 'build' source for a ${t.kind}`);
    const outer = this.struct;
    const base = this.b.local('i32', 'struct');
    let structType: WitxType;
    if (typeof build.struct === 'string') {
      const input = this.input(build.struct);
      if (input.kind !== 'struct') throw new MappingError(`${what}: ${build.struct} is not a struct param`);
      this.b.emit(`(local.set ${base} (local.get ${coreId(input.param)}))`);
      structType = input.type;
    } else {
      const field = this.structFieldOf(build.struct.field);
      const target = resolveType(this.abi, field.type);
      if (target.kind !== 'pointer' && target.kind !== 'constPointer') throw new MappingError(`${what}: ${build.struct.field} is not a pointer`);
      this.b.emit(`(local.set ${base} ${load('i32', 4, outer!.base, field.offset)})`);
      structType = target.target;
    }
    this.struct = { base: `(local.get ${base})`, type: structType };
    const handle = this.b.local('i32', 'built');
    this.emitCall({ call: build.ctor, args: build.args }, undefined, false, handle);
    const ctor = this.imports.view(build.ctor);
    const resource = okOf(ctor.result);
    if (resource?.kind !== 'own') throw new MappingError(`${build.ctor} does not make a resource`);
    this.drops.push({ id: this.imports.dropId(resource), local: handle });
    const used = new Set<string>();
    for (const setter of build.set) {
      const cond = setter.flag && build.mask ? this.maskBit(build.mask, setter.flag) : undefined;
      if (setter.flag) used.add(setter.flag);
      if (cond) this.b.emit(`(if ${cond} (then`);
      this.emitCall(setter, `(local.get ${handle})`);
      if (cond) this.b.emit('))');
    }
    if (build.mask) this.rejectUnknownFlags(build.mask, used);
    this.struct = outer;
    return { k: 'leaf', expr: `(local.get ${handle})`, core: 'i32', resource: handle };
  }

  private structFieldOf(name: string) {
    if (!this.struct) throw new MappingError(`'field' ${name} outside a builder`);
    const field = witxLayout(this.abi, this.struct.type).fields?.find((f) => f.name === name);
    if (!field) throw new MappingError(`the builder's struct has no field ${name}`);
    return field;
  }

  /** A builder struct field: a string from `name` + `name_len`, or a scalar (through `table`). */
  private fieldVal(t: WType, name: string, table: number[] | undefined, what: string): Val {
    const base = this.struct?.base;
    const field = this.structFieldOf(name);
    if (t.kind === 'string' || t.kind === 'list') {
      const len = this.structFieldOf(`${name}_len`);
      return { k: 'list', ptr: load('i32', 4, base!, field.offset), len: load('i32', 4, base!, len.offset) };
    }
    const size = witxLayout(this.abi, field.type).size;
    const witxCore: CoreType = size === 8 ? 'i64' : 'i32';
    const core = this.wit.flatten(t)[0];
    if (!core || this.wit.flatten(t).length !== 1) throw new MappingError(`${what}: cannot read a ${t.kind} from field ${name}`);
    let value = load(witxCore, size, base!, field.offset);
    if (table) {
      const v = this.b.local('i32', 'v');
      this.b.emit(`(local.set ${v} ${value})`);
      value = table.reduceRight(
        (acc, target, i) => `(if (result i32) (i32.eq (local.get ${v}) (i32.const ${i})) (then (i32.const ${target})) (else ${acc}))`,
        `(block (result i32) ${this.ret(`(i32.const ${Status.inval})`)})`,
      );
    }
    return { k: 'leaf', expr: convert(value, witxCore, core), core };
  }

  /**
   * Waits with `async-io/select` on a WITX handle list (borrowed as it is: none is tagged) and
   * returns the chosen handle, its index written to `index`. Empty lists are `inval`; invalid
   * or wrong-kind handles `badf`, checked before the host sees any.
   */
  private selectFrom(listName: string, index: string): string {
    const list = this.input(listName);
    if (list.kind !== 'list') throw new MappingError(`${listName} is not a list`);
    const element = resolveType(this.abi, list.type);
    if (element.kind !== 'list') throw new MappingError(`${listName} is not a handle list`);
    const kind = handleKind(this.abi, element.element);
    const [ptr, len] = [`(local.get ${coreId(list.ptr)})`, `(local.get ${coreId(list.len)})`];
    const i = this.b.local('i32', 'i');
    const h = this.b.local('i32', 'h');
    const chosen = this.b.local('i32', 'chosen');
    this.b.emit(
      `(if (i32.eqz ${len}) (then ${this.ret(`(i32.const ${Status.inval})`)}))`,
      `(local.set ${i} (i32.const 0))`,
      `(block $checked (loop $check`,
      `  (br_if $checked (i32.ge_u (local.get ${i}) ${len}))`,
      `  (local.set ${h} (i32.load (i32.add ${ptr} (i32.shl (local.get ${i}) (i32.const 2)))))`,
      `  (if (i32.or (i32.and (local.get ${h}) (i32.const ${INVALID_BIT | 0})) (call $wrong_kind (local.get ${h}) (i32.const ${kind}))) (then ${this.ret(`(i32.const ${Status.badf})`)}))`,
      `  (local.set ${i} (i32.add (local.get ${i}) (i32.const 1)))`,
      `  (br $check)))`,
      `(local.set ${i} (call ${this.imports.id(SELECT_CALL)} ${ptr} ${len}))`,
      this.writeTo(index, `(local.get ${i})`),
      `(local.set ${chosen} (i32.load (i32.add ${ptr} (i32.shl (local.get ${i}) (i32.const 2)))))`,
    );
    return kind === HandleKind.Other ? `(local.get ${chosen})` : `(call $strip (local.get ${chosen}))`;
  }

  private convertInput(t: WType, input: Input, what: string): Val {
    switch (t.kind) {
      case 'own':
      case 'borrow': {
        if (input.kind !== 'value') throw new MappingError(`${what}: expected a handle, got ${input.name}`);
        return { k: 'leaf', expr: this.guestHandle(input), core: 'i32' };
      }
      case 'string':
      case 'list':
        // A pointer + usize pair is an input list too when the WIT takes it as one.
        if (input.kind === 'buffer') {
          return { k: 'list', ptr: `(local.get ${coreId(input.buffer.ptr)})`, len: `(local.get ${coreId(input.buffer.cap)})` };
        }
        if (input.kind !== 'list') throw new MappingError(`${what}: expected a list, got ${input.name}`);
        return { k: 'list', ptr: `(local.get ${coreId(input.ptr)})`, len: `(local.get ${coreId(input.len)})` };
      case 'enum':
        return { k: 'leaf', expr: this.remapEnum(input, t.cases, what), core: 'i32' };
      case 'flags':
        return { k: 'leaf', expr: this.remapFlags(input, t.flags, what), core: 'i32' };
      case 'option': {
        throw new MappingError(`${what}: option params need an explicit source`);
      }
      default: {
        const core = this.wit.flatten(t)[0];
        if (!core || this.wit.flatten(t).length !== 1) throw new MappingError(`${what}: cannot bind ${t.kind} by position`);
        const param = input.kind === 'buffer' ? input.buffer.cap : input.kind === 'value' ? input.param : undefined;
        if (!param) throw new MappingError(`${what}: cannot bind ${input.kind} ${input.name} to ${t.kind}`);
        return { k: 'leaf', expr: convert(`(local.get ${coreId(param)})`, param.core, core), core };
      }
    }
  }

  private openByName(ref: string, nameParam: string): string {
    const input = this.input(nameParam);
    if (input.kind !== 'list') throw new MappingError(`${nameParam} is not a string`);
    const open = this.imports.view(ref);
    const result = open.result;
    if (result?.kind !== 'result' || !result.err || result.ok?.kind !== 'own') throw new MappingError(`${ref} does not open a resource`);
    const ret = this.b.local('i32', 'opened');
    const failed = this.b.local('i32', 'open_status');
    const lay = this.wit.layout(result);
    // Legacy hosts answer an unknown backend name with `inval`; `none` (what `not-found` means
    // for stores) is not an answer these calls ever gave.
    this.b.emit(
      `(local.set ${ret} (call $alloc (i32.const ${lay.size}) (i32.const ${lay.align})))`,
      `(call ${this.imports.id(ref)} (local.get ${coreId(input.ptr)}) (local.get ${coreId(input.len)}) (local.get ${ret}))`,
      `(if (i32.load8_u (local.get ${ret})) (then ${this.unopenedDetail()}(local.set ${failed} (call ${errorStatusFn(result.err)} (i32.add (local.get ${ret}) (i32.const ${lay.payloadOffset})) (i32.const 0))) ${this.ret(`(select (i32.const ${Status.inval}) (local.get ${failed}) (i32.eq (local.get ${failed}) (i32.const ${Status.none})))`)}))`,
    );
    const handle = this.b.local('i32', 'res');
    this.b.emit(`(local.set ${handle} ${load('i32', 4, `(local.get ${ret})`, lay.payloadOffset!)})`);
    this.drops.push({ id: this.imports.dropId(result.ok), local: handle });
    return `(local.get ${handle})`;
  }

  /** A backend that does not open is, to a send's error detail, a destination not found. */
  private unopenedDetail(): string {
    const { detail } = this.top;
    return detail ? `${this.writeTo(`${detail}.tag`, `(i32.const ${this.witxCase(`${detail}.tag`, 'destination_not_found')})`)} ` : '';
  }

  private ipVal(name: string, what: string): Val {
    const input = this.input(name);
    if (input.kind !== 'buffer' && input.kind !== 'list') throw new MappingError(`${what}: ${name} is not an octets pointer`);
    const ptr = `(local.get ${coreId(input.kind === 'buffer' ? input.buffer.ptr : input.ptr)})`;
    const len = `(local.get ${coreId(input.kind === 'buffer' ? input.buffer.cap : input.len)})`;
    return this.ipFrom(ptr, len, '(i32.const 1)');
  }

  /**
   * ip-address from octets: 4 bytes are v4; 16 bytes are v6 as eight big-endian u16s. Any
   * other length is `inval` when `present` holds (an optional address checks only if given).
   */
  private ipFrom(ptr: string, len: string, present: string): Val {
    this.b.emit(
      `(if (i32.and ${present} (i32.and (i32.ne ${len} (i32.const 4)) (i32.ne ${len} (i32.const 16)))) (then ${this.ret(`(i32.const ${Status.inval})`)}))`,
    );
    const is6 = this.b.local('i32', 'v6');
    this.b.emit(`(local.set ${is6} (i32.eq ${len} (i32.const 16)))`);
    const byte = (i: number): Val => ({ k: 'leaf', expr: load('i32', 1, ptr, i), core: 'i32' });
    const v6 = [0, 1, 2, 3, 4, 5, 6, 7].map((i): Val => ({
      k: 'leaf',
      expr: `(i32.or (i32.shl ${load('i32', 1, ptr, 2 * i)} (i32.const 8)) ${load('i32', 1, ptr, 2 * i + 1)})`,
      core: 'i32',
    }));
    return { k: 'variant', disc: `(local.get ${is6})`, cases: [{ k: 'fields', vals: [0, 1, 2, 3].map(byte) }, { k: 'fields', vals: v6 }] };
  }

  /** Checks a handle argument's kind (badf on mismatch) and returns the host handle. */
  private guestHandle(input: Extract<Input, { kind: 'value' }>): string {
    const kind = handleKind(this.abi, input.type);
    const id = coreId(input.param);
    this.b.emit(`(if (call $wrong_kind (local.get ${id}) (i32.const ${kind})) (then ${this.ret(`(i32.const ${Status.badf})`)}))`);
    return kind === HandleKind.Other ? `(local.get ${id})` : `(call $strip (local.get ${id}))`;
  }

  private remapEnum(input: Input, witCases: string[], what: string): string {
    if (input.kind !== 'value') throw new MappingError(`${what}: expected an enum value`);
    const resolved = resolveType(this.abi, input.type);
    const value = `(local.get ${coreId(input.param)})`;
    if (resolved.kind !== 'enum') return value;
    const witxCases = resolved.cases.map(caseName);
    if (witxCases.every((c, i) => caseName(witCases[i] ?? '') === c)) return value;
    // Differently ordered enums: map each case by name; an unknown value is an invalid argument.
    let expr = `(block (result i32) ${this.ret(`(i32.const ${Status.inval})`)})`;
    for (let i = witxCases.length - 1; i >= 0; i--) {
      const target = witCases.map(caseName).indexOf(witxCases[i]);
      if (target < 0) throw new MappingError(`${what}: WITX case ${witxCases[i]} has no WIT counterpart`);
      expr = `(if (result i32) (i32.eq ${value} (i32.const ${i})) (then (i32.const ${target})) (else ${expr}))`;
    }
    return expr;
  }

  private remapFlags(input: Input, witFlags: string[], what: string): string {
    if (input.kind !== 'value') throw new MappingError(`${what}: expected flags`);
    const resolved = resolveType(this.abi, input.type);
    const value = `(local.get ${coreId(input.param)})`;
    if (resolved.kind !== 'flags') return value;
    const witxFlags = resolved.members.map(kebab);
    if (witxFlags.every((f, i) => witFlags[i] === f)) return value;
    const parts = witxFlags.map((f, i) => {
      const target = witFlags.indexOf(f);
      if (target < 0) {
        if (f === 'reserved') return undefined;
        throw new MappingError(`${what}: WITX flag ${f} has no WIT counterpart`);
      }
      return `(i32.shl (i32.and (i32.shr_u ${value} (i32.const ${i})) (i32.const 1)) (i32.const ${target}))`;
    });
    return parts.filter((p): p is string => !!p).reduce((acc, p) => `(i32.or ${acc} ${p})`, '(i32.const 0)');
  }

  private maskBit(maskName: string, flag: string): string {
    const mask = this.input(maskName);
    if (mask.kind !== 'value') throw new MappingError(`${maskName} is not a mask`);
    const resolved = resolveType(this.abi, mask.type);
    if (resolved.kind !== 'flags') throw new MappingError(`${maskName} is not a flags type`);
    const bit = resolved.members.indexOf(flag);
    if (bit < 0) throw new MappingError(`${maskName} has no flag ${flag}`);
    return `(i32.and (i32.shr_u (local.get ${coreId(mask.param)}) (i32.const ${bit})) (i32.const 1))`;
  }

  /**
   * A WIT options record from a WITX mask + struct: each WIT field `foo-bar` takes WITX field
   * `foo_bar` (or the pair `foo_bar_ptr`/`foo_bar_len`, or `foo_bar`/`foo_bar_len`), present
   * when mask flag `foo_bar` is set; a bool field is the flag itself; `extra` is always none.
   * A set mask flag with no WIT field makes the call `unsupported` rather than silently dropped.
   */
  private optionsVal(t: Extract<WType, { kind: 'record' }>, maskName: string, structName: string, rename: Record<string, string>): Val {
    const mask = this.input(maskName);
    const struct = this.input(structName);
    if (mask.kind !== 'value' || struct.kind !== 'struct') throw new MappingError(`${maskName}/${structName} are not a mask and a struct`);
    const maskType = resolveType(this.abi, mask.type);
    if (maskType.kind !== 'flags') throw new MappingError(`${maskName} is not a flags type`);
    const layout = witxLayout(this.abi, struct.type);
    const base = `(local.get ${coreId(struct.param)})`;
    const fieldAt = (name: string) => layout.fields?.find((f) => f.name === name);
    const used = new Set<string>();
    const vals = t.fields.map((field): Val => {
      const snake = rename[field.name] ?? field.name.replace(/-/g, '_');
      if (field.name === 'extra') return { k: 'option', disc: '(i32.const 0)' };
      const hasFlag = maskType.members.includes(snake);
      if (hasFlag) used.add(snake);
      const loadField = (ft: WType): Val => {
        // A renamed field names its mask flag; the struct field may still carry the WIT name.
        const direct = fieldAt(snake) ?? fieldAt(`${snake}_ptr`) ?? fieldAt(field.name.replace(/-/g, '_'));
        const len = fieldAt(`${snake}_len`);
        if ((ft.kind === 'string' || ft.kind === 'list') && direct && len) {
          return { k: 'list', ptr: load('i32', 4, base, direct.offset), len: load('i32', 4, base, len.offset) };
        }
        if (ft.kind === 'variant' && ft.name === 'ip-address' && direct && len) {
          return this.ipFrom(load('i32', 4, base, direct.offset), load('i32', 4, base, len.offset), this.maskBit(maskName, snake));
        }
        if (!direct) throw new MappingError(`options field ${field.name}: no WITX field ${snake} in ${structName}`);
        const flat = this.wit.flatten(ft);
        const size = witxLayout(this.abi, direct.type).size;
        const core = flat[0];
        const witxCore: CoreType = size === 8 ? 'i64' : 'i32';
        if (ft.kind === 'own' || ft.kind === 'borrow' || ft.kind === 'option') {
          return { k: 'leaf', expr: load('i32', 4, base, direct.offset), core: 'i32' };
        }
        return { k: 'leaf', expr: convert(load(witxCore, size, base, direct.offset), witxCore, core), core };
      };
      if (field.type.kind === 'bool') {
        if (hasFlag) return { k: 'leaf', expr: this.maskBit(maskName, snake), core: 'i32' };
        return loadField(field.type);
      }
      if (field.type.kind === 'option') {
        // A WIT-only optional field (no legacy flag) is simply absent.
        if (!hasFlag) return { k: 'option', disc: '(i32.const 0)' };
        const some = loadField(field.type.inner);
        return { k: 'option', disc: this.maskBit(maskName, snake), some: guard(some, this.maskBit(maskName, snake)) };
      }
      return loadField(field.type);
    });
    this.rejectUnknownFlags(maskName, used);
    return { k: 'fields', vals };
  }

  /** A set mask flag that nothing maps answers `unsupported` rather than being dropped silently. */
  private rejectUnknownFlags(maskName: string, used: Set<string>): void {
    const mask = this.input(maskName);
    if (mask.kind !== 'value') throw new MappingError(`${maskName} is not a flags param`);
    const maskType = resolveType(this.abi, mask.type);
    if (maskType.kind !== 'flags') throw new MappingError(`${maskName} is not a flags param`);
    for (const flag of used) if (!maskType.members.includes(flag)) throw new MappingError(`${maskName} has no flag ${flag}`);
    const unknown = maskType.members
      .map((m, bit) => ({ m, bit }))
      .filter(({ m }) => !m.startsWith('reserved') && !used.has(m));
    if (unknown.length) {
      const bits = unknown.reduce((acc, { bit }) => acc | (1 << bit), 0);
      this.b.emit(
        `(if (i32.and (local.get ${coreId(mask.param)}) (i32.const ${bits})) (then ${this.ret(`(i32.const ${Status.unsupported})`)})) ;; ${unknown.map((u) => u.m).join(', ')}`,
      );
    }
  }

  // ---- outputs ------------------------------------------------------------------------------

  /** Where a list output lands: a guest buffer, or an out-pointer with a fixed capacity. */
  private dest(d: { buf: string; cap?: number }): { ptr: string; cap: string } {
    if (d.cap !== undefined) return { ptr: `(local.get ${coreId(this.outSlot(d.buf).param)})`, cap: `(i32.const ${d.cap})` };
    const found = this.shape.buffers.find((b) => b.name === d.buf);
    if (!found) throw new MappingError(`no output buffer named ${d.buf}`);
    return { ptr: `(local.get ${coreId(found.ptr)})`, cap: `(local.get ${coreId(found.cap)})` };
  }

  private outSlot(name: string): OutSlot {
    const found = this.shape.outs.find((o) => o.name === name);
    if (!found) throw new MappingError(`no out-pointer named ${name}`);
    return found;
  }

  /**
   * Binds the ok value's leaves to outputs by type: each list goes into the next guest buffer
   * (its length to `nwritten_out`, or else to the next out-pointer), an `option<u32>` aimed at a
   * cursor-result out becomes the ending cursor, other options return `none` when empty, and
   * every other leaf takes the next out-pointer.
   */
  private planOuts(fn: WitFunctionView, explicit: Out[] | undefined): Out[] {
    if (explicit) return explicit;
    const result = fn.result?.kind === 'result' ? fn.result.ok : fn.result;
    if (!result) return [];
    const buffers = [...this.shape.buffers];
    const nwrittenNames = this.shape.outs.filter((o) => o.name.includes('nwritten')).map((o) => o.name);
    const free = this.shape.outs.filter((o) => !o.name.includes('nwritten')).map((o) => o.name);
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
          if (next && (t.inner.kind === 'u32' || t.inner.kind === 'u64') && this.isCursorOut(next)) {
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

  private isCursorOut(name: string): boolean {
    const slot = this.shape.outs.find((o) => o.name === name);
    return !!slot && slot.type.kind === 'ref' && slot.type.name === 'multi_value_cursor_result';
  }

  private writeOut(t: WType, ret: string, offset: number, outs: Directive[], what: string): void {
    const lay = this.wit.layout(t);
    const addr = `(local.get ${ret})`;
    switch (t.kind) {
      case 'tuple':
        t.types.forEach((ft, i) => this.writeOut(ft, ret, offset + lay.offsets![i], outs, what));
        return;
      case 'record':
        t.fields.forEach((f, i) => this.writeOut(f.type, ret, offset + lay.offsets![i], outs, what));
        return;
      case 'option': {
        const directive = outs.shift();
        if (directive && typeof directive === 'object' && 'cursor' in directive) {
          const slot = this.outSlot(directive.cursor);
          // `$multi_value_cursor_result` is an s64: all 8 bytes, or a caller that reads it as
          // one sees 0xFFFFFFFF, not -1, and asks for more forever.
          this.b.emit(
            store('i64', 8, `(local.get ${coreId(slot.param)})`, 0,
              `(if (result i64) ${load('i32', 1, addr, offset)} (then (i64.extend_i32_u ${load('i32', 4, addr, offset + lay.payloadOffset!)})) (else (i64.const -1)))`),
          );
          return;
        }
        if (directive && typeof directive === 'object' && 'noneCase' in directive) {
          if (!this.top.errorOut) throw new MappingError(`${what}: noneCase needs an errorOut`);
          const write = this.writeTo(this.top.errorOut, `(i32.const ${this.witxCase(this.top.errorOut, directive.noneCase)})`);
          this.b.emit(`(if (i32.eqz ${load('i32', 1, addr, offset)}) (then ${write} ${this.ret(`(i32.const ${Status.ok})`)}))`);
          this.writeOut(t.inner, ret, offset + lay.payloadOffset!, outs, what);
          return;
        }
        if (directive && typeof directive === 'object' && 'noneValue' in directive) {
          // An absent list has length `noneValue`; any other absent value is `noneValue`.
          const next = outs[0];
          const target = typeof next === 'object' && 'buf' in next ? next.nwritten : next;
          if (typeof target !== 'string') throw new MappingError(`${what}: noneValue needs an out-pointer next, got ${JSON.stringify(next)}`);
          this.b.emit(`(if (i32.eqz ${load('i32', 1, addr, offset)}) (then ${this.writeTo(target, `(i32.const ${directive.noneValue})`)}))`);
          // The payload is written only when present; emitted lines nest inside the `if`.
          this.b.emit(`(if ${load('i32', 1, addr, offset)} (then`);
          this.writeOut(t.inner, ret, offset + lay.payloadOffset!, outs, what);
          this.b.emit('))');
          return;
        }
        const status: StatusName = directive && typeof directive === 'object' && 'noneStatus' in directive ? directive.noneStatus : 'none';
        if (directive && !(typeof directive === 'object' && 'noneStatus' in directive)) outs.unshift(directive);
        this.b.emit(`(if (i32.eqz ${load('i32', 1, addr, offset)}) (then ${this.ret(`(i32.const ${Status[status]})`)}))`);
        this.writeOut(t.inner, ret, offset + lay.payloadOffset!, outs, what);
        return;
      }
      case 'string':
      case 'list': {
        const directive = outs.shift();
        if (!directive || typeof directive !== 'object' || !('buf' in directive)) {
          throw new MappingError(`${what}: a list needs a buffer output, got ${JSON.stringify(directive)}`);
        }
        const { ptr: dst, cap } = this.dest(directive);
        const nw = this.outSlot(directive.nwritten);
        const ptr = this.b.local('i32', 'lp');
        const len = this.b.local('i32', 'll');
        this.b.emit(
          `(local.set ${ptr} ${load('i32', 4, addr, offset)})`,
          `(local.set ${len} ${load('i32', 4, addr, offset + 4)})`,
          store('i32', 4, `(local.get ${coreId(nw.param)})`, 0, `(local.get ${len})`),
          `(if (i32.gt_u (local.get ${len}) ${cap}) (then ${this.ret(`(i32.const ${Status.buflen})`)}))`,
          `(if (i32.ne (local.get ${ptr}) ${dst}) (then (memory.copy ${dst} (local.get ${ptr}) (local.get ${len}))))`,
        );
        return;
      }
      case 'variant': {
        const directive = outs.shift();
        if (directive && typeof directive === 'object' && 'caseIndex' in directive) {
          this.writeCaseIndex(t, ret, offset, directive.caseIndex, directive.method, what);
          return;
        }
        if (t.name !== 'ip-address' || !directive || typeof directive !== 'object' || !('ipInto' in directive)) {
          throw new MappingError(`${what}: variant ${t.name} output needs a custom mapping`);
        }
        const dst = `(local.get ${coreId(this.outSlot(directive.ipInto).param)})`;
        const nw = `(local.get ${coreId(this.outSlot(directive.nwritten).param)})`;
        const payload = offset + lay.payloadOffset!;
        const v4 = [0, 1, 2, 3].map((i) => store('i32', 1, dst, i, load('i32', 1, addr, payload + i)));
        const v6 = [0, 1, 2, 3, 4, 5, 6, 7].flatMap((i) => [
          store('i32', 1, dst, 2 * i, `(i32.shr_u ${load('i32', 2, addr, payload + 2 * i)} (i32.const 8))`),
          store('i32', 1, dst, 2 * i + 1, load('i32', 2, addr, payload + 2 * i)),
        ]);
        this.b.emit(
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
          this.writeSpecial(t, load('i32', lay.size, addr, offset), directive, what);
          return;
        }
        if (directive && typeof directive === 'object') {
          const v = this.b.local('i32', 'v');
          this.b.emit(`(local.set ${v} ${convert(load(this.wit.flatten(t)[0], lay.size, addr, offset), this.wit.flatten(t)[0], 'i32')})`);
          const index = directive.table.reduceRight(
            (acc, value, i) => `(if (result i32) (i32.eq (local.get ${v}) (i32.const ${value})) (then (i32.const ${i})) (else ${acc}))`,
            `(block (result i32) ${this.ret(`(i32.const ${Status.unsupported})`)})`,
          );
          this.b.emit(this.writeTo(directive.out, index));
          return;
        }
        if (typeof directive !== 'string') throw new MappingError(`${what}: a ${t.kind} needs an out-pointer, got ${JSON.stringify(directive)}`);
        const slot = this.outSlot(directive);
        const witCore = this.wit.flatten(t)[0];
        let value = load(witCore, lay.size, addr, offset);
        const outLayout = witxLayout(this.abi, slot.type);
        const outCore: CoreType = outLayout.size === 8 ? 'i64' : 'i32';
        if (t.kind === 'own' || t.kind === 'borrow') {
          const kind = handleKind(this.abi, slot.type);
          if (kind !== HandleKind.Other) value = `(call $tag ${value} (i32.const ${kind}))`;
        }
        value = this.remapOutEnum(t, slot.type, value, what);
        this.b.emit(store(outCore, outLayout.size, `(local.get ${coreId(slot.param)})`, 0, convert(value, witCore, outCore)));
      }
    }
  }

  /** Resource and bool leaves that are not simply stored: kept, dropped, used, or a false case. */
  private writeSpecial(t: WType, value: string, directive: Exclude<Directive, string>, what: string): void {
    if ('falseCase' in directive) {
      if (t.kind !== 'bool' || !this.top.errorOut) throw new MappingError(`${what}: falseCase needs a bool and an errorOut`);
      const write = this.writeTo(this.top.errorOut, `(i32.const ${this.witxCase(this.top.errorOut, directive.falseCase)})`);
      this.b.emit(`(if (i32.eqz ${value}) (then ${write} ${this.ret(`(i32.const ${Status.ok})`)}))`);
      return;
    }
    if (t.kind !== 'own') throw new MappingError(`${what}: ${JSON.stringify(directive)} needs an owned resource, got ${t.kind}`);
    if ('keep' in directive) {
      this.b.emit(`(local.set ${directive.keep} ${value})`);
      return;
    }
    const handle = this.b.local('i32', 'owned');
    const drop = { id: this.imports.dropId(t), local: handle };
    this.b.emit(`(local.set ${handle} ${value})`);
    if ('drop' in directive) {
      this.b.emit(`(call ${drop.id} (local.get ${handle}))`);
      return;
    }
    if (!('then' in directive)) throw new MappingError(`${what}: ${JSON.stringify(directive)} does not fit a resource`);
    this.drops.push(drop);
    for (const call of directive.then) this.emitCall(call, `(local.get ${handle})`);
    this.drops = this.drops.filter((d) => d !== drop);
    this.b.emit(`(call ${drop.id} (local.get ${handle}))`);
  }

  /** A variant as its case index; a resource payload gives its raw code through `method`. */
  private writeCaseIndex(t: Extract<WType, { kind: 'variant' }>, ret: string, offset: number, out: string, method: string, what: string): void {
    const lay = this.wit.layout(t);
    const addr = `(local.get ${ret})`;
    const disc = this.b.local('i32', 'case');
    const value = this.b.local('i32', 'code');
    this.b.emit(`(local.set ${disc} ${load('i32', lay.discSize ?? 1, addr, offset)})`, `(local.set ${value} (local.get ${disc}))`);
    t.cases.forEach((c, i) => {
      if (!c.type) return;
      if (c.type.kind !== 'own') throw new MappingError(`${what}: case ${c.name} of ${t.name} carries a ${c.type.kind}`);
      const handle = load('i32', 4, addr, offset + lay.payloadOffset!);
      this.b.emit(
        `(if (i32.eq (local.get ${disc}) (i32.const ${i})) (then`,
        `  (local.set ${value} (call ${this.imports.id(method)} ${handle}))`,
        `  (call ${this.imports.dropId(c.type)} ${handle})))`,
      );
    });
    this.b.emit(this.writeTo(out, `(local.get ${value})`));
  }

  /** WIT enum/flags values written to a WITX out of a differently ordered enum/flags type. */
  private remapOutEnum(t: WType, witxType: WitxType, value: string, what: string): string {
    const resolved = resolveType(this.abi, witxType);
    if (t.kind === 'enum' && resolved.kind === 'enum') {
      const witx = resolved.cases.map(caseName);
      if (t.cases.every((c, i) => witx[i] === caseName(c))) return value;
      const v = this.b.local('i32', 'e');
      this.b.emit(`(local.set ${v} ${value})`);
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
      const v = this.b.local('i32', 'f');
      this.b.emit(`(local.set ${v} ${value})`);
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
}

