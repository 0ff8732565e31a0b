import { resolveType, witxLayout, type WitxAbi, type WitxType } from '../../witx/index.js';
import type { ImportTable } from '../import-table.js';
import { MappingError, type CallMapping } from '../mapping.js';
import { coreId, type HostcallShape, type Input, type OutSlot } from '../shape.js';
import { Status, type StatusName } from '../status.js';
import { load, store, type FnBuilder } from '../wat.js';
import type { WitView } from '../wit-view.js';

/**
 * What generating one hostcall's call mapping shares across the input, output, error and
 * resource modules: the two ABI models, the function being built, and the state of binding.
 */
export class HostcallContext {
  /** The next WITX input positional binding takes. */
  inputCursor = 0;
  /** WITX inputs already bound (by name, or a branch's selector): positional binding skips them. */
  consumed = new Set<string>();
  /** Resources this hostcall opened and must drop on every way out. */
  drops: Array<{ id: string; local: string }> = [];
  /** The status a way out that drops resources returns, once one needs it. */
  statusLocal: string | undefined;
  /** The hostcall's own call mapping, whose error forms apply to the top call only. */
  top: CallMapping = { call: '' };
  /** The struct `field` sources read, inside a builder. */
  struct: { base: string; type: WitxType } | undefined;
  /**
   * Checks that run before anything else the hostcall does (guest handles), so that a bad
   * argument returns before any host call and with nothing opened; filled as inputs bind.
   */
  guards: string[] | undefined;
  private readonly guarded = new Set<string>();

  constructor(
    readonly abi: WitxAbi,
    readonly wit: WitView,
    readonly imports: ImportTable,
    readonly shape: HostcallShape,
    readonly b: FnBuilder,
  ) {}

  /** A store of an i32 `value` to an out-pointer or to `struct.field` of a WITX struct param. */
  writeTo(target: string, value: string): string {
    const dot = target.indexOf('.');
    if (dot < 0) {
      const slot = this.outSlot(target);
      const size = witxLayout(this.abi, slot.type).size;
      return store(size === 8 ? 'i64' : 'i32', size, `(local.get ${coreId(slot.param)})`, 0, size === 8 ? `(i64.extend_i32_s ${value})` : value);
    }
    const field = this.structField(target.slice(0, dot), target.slice(dot + 1));
    return store('i32', field.size, field.base, field.offset, value);
  }

  structField(param: string, name: string): { base: string; offset: number; size: number; type: WitxType } {
    const input = this.input(param);
    if (input.kind !== 'struct') throw new MappingError(`${param} is not a struct param`);
    const field = witxLayout(this.abi, input.type).fields?.find((f) => f.name === name);
    if (!field) throw new MappingError(`${param} has no field ${name}`);
    return { base: `(local.get ${coreId(input.param)})`, offset: field.offset, size: witxLayout(this.abi, field.type).size, type: field.type };
  }

  /** The index of WITX enum case `name` in the type of an out-pointer or `struct.field`. */
  witxCase(target: string, name: string): number {
    const dot = target.indexOf('.');
    const type = dot < 0 ? this.outSlot(target).type : this.structField(target.slice(0, dot), target.slice(dot + 1)).type;
    const resolved = resolveType(this.abi, type);
    if (resolved.kind !== 'enum') throw new MappingError(`${target} is not an enum`);
    const i = resolved.cases.indexOf(name);
    if (i < 0) throw new MappingError(`${target} has no case ${name}`);
    return i;
  }

  detailStruct(): { addr: string; size: number; type: WitxType } {
    const input = this.input(this.top.detail!);
    if (input.kind !== 'struct') throw new MappingError(`${this.top.detail} is not a struct param`);
    return { addr: `(local.get ${coreId(input.param)})`, size: witxLayout(this.abi, input.type).size, type: input.type };
  }

  /**
   * A check that returns `status` when `cond` holds, placed with the hostcall's first checks.
   * `cond` may read params and guest memory only. Checks with the same `key` are emitted once.
   */
  guard(key: string, cond: string, status: StatusName): void {
    if (this.guarded.has(key)) return;
    this.guarded.add(key);
    this.b.statuses.add(status);
    const line = `(if ${cond} (then (return (i32.const ${Status[status]}))))`;
    if (this.guards) this.guards.push(line);
    else this.b.emit(line);
  }

  /**
   * `inval` unless `bad` (a `$bad_utf8` call, maybe under a condition) is 0: with the first
   * checks when it reads only params and guest memory, else here, dropping what was opened.
   */
  checkText(bad: string): void {
    const key = `text ${bad}`;
    if (!this.b.readsLocals(bad)) return this.guard(key, bad, 'inval');
    if (this.guarded.has(key)) return;
    this.guarded.add(key);
    this.b.emit(`(if ${bad} (then ${this.returnStatus('inval')}))`);
  }

  /** Records that `bad` was checked already (on every path that reaches the later use). */
  markChecked(bad: string): void {
    this.guarded.add(`text ${bad}`);
  }

  /**
   * Returns the constant `status`, dropping what this hostcall opened first; the status is noted
   * as one the adapter itself answers with (see `FnBuilder.statuses`).
   */
  returnStatus(status: StatusName): string {
    this.b.statuses.add(status);
    return this.ret(`(i32.const ${Status[status]})`);
  }

  /** `(return status)`, dropping what this hostcall opened first. */
  ret(status: string): string {
    if (!this.drops.length) return `(return ${status})`;
    this.statusLocal ??= this.b.local('i32', 'status');
    return `(local.set ${this.statusLocal} ${status}) ${this.dropAll().join(' ')} (return (local.get ${this.statusLocal}))`;
  }

  dropAll(): string[] {
    return this.drops.map((d) => `(call ${d.id} (local.get ${d.local}))`);
  }

  nextInput(what: string): Input {
    while (this.consumed.has(this.shape.inputs[this.inputCursor]?.name)) this.inputCursor++;
    const input = this.shape.inputs[this.inputCursor++];
    if (!input) throw new MappingError(`no WITX input left for ${what}`);
    return input;
  }

  /** A WITX input by name; naming it takes it out of positional binding. */
  input(name: string): Input {
    const found = this.shape.inputs.find((i) => i.name === name || (i.kind === 'buffer' && i.buffer.cap.source === name));
    if (!found) throw new MappingError(`no WITX input named ${name}`);
    this.consumed.add(found.name);
    return found;
  }

  valueOf(name: string): string {
    const input = this.input(name);
    if (input.kind !== 'value') throw new MappingError(`${name} is not a value param`);
    return `(local.get ${coreId(input.param)})`;
  }

  maskBit(maskName: string, flag: string): string {
    const mask = this.input(maskName);
    if (mask.kind !== 'value') throw new MappingError(`${maskName} is not a mask`);
    const resolved = resolveType(this.abi, mask.type);
    if (resolved.kind !== 'flags') throw new MappingError(`${maskName} is not a flags type`);
    const bit = resolved.members.indexOf(flag);
    if (bit < 0) throw new MappingError(`${maskName} has no flag ${flag}`);
    return `(i32.and (i32.shr_u (local.get ${coreId(mask.param)}) (i32.const ${bit})) (i32.const 1))`;
  }

  /** Where a list's length goes: an out-pointer param, or an out-pointer held in `struct.field`. */
  lengthOut(name: string): string {
    const dot = name.indexOf('.');
    if (dot < 0) return `(local.get ${coreId(this.outSlot(name).param)})`;
    const field = this.structField(name.slice(0, dot), name.slice(dot + 1));
    return load('i32', 4, field.base, field.offset);
  }

  /** True when each named param is 0, a list param counting by its length. */
  allZero(names: string | string[]): string {
    const tests = (typeof names === 'string' ? [names] : names).map((name) => {
      const input = this.input(name);
      return `(i32.eqz ${input.kind === 'list' ? `(local.get ${coreId(input.len)})` : this.valueOf(name)})`;
    });
    return tests.reduce((all, test) => `(i32.and ${all} ${test})`);
  }

  outSlot(name: string): OutSlot {
    const found = this.shape.outs.find((o) => o.name === name);
    if (!found) throw new MappingError(`no out-pointer named ${name}`);
    return found;
  }
}
