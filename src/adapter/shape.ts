import {
  lowerFunction,
  resolveType,
  type LoweredParam,
  type WitxAbi,
  type WitxFunction,
  type WitxType,
} from '../witx/index.js';
import { HandleKind, kindOfWitxType } from './handle-tags.js';

/**
 * A legacy hostcall's params sorted by what they carry, in WITX order. WIT functions take the
 * same inputs in the same order, with an output buffer's capacity standing where the buffer was
 * (`max-len`, `chunk-size`), so most hostcalls bind to their WIT call by position.
 */
export interface HostcallShape {
  fn: WitxFunction;
  /** Every core param of the export, in order. */
  core: LoweredParam[];
  inputs: Input[];
  /** Out-pointer params (not buffers) then the `expected` ok-value out-pointers. */
  outs: OutSlot[];
  /** Output buffers (a `pointer` to bytes + its capacity), where list results land. */
  buffers: Buffer[];
}

export type Input =
  | { kind: 'value'; name: string; param: LoweredParam; type: WitxType }
  | { kind: 'list'; name: string; ptr: LoweredParam; len: LoweredParam; type: WitxType }
  | { kind: 'buffer'; name: string; buffer: Buffer }
  /** A pointer to a record the guest filled in (options structs, configs). */
  | { kind: 'struct'; name: string; param: LoweredParam; type: WitxType };

export interface Buffer {
  name: string;
  ptr: LoweredParam;
  cap: LoweredParam;
}

export interface OutSlot {
  name: string;
  param: LoweredParam;
  /** The type stored through the pointer. */
  type: WitxType;
}

export function hostcallShape(abi: WitxAbi, fn: WitxFunction): HostcallShape {
  const core = lowerFunction(abi, fn).params;
  const byName = (source: string) => core.filter((p) => p.source === source);
  const inputs: Input[] = [];
  const outs: OutSlot[] = [];
  const buffers: Buffer[] = [];

  for (let i = 0; i < fn.params.length; i++) {
    const param = fn.params[i];
    const lowered = byName(param.name);
    const resolved = resolveType(abi, param.type);
    if (resolved.kind === 'list' || resolved.kind === 'string') {
      inputs.push({ kind: 'list', name: param.name, ptr: lowered[0], len: lowered[1], type: param.type });
      continue;
    }
    if (resolved.kind === 'pointer' || resolved.kind === 'constPointer') {
      const target = resolveType(abi, resolved.target);
      const next = fn.params[i + 1];
      const nextIsLen = next && isUsize(abi, next.type);
      if (target.kind === 'builtin' && (target.name === 'u8' || target.name === 'char8') && nextIsLen) {
        const buffer = { name: param.name, ptr: lowered[0], cap: byName(next.name)[0] };
        // A `const_pointer` is the guest's bytes to read (IP octets): never where a result lands.
        if (resolved.kind === 'pointer') buffers.push(buffer);
        inputs.push({ kind: 'buffer', name: param.name, buffer });
        i++;
      } else if (target.kind === 'record' && resolved.kind === 'pointer' && !param.name.endsWith('_out')) {
        inputs.push({ kind: 'struct', name: param.name, param: lowered[0], type: resolved.target });
      } else {
        outs.push({ name: param.name, param: lowered[0], type: resolved.target });
      }
      continue;
    }
    // Records passed "by value" are lowered to a pointer all the same.
    if (resolved.kind === 'record') {
      inputs.push({ kind: 'struct', name: param.name, param: lowered[0], type: param.type });
      continue;
    }
    inputs.push({ kind: 'value', name: param.name, param: lowered[0], type: param.type });
  }
  for (const p of core) if (p.role === 'out') outs.push({ name: p.name, param: p, type: p.type });
  return { fn, core, inputs, outs, buffers };
}

function isUsize(abi: WitxAbi, t: WitxType): boolean {
  const r = resolveType(abi, t);
  return r.kind === 'builtin' && r.name === 'usize';
}

/** The dynamic handle kind of a WITX type: its own name or any alias it goes through. */
export function handleKind(abi: WitxAbi, t: WitxType): HandleKind {
  let current: WitxType | undefined = t;
  while (current?.kind === 'ref') {
    const kind = kindOfWitxType(current.name);
    if (kind !== HandleKind.Other) return kind;
    current = abi.types.get(current.name)?.type;
  }
  return HandleKind.Other;
}

export function coreId(p: LoweredParam): string {
  return `$${p.name}`;
}
