import type { WitxAbi } from '../../witx/index.js';
import type { ImportTable } from '../import-table.js';
import { asCall, isBranch, isCall, MappingError, type CallMapping, type Mapping, type MethodCall, type Out } from '../mapping.js';
import { coreId, hostcallShape } from '../shape.js';
import { Status, type StatusName } from '../status.js';
import { flattenVal, storeVal, type Val } from '../values.js';
import { FnBuilder, store } from '../wat.js';
import type { WitView, WType } from '../wit-view.js';
import { HostcallContext } from './context.js';
import { emitResultError } from './errors.js';
import { checkInputsConsumed, valueRangeChecks, valFor } from './inputs.js';
import { dest, planOuts, writeOut, type Directive } from './outputs.js';
import { consumedGuestHandles, emitReadyCheck, guestHandle, textChecks } from './resources.js';

/**
 * The generator of one legacy hostcall's export, split by concern: `context.ts` (shared state
 * and small lookups), `inputs.ts` (WITX inputs → WIT values), `outputs.ts` (WIT results → WITX
 * outs), `errors.ts` (WIT errors → statuses and the mapping's error forms), `resources.ts`
 * (handles: checks, builders, resources opened by name, select).
 */
export function generateHostcall(
  abi: WitxAbi,
  wit: WitView,
  imports: ImportTable,
  module: string,
  name: string,
  mapping: Mapping,
): GeneratedHostcall {
  const fn = abi.modules.find((m) => m.name === module)?.functions.find((f) => f.name === name);
  if (!fn) throw new MappingError(`${module}#${name}: not a WITX hostcall`);
  const shape = hostcallShape(abi, fn);
  const b = new FnBuilder(
    `${module}#${name}`,
    shape.core.map((p) => ({ id: coreId(p), core: p.core })),
    'i32',
  );
  const context = () => new HostcallContext(abi, wit, imports, shape, b);
  const rangeChecks = valueRangeChecks(abi, shape);
  if (rangeChecks.length) b.statuses.add('inval');
  b.emit(...rangeChecks);
  try {
    if (typeof mapping === 'object' && 'unsupported' in mapping) {
      b.emit(`(i32.const ${Status.unsupported})`);
    } else if (isCall(mapping)) {
      generate(context(), asCall(mapping));
    } else if (isBranch(mapping)) {
      const param = shape.inputs.find((i) => i.name === mapping.branch);
      if (param?.kind !== 'value') throw new MappingError(`no WITX value param ${mapping.branch} to branch on`);
      mapping.cases.forEach((c, i) => {
        b.emit(`(if (i32.eq (local.get ${coreId(param.param)}) (i32.const ${i})) (then`);
        generate(context(), asCall(c), [mapping.branch]);
        b.emit('return))');
      });
      b.statuses.add('inval');
      b.emit(`(i32.const ${Status.inval})`);
    } else {
      const handleChecks = (ref: string, args: Array<string | undefined>): string[] => {
        const g = context();
        g.guards = [];
        imports.view(ref).params.forEach((p, i) => {
          const input = args[i] === undefined ? undefined : shape.inputs.find((x) => x.name === args[i]);
          if (args[i] === undefined) return;
          if (input?.kind !== 'value' || (p.type.kind !== 'own' && p.type.kind !== 'borrow')) throw new MappingError(`${args[i]} is not a handle for ${ref}`);
          guestHandle(g, input, p.type);
        });
        return g.guards;
      };
      mapping.body(b, shape, (ref) => imports.id(ref), { abi, wit, view: (ref) => imports.view(ref), handleChecks });
    }
  } catch (err) {
    if (err instanceof MappingError) throw new MappingError(`${module}#${name}: ${err.message}`);
    throw err;
  }
  return { wat: b.toWat(), statuses: [...b.statuses] };
}

export interface GeneratedHostcall {
  wat: string;
  /** The statuses the generated code answers with by itself (see `FnBuilder.statuses`). */
  statuses: StatusName[];
}

/** `consumed`: WITX inputs already decided on (a branch's selector), skipped when binding. */
function generate(g: HostcallContext, mapping: CallMapping, consumed: string[] = []): void {
  g.consumed = new Set(consumed);
  g.top = mapping;
  g.b.emit('(call $scratch_reset)');
  for (const init of mapping.initially ?? []) g.b.emit(g.writeTo(init.out, `(i32.const ${init.value})`));
  if (mapping.detail) {
    const { addr, size } = g.detailStruct();
    g.b.emit(`(memory.fill ${addr} (i32.const 0) (i32.const ${size}))`);
  }
  g.guards = g.b.hole();
  if (mapping.whenReady) emitReadyCheck(g, mapping.whenReady);
  emitCall(g, mapping, undefined, true);
  for (const extra of mapping.also ?? []) {
    let value = `(i32.const ${extra.value ?? 0})`;
    if (extra.lenOf) {
      const input = g.input(extra.lenOf);
      if (input.kind !== 'list') throw new MappingError(`${extra.lenOf} is not a list`);
      value = `(local.get ${coreId(input.len)})`;
    }
    g.b.emit(g.writeTo(extra.out, value));
  }
  if (mapping.detail) g.b.emit(g.writeTo(`${mapping.detail}.tag`, `(i32.const ${g.witxCase(`${mapping.detail}.tag`, 'ok')})`));
  if (mapping.errorOut) g.b.emit(g.writeTo(mapping.errorOut, `(i32.const ${g.witxCase(mapping.errorOut, 'ok')})`));
  g.b.emit(...g.dropAll(), `(i32.const ${Status.ok})`);
}

/**
 * Emits one WIT call. `self` binds the first WIT param (a method on a resource the hostcall
 * holds); `top` marks the hostcall's own call, to which the mapping's error forms apply;
 * `keep` stores the (handle) result in that local instead of binding outputs.
 */
export function emitCall(g: HostcallContext, mapping: CallMapping | MethodCall, self?: string, top = false, keep?: string): void {
  const fn = g.imports.view(mapping.call);
  const id = g.imports.id(mapping.call);
  const explicit = self ? [undefined, ...(mapping.args ?? [])] : mapping.args;
  const args = fn.params.map((p, i) =>
    self && i === 0
      ? ({ k: 'leaf', expr: self, core: 'i32' } as Val)
      : valFor(g, p.type, explicit?.[i], `param ${p.name} of ${fn.ref}`),
  );
  if (top) checkInputsConsumed(g, mapping, fn);
  fn.params.forEach((p, i) => textChecks(p.type, args[i], `param ${p.name} of ${fn.ref}`).forEach((bad) => g.checkText(bad)));

  const outs: Directive[] = keep ? [{ keep }] : planOuts(g, fn, mapping.out);
  const firstBuffer = outs.find((o): o is Extract<Out, { buf: string }> => typeof o === 'object' && 'buf' in o);
  const operands: string[] = [];
  if (fn.paramsIndirect) {
    const tuple: WType = { kind: 'tuple', types: fn.params.map((p) => p.type) };
    const lay = g.wit.layout(tuple);
    const area = g.b.local('i32', 'args');
    g.b.emit(`(local.set ${area} (call $alloc (i32.const ${lay.size}) (i32.const ${lay.align})))`);
    storeVal(g.wit, g.b, tuple, { k: 'fields', vals: args }, area, 0);
    operands.push(`(local.get ${area})`);
  } else {
    fn.params.forEach((p, i) => operands.push(...flattenVal(g.wit, p.type, args[i])));
  }
  if (firstBuffer) {
    const target = dest(g, firstBuffer);
    g.b.emit(`(call $arm_dest ${target.ptr} ${target.cap})`);
  }
  const ret = g.b.local('i32', 'ret');
  if (fn.resultsIndirect) {
    const lay = g.wit.layout(fn.result!);
    g.b.emit(`(local.set ${ret} (call $alloc (i32.const ${lay.size}) (i32.const ${lay.align})))`);
    g.b.emit(`(call ${id} ${[...operands, `(local.get ${ret})`].join(' ')})`);
  } else if (fn.result) {
    const lay = g.wit.layout(fn.result);
    g.b.emit(`(local.set ${ret} (call $alloc (i32.const ${lay.size}) (i32.const ${lay.align})))`);
    g.b.emit(store(fn.flatResults[0], lay.size, `(local.get ${ret})`, 0, `(call ${id} ${operands.join(' ')})`));
  } else {
    g.b.emit(`(call ${id} ${operands.join(' ')})`);
  }
  // Resources passed as `own` now belong to the host: no way out may drop them any more, and
  // the guest's handles to them are dead.
  fn.params.forEach((p, i) => {
    const arg = args[i];
    if (p.type.kind === 'own' && arg.k === 'leaf' && arg.resource) g.drops = g.drops.filter((d) => d.local !== arg.resource);
    g.b.emit(...consumedGuestHandles(g.wit, p.type, arg));
  });
  if (firstBuffer) g.b.emit('(global.set $dest_armed (i32.const 0))');
  if (!fn.result) return;

  let okType: WType | undefined = fn.result;
  let okOffset = 0;
  if (fn.result.kind === 'result') {
    emitResultError(g, fn.result, ret, top, firstBuffer ? g.lengthOut(firstBuffer.nwritten) : undefined);
    okType = fn.result.ok;
    okOffset = g.wit.layout(fn.result).payloadOffset ?? 0;
  }
  if (okType) {
    const pending = [...outs];
    writeOut(g, okType, ret, okOffset, pending, `result of ${fn.ref}`);
    if (pending.length) throw new MappingError(`unused outputs ${JSON.stringify(pending)}`);
  }
}
