import { resolveType, witxLayout, type WitxAbi } from '../../witx/index.js';
import { INVALID_BIT } from '../handle-tags.js';
import { MappingError, type CallMapping, type Condition, type MethodCall, type Source } from '../mapping.js';
import { caseName, kebab } from '../names.js';
import { coreId, type HostcallShape, type Input } from '../shape.js';
import { Status } from '../status.js';
import { guard, type Val } from '../values.js';
import { convert, load, zero, type CoreType } from '../wat.js';
import type { WitFunctionView, WType } from '../wit-view.js';
import type { HostcallContext } from './context.js';
import { buildVal, guestHandle, guestHandleField, openByName, selectFrom, structFieldOf } from './resources.js';

/**
 * WITX integer typenames that carry a WIT enum numbered from `base` rather than 0:
 * `$cache_replace_strategy` is fastly-sys's `CacheReplaceStrategy` (Immediate = 1,
 * ImmediateForceMiss = 2, Wait = 3), the WIT's `replace-strategy` is immediate, immediate-force-miss, wait.
 */
const NUMBERED_ENUMS: Readonly<Record<string, { base: number }>> = {
  cache_replace_strategy: { base: 1 },
};

/**
 * WITX inputs to WIT values: by position, by name or by a mapping's source form, converted by
 * type (enums and flags by case name, options masks + structs to records, octets to addresses).
 */

/**
 * One check per WITX param whose type is an enum or flags: a value past an enum's last case, or
 * with a bit no flag names, is `inval` before anything else happens. The reason: the canonical
 * ABI traps on such values (jco's glue: "invalid discriminant", "flags have extraneous bits
 * set"), where a legacy host's glue converts them before the hostcall runs and answers `inval`
 * (Viceroy's wiggle glue: `GuestError::InvalidEnumValue` / `InvalidFlagValue` → `inval`).
 * Derived from the WITX types, so every hostcall with such a param is covered, whatever its
 * mapping passes the value as (a WIT enum or flags, a branch selector, options, nothing).
 */
export function valueRangeChecks(abi: WitxAbi, shape: HostcallShape): string[] {
  return shape.inputs.flatMap((input) => {
    if (input.kind !== 'value') return [];
    const resolved = resolveType(abi, input.type);
    const t = input.param.core;
    const value = `(local.get ${coreId(input.param)})`;
    const inval = `(then (return (i32.const ${Status.inval})))`;
    switch (resolved.kind) {
      case 'enum':
        return [`(if (${t}.ge_u ${value} (${t}.const ${resolved.cases.length})) ${inval})`];
      case 'flags': {
        const known = (1n << BigInt(resolved.members.length)) - 1n;
        const width = t === 'i64' ? 64 : 32;
        const unknown = BigInt.asIntN(width, ~known & ((1n << BigInt(width)) - 1n));
        if (unknown === 0n) return [];
        return [`(if (${t}.ne (${t}.and ${value} (${t}.const ${unknown})) (${t}.const 0)) ${inval})`];
      }
      default:
        return [];
    }
  });
}

export function checkInputsConsumed(g: HostcallContext, mapping: CallMapping | MethodCall, fn: WitFunctionView): void {
  if (mapping.args) return;
  const left = g.shape.inputs.slice(g.inputCursor).filter((i) => i.kind !== 'buffer' && !g.consumed.has(i.name));
  if (left.length) throw new MappingError(`WITX inputs ${left.map((i) => i.name).join(', ')} have no place in ${fn.ref}`);
}

export function valFor(g: HostcallContext, t: WType, src: Source | undefined, what: string): Val {
  if (src === undefined) {
    if (t.kind === 'record') {
      const mask = g.nextInput(what);
      const struct = g.nextInput(what);
      if (mask.kind !== 'value' || struct.kind !== 'struct') throw new MappingError(`${what} needs an options source`);
      return optionsVal(g, t, mask.name, struct.name, {});
    }
    if (t.kind === 'option' && t.inner.kind === 'record') return { k: 'option', disc: '(i32.const 0)' };
    return convertInput(g, t, g.nextInput(what), what);
  }
  if (typeof src === 'string') {
    return convertInput(g, t, g.input(src), what);
  }
  if ('const' in src) {
    const core = g.wit.flatten(t)[0];
    return { k: 'leaf', expr: `(${core}.const ${src.const})`, core };
  }
  if ('none' in src) return { k: 'option', disc: '(i32.const 0)' };
  if ('downstream' in src) {
    const expr = `(global.get $downstream_${src.downstream})`;
    // The guest may have moved the downstream request or body away (sent it, appended it):
    // lifting it then would trap, so a dead one is `badf` like any other handle.
    if (t.kind === 'own' || t.kind === 'borrow') {
      g.guard(`${expr} ${t.kind}`, `(i32.eqz (call $live ${expr} (i32.const ${g.imports.liveId(t)})))`, 'badf');
    }
    return { k: 'leaf', expr, core: 'i32' };
  }
  if ('options' in src) {
    if (t.kind !== 'record') throw new MappingError(`${what}: options source for a non-record`);
    return optionsVal(g, t, src.options.mask, src.options.struct, src.options.rename ?? {});
  }
  if ('when' in src) {
    if (t.kind !== 'option') throw new MappingError(`${what}: 'when' source for a non-option`);
    const disc = g.maskBit(src.when.mask, src.when.flag);
    return { k: 'option', disc, some: valFor(g, t.inner, src.value, what) };
  }
  if ('flag' in src) return { k: 'leaf', expr: g.maskBit(src.flag.mask, src.flag.flag), core: 'i32' };
  if ('open' in src) return { k: 'leaf', expr: openByName(g, src.open, src.name), core: 'i32' };
  if ('ip' in src) return ipVal(g, src.ip, what);
  if ('some' in src) {
    if (t.kind !== 'option') throw new MappingError(`${what}: 'some' source for a non-option`);
    return { k: 'option', disc: '(i32.const 1)', some: valFor(g, t.inner, src.some, what) };
  }
  if ('empty' in src) return emptyVal(g, t);
  if ('fields' in src) {
    if (t.kind !== 'record') throw new MappingError(`${what}: 'fields' source for a non-record`);
    const unknown = Object.keys(src.fields).filter((f) => !t.fields.some((tf) => tf.name === f));
    if (unknown.length) throw new MappingError(`${what}: ${t.name} has no field ${unknown.join(', ')}`);
    return { k: 'fields', vals: t.fields.map((f) => (f.name in src.fields ? valFor(g, f.type, src.fields[f.name], `${what}.${f.name}`) : emptyVal(g, f.type))) };
  }
  if ('cases' in src) return casesVal(g, t, src.cases, what);
  if ('build' in src) return buildVal(g, t, src.build, what);
  if ('field' in src) return fieldVal(g, t, src.field, src.table, what);
  if ('handleOrNone' in src) {
    if (t.kind !== 'option') throw new MappingError(`${what}: 'handleOrNone' source for a non-option`);
    const input = g.input(src.handleOrNone);
    if (input.kind !== 'value') throw new MappingError(`${what}: ${src.handleOrNone} is not a handle`);
    if (t.inner.kind !== 'own' && t.inner.kind !== 'borrow') throw new MappingError(`${what}: 'handleOrNone' source for an option<${t.inner.kind}>`);
    return { k: 'option', disc: `(i32.eqz (i32.and (local.get ${coreId(input.param)}) (i32.const ${INVALID_BIT | 0})))`, some: guestHandle(g, input, t.inner, true) };
  }
  if ('select' in src) return selectFrom(g, t, src.select, src.index);
  throw new MappingError(`${what}: unknown source`);
}

/** The all-defaults value of a WIT type. */
function emptyVal(g: HostcallContext, t: WType): Val {
  switch (t.kind) {
    case 'record':
      return { k: 'fields', vals: t.fields.map((f) => emptyVal(g, f.type)) };
    case 'tuple':
      return { k: 'fields', vals: t.types.map((ft) => emptyVal(g, ft)) };
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
      const core = g.wit.flatten(t)[0];
      return { k: 'leaf', expr: zero(core), core };
    }
  }
}

/** A variant whose case is the first with a true condition (the last case needs none). */
function casesVal(g: HostcallContext, t: WType, cases: Array<{ case: string; if?: Condition; value?: Source }>, what: string): Val {
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
    const cond = !c.if ? undefined : 'zero' in c.if ? g.allZero(c.if.zero) : g.maskBit(c.if.flag.mask, c.if.flag.flag);
    disc = cond ? `(if (result i32) ${cond} (then (i32.const ${index(c.case)})) (else ${disc}))` : `(i32.const ${index(c.case)})`;
  }
  const local = g.b.local('i32', 'case');
  g.b.emit(`(local.set ${local} ${disc})`);
  const vals: Array<Val | undefined> = t.cases.map(() => undefined);
  for (const c of cases) {
    const payload = t.cases[index(c.case)].type;
    if (!payload !== !c.value) throw new MappingError(`${what}: case ${c.case} ${payload ? 'needs' : 'takes no'} value`);
    if (payload && c.value) vals[index(c.case)] = valFor(g, payload, c.value, `${what}.${c.case}`);
  }
  return { k: 'variant', disc: `(local.get ${local})`, cases: vals };
}

/** A builder struct field: a string from `name` + `name_len`, or a scalar (through `table`). */
function fieldVal(g: HostcallContext, t: WType, ref: string, table: number[] | undefined, what: string): Val {
  // `param.field` reads a WITX struct param; a bare name, the enclosing builder's struct.
  const dot = ref.indexOf('.');
  const name = ref.slice(dot + 1);
  const fieldOf = (field: string) => (dot < 0 ? { ...structFieldOf(g, field), base: g.struct?.base } : g.structField(ref.slice(0, dot), field));
  const field = fieldOf(name);
  const base = field.base;
  if (t.kind === 'string' || t.kind === 'list') {
    const len = fieldOf(`${name}_len`);
    return { k: 'list', ptr: load('i32', 4, base!, field.offset), len: load('i32', 4, base!, len.offset) };
  }
  if (t.kind === 'own' || t.kind === 'borrow') return guestHandleField(g, name, load('i32', 4, base!, field.offset), field.type, t, 'here');
  const size = witxLayout(g.abi, field.type).size;
  const witxCore: CoreType = size === 8 ? 'i64' : 'i32';
  const core = g.wit.flatten(t)[0];
  if (!core || g.wit.flatten(t).length !== 1) throw new MappingError(`${what}: cannot read a ${t.kind} from field ${name}`);
  let value = load(witxCore, size, base!, field.offset);
  if (table) {
    const v = g.b.local('i32', 'v');
    g.b.emit(`(local.set ${v} ${value})`);
    value = table.reduceRight(
      (acc, target, i) => `(if (result i32) (i32.eq (local.get ${v}) (i32.const ${i})) (then (i32.const ${target})) (else ${acc}))`,
      `(block (result i32) ${g.returnStatus('inval')})`,
    );
  }
  return { k: 'leaf', expr: convert(value, witxCore, core), core };
}

function convertInput(g: HostcallContext, t: WType, input: Input, what: string): Val {
  switch (t.kind) {
    case 'own':
    case 'borrow': {
      if (input.kind !== 'value') throw new MappingError(`${what}: expected a handle, got ${input.name}`);
      return guestHandle(g, input, t);
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
      return { k: 'leaf', expr: remapEnum(g, input, t.cases, what), core: 'i32' };
    case 'flags':
      return { k: 'leaf', expr: remapFlags(g, input, t.flags, what), core: 'i32' };
    case 'option': {
      throw new MappingError(`${what}: option params need an explicit source`);
    }
    default: {
      const core = g.wit.flatten(t)[0];
      if (!core || g.wit.flatten(t).length !== 1) throw new MappingError(`${what}: cannot bind ${t.kind} by position`);
      const param = input.kind === 'buffer' ? input.buffer.cap : input.kind === 'value' ? input.param : undefined;
      if (!param) throw new MappingError(`${what}: cannot bind ${input.kind} ${input.name} to ${t.kind}`);
      return { k: 'leaf', expr: convert(`(local.get ${coreId(param)})`, param.core, core), core };
    }
  }
}

function ipVal(g: HostcallContext, name: string, what: string): Val {
  const input = g.input(name);
  if (input.kind !== 'buffer' && input.kind !== 'list') throw new MappingError(`${what}: ${name} is not an octets pointer`);
  const ptr = `(local.get ${coreId(input.kind === 'buffer' ? input.buffer.ptr : input.ptr)})`;
  const len = `(local.get ${coreId(input.kind === 'buffer' ? input.buffer.cap : input.len)})`;
  return ipFrom(g, ptr, len, '(i32.const 1)');
}

/**
 * ip-address from octets: 4 bytes are v4; 16 bytes are v6 as eight big-endian u16s. Any
 * other length is `inval` when `present` holds (an optional address checks only if given).
 */
function ipFrom(g: HostcallContext, ptr: string, len: string, present: string): Val {
  g.b.emit(
    `(if (i32.and ${present} (i32.and (i32.ne ${len} (i32.const 4)) (i32.ne ${len} (i32.const 16)))) (then ${g.returnStatus('inval')}))`,
  );
  const is6 = g.b.local('i32', 'v6');
  g.b.emit(`(local.set ${is6} (i32.eq ${len} (i32.const 16)))`);
  const byte = (i: number): Val => ({ k: 'leaf', expr: load('i32', 1, ptr, i), core: 'i32' });
  const v6 = [0, 1, 2, 3, 4, 5, 6, 7].map((i): Val => ({
    k: 'leaf',
    expr: `(i32.or (i32.shl ${load('i32', 1, ptr, 2 * i)} (i32.const 8)) ${load('i32', 1, ptr, 2 * i + 1)})`,
    core: 'i32',
  }));
  return { k: 'variant', disc: `(local.get ${is6})`, cases: [{ k: 'fields', vals: [0, 1, 2, 3].map(byte) }, { k: 'fields', vals: v6 }] };
}

function remapEnum(g: HostcallContext, input: Input, witCases: string[], what: string): string {
  if (input.kind !== 'value') throw new MappingError(`${what}: expected an enum value`);
  const resolved = resolveType(g.abi, input.type);
  const value = `(local.get ${coreId(input.param)})`;
  if (resolved.kind !== 'enum') return value;
  const witxCases = resolved.cases.map(caseName);
  if (witxCases.every((c, i) => caseName(witCases[i] ?? '') === c)) return value;
  // Differently ordered enums: map each case by name; an unknown value is an invalid argument.
  let expr = `(block (result i32) ${g.returnStatus('inval')})`;
  for (let i = witxCases.length - 1; i >= 0; i--) {
    const target = witCases.map(caseName).indexOf(witxCases[i]);
    if (target < 0) throw new MappingError(`${what}: WITX case ${witxCases[i]} has no WIT counterpart`);
    expr = `(if (result i32) (i32.eq ${value} (i32.const ${i})) (then (i32.const ${target})) (else ${expr}))`;
  }
  return expr;
}

function remapFlags(g: HostcallContext, input: Input, witFlags: string[], what: string): string {
  if (input.kind !== 'value') throw new MappingError(`${what}: expected flags`);
  const resolved = resolveType(g.abi, input.type);
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

/**
 * A WIT options record from a WITX mask + struct: each WIT field `foo-bar` takes WITX field
 * `foo_bar` (or the pair `foo_bar_ptr`/`foo_bar_len`, or `foo_bar`/`foo_bar_len`), present
 * when mask flag `foo_bar` is set; a bool field is the flag itself; `extra` is always none.
 * A set mask flag with no WIT field makes the call `unsupported` rather than silently dropped.
 */
function optionsVal(g: HostcallContext, t: Extract<WType, { kind: 'record' }>, maskName: string, structName: string, rename: Record<string, string>): Val {
  const mask = g.input(maskName);
  const struct = g.input(structName);
  if (mask.kind !== 'value' || struct.kind !== 'struct') throw new MappingError(`${maskName}/${structName} are not a mask and a struct`);
  const maskType = resolveType(g.abi, mask.type);
  if (maskType.kind !== 'flags') throw new MappingError(`${maskName} is not a flags type`);
  const layout = witxLayout(g.abi, struct.type);
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
        return ipFrom(g, load('i32', 4, base, direct.offset), load('i32', 4, base, len.offset), g.maskBit(maskName, snake));
      }
      if (!direct) throw new MappingError(`options field ${field.name}: no WITX field ${snake} in ${structName}`);
      const numbered = direct.type.kind === 'ref' ? NUMBERED_ENUMS[direct.type.name] : undefined;
      if (ft.kind === 'enum' && numbered) {
        // A number outside the enum is an invalid argument (only when its flag says it is there).
        const index = `(i32.sub ${load('i32', 4, base, direct.offset)} (i32.const ${numbered.base}))`;
        const outside = `(i32.ge_u ${index} (i32.const ${ft.cases.length}))`;
        g.b.emit(`(if ${hasFlag ? `(i32.and ${g.maskBit(maskName, snake)} ${outside})` : outside} (then ${g.returnStatus('inval')}))`);
        return { k: 'leaf', expr: index, core: 'i32' };
      }
      const flat = g.wit.flatten(ft);
      const size = witxLayout(g.abi, direct.type).size;
      const core = flat[0];
      const witxCore: CoreType = size === 8 ? 'i64' : 'i32';
      if (ft.kind === 'own' || ft.kind === 'borrow') {
        const present = hasFlag ? g.maskBit(maskName, snake) : '(i32.const 1)';
        return guestHandleField(g, `${structName}.${snake}`, load('i32', 4, base, direct.offset), direct.type, ft, { present });
      }
      if (ft.kind === 'option') {
        return { k: 'leaf', expr: load('i32', 4, base, direct.offset), core: 'i32' };
      }
      return { k: 'leaf', expr: convert(load(witxCore, size, base, direct.offset), witxCore, core), core };
    };
    if (field.type.kind === 'bool') {
      if (hasFlag) return { k: 'leaf', expr: g.maskBit(maskName, snake), core: 'i32' };
      return loadField(field.type);
    }
    if (field.type.kind === 'option') {
      // A WIT-only optional field (no legacy flag) is simply absent.
      if (!hasFlag) return { k: 'option', disc: '(i32.const 0)' };
      const some = loadField(field.type.inner);
      return { k: 'option', disc: g.maskBit(maskName, snake), some: guard(some, g.maskBit(maskName, snake)) };
    }
    return loadField(field.type);
  });
  rejectUnknownFlags(g, maskName, used);
  return { k: 'fields', vals };
}

/** A set mask flag that nothing maps answers `unsupported` rather than being dropped silently. */
export function rejectUnknownFlags(g: HostcallContext, maskName: string, used: Set<string>): void {
  const mask = g.input(maskName);
  if (mask.kind !== 'value') throw new MappingError(`${maskName} is not a flags param`);
  const maskType = resolveType(g.abi, mask.type);
  if (maskType.kind !== 'flags') throw new MappingError(`${maskName} is not a flags param`);
  for (const flag of used) if (!maskType.members.includes(flag)) throw new MappingError(`${maskName} has no flag ${flag}`);
  const unknown = maskType.members
    .map((m, bit) => ({ m, bit }))
    .filter(({ m }) => !m.startsWith('reserved') && !used.has(m));
  if (unknown.length) {
    const bits = unknown.reduce((acc, { bit }) => acc | (1 << bit), 0);
    g.b.emit(
      `(if (i32.and (local.get ${coreId(mask.param)}) (i32.const ${bits})) (then ${g.returnStatus('unsupported')})) ;; ${unknown.map((u) => u.m).join(', ')}`,
    );
  }
}
