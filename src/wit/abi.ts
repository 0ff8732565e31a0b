// The Canonical ABI's memory layout and flattening of WIT types
// (component-model design/mvp/CanonicalABI.md), for wasm32.

import { dealiasType, type Primitive, type WitFunction, type WitResolve, type WitType, type WitTypeDef } from './model.js';
import { findFunction } from './lookup.js';

export type CoreType = 'i32' | 'i64' | 'f32' | 'f64';

export const MAX_FLAT_PARAMS = 16;
export const MAX_FLAT_RESULTS = 1;

interface Member {
  name: string;
  type?: WitType;
}

/** A type with the specializations (tuple, enum, option, result, string) rewritten to their general form. */
type Shape =
  | { kind: 'scalar'; size: number; flat: CoreType }
  | { kind: 'list' }
  | { kind: 'record'; fields: Array<Required<Member>> }
  | { kind: 'variant'; cases: Member[] }
  | { kind: 'flags'; count: number }
  | { kind: 'handle' };

const SCALARS: Record<Exclude<Primitive, 'string'>, { size: number; flat: CoreType }> = {
  bool: { size: 1, flat: 'i32' },
  s8: { size: 1, flat: 'i32' },
  u8: { size: 1, flat: 'i32' },
  s16: { size: 2, flat: 'i32' },
  u16: { size: 2, flat: 'i32' },
  s32: { size: 4, flat: 'i32' },
  u32: { size: 4, flat: 'i32' },
  char: { size: 4, flat: 'i32' },
  s64: { size: 8, flat: 'i64' },
  u64: { size: 8, flat: 'i64' },
  f32: { size: 4, flat: 'f32' },
  f64: { size: 8, flat: 'f64' },
};

function shape(type: WitType): Shape {
  const t = dealiasType(type);
  switch (t.kind) {
    case 'string':
    case 'list':
      return { kind: 'list' };
    case 'tuple':
      return { kind: 'record', fields: t.types.map((type, i) => ({ name: String(i), type })) };
    case 'option':
      return { kind: 'variant', cases: [{ name: 'none' }, { name: 'some', type: t.inner }] };
    case 'result':
      return { kind: 'variant', cases: [{ name: 'ok', type: t.ok }, { name: 'error', type: t.err }] };
    case 'own':
    case 'borrow':
      return { kind: 'handle' };
    case 'named':
      return namedShape(t.def);
    default:
      return { kind: 'scalar', ...SCALARS[t.kind] };
  }
}

function namedShape(def: WitTypeDef): Shape {
  switch (def.kind) {
    case 'record':
      return { kind: 'record', fields: def.fields };
    case 'variant':
      return { kind: 'variant', cases: def.cases };
    case 'enum':
      return { kind: 'variant', cases: def.cases.map((c) => ({ name: c.name })) };
    case 'flags':
      if (def.flags.length === 0) throw new Error(`flags \`${def.name}\` has no members`);
      return { kind: 'flags', count: def.flags.length };
    case 'resource':
      return { kind: 'handle' };
    case 'alias':
      return shape(def.target);
  }
}

function alignTo(offset: number, align: number): number {
  return Math.ceil(offset / align) * align;
}

/** Size in bytes of a variant's discriminant. */
export function discriminantSize(caseCount: number): 1 | 2 | 4 {
  if (caseCount <= 0x100) return 1;
  if (caseCount <= 0x10000) return 2;
  return 4;
}

/**
 * Flags up to 32 take the smallest of u8/u16/u32; larger ones take a u32 per
 * 32 flags. (The current spec caps flags at 32, but wasm-tools still accepts
 * more and lays them out this way.)
 */
function flagsSize(count: number): number {
  if (count <= 8) return 1;
  if (count <= 16) return 2;
  return 4 * Math.ceil(count / 32);
}

export function alignOf(type: WitType): number {
  const s = shape(type);
  switch (s.kind) {
    case 'scalar':
      return s.size;
    case 'list':
    case 'handle':
      return 4;
    case 'record':
      return Math.max(1, ...s.fields.map((f) => alignOf(f.type)));
    case 'variant':
      return Math.max(discriminantSize(s.cases.length), maxCaseAlign(s.cases));
    case 'flags':
      return Math.min(flagsSize(s.count), 4);
  }
}

function maxCaseAlign(cases: Member[]): number {
  return Math.max(1, ...cases.map((c) => (c.type ? alignOf(c.type) : 1)));
}

export function sizeOf(type: WitType): number {
  const s = shape(type);
  switch (s.kind) {
    case 'scalar':
      return s.size;
    case 'list':
      return 8;
    case 'handle':
      return 4;
    case 'record': {
      let size = 0;
      for (const f of s.fields) size = alignTo(size, alignOf(f.type)) + sizeOf(f.type);
      return alignTo(size, alignOf(type));
    }
    case 'variant': {
      const payload = Math.max(0, ...s.cases.map((c) => (c.type ? sizeOf(c.type) : 0)));
      return alignTo(alignTo(discriminantSize(s.cases.length), maxCaseAlign(s.cases)) + payload, alignOf(type));
    }
    case 'flags':
      return flagsSize(s.count);
  }
}

export type Layout =
  | { kind: 'scalar' | 'list' | 'handle'; size: number; align: number }
  | {
      kind: 'record';
      size: number;
      align: number;
      /** Tuple elements are named `0`, `1`, ... */
      fields: Array<{ name: string; type: WitType; offset: number }>;
    }
  | {
      /** Also enums, options (`none`, `some`) and results (`ok`, `error`). */
      kind: 'variant';
      size: number;
      align: number;
      discriminantSize: 1 | 2 | 4;
      /** Where every case's payload starts (the discriminant is at offset 0). */
      payloadOffset: number;
      cases: Array<{ name: string; type?: WitType }>;
    }
  | { kind: 'flags'; size: number; align: number; count: number };

/** How a value of `type` is laid out in linear memory. */
export function layout(type: WitType): Layout {
  const s = shape(type);
  const size = sizeOf(type);
  const align = alignOf(type);
  switch (s.kind) {
    case 'scalar':
    case 'list':
    case 'handle':
      return { kind: s.kind, size, align };
    case 'record': {
      let offset = 0;
      const fields = s.fields.map((f) => {
        offset = alignTo(offset, alignOf(f.type));
        const field = { name: f.name, type: f.type, offset };
        offset += sizeOf(f.type);
        return field;
      });
      return { kind: 'record', size, align, fields };
    }
    case 'variant': {
      const disc = discriminantSize(s.cases.length);
      const cases = s.cases.map((c) => (c.type ? { name: c.name, type: c.type } : { name: c.name }));
      return { kind: 'variant', size, align, discriminantSize: disc, payloadOffset: alignTo(disc, maxCaseAlign(s.cases)), cases };
    }
    case 'flags':
      return { kind: 'flags', size, align, count: s.count };
  }
}

/** Where two cases put different core types in the same slot, the slot takes a type that holds both. */
function join(a: CoreType, b: CoreType): CoreType {
  if (a === b) return a;
  if ((a === 'i32' && b === 'f32') || (a === 'f32' && b === 'i32')) return 'i32';
  return 'i64';
}

/** The core values that represent `type` when passed as parameters or results. */
export function flatten(type: WitType): CoreType[] {
  const s = shape(type);
  switch (s.kind) {
    case 'scalar':
      return [s.flat];
    case 'list':
      return ['i32', 'i32'];
    case 'handle':
      return ['i32'];
    case 'record':
      return s.fields.flatMap((f) => flatten(f.type));
    case 'flags':
      return Array<CoreType>(Math.ceil(s.count / 32)).fill('i32');
    case 'variant': {
      const payload: CoreType[] = [];
      for (const c of s.cases) {
        if (!c.type) continue;
        flatten(c.type).forEach((t, i) => {
          payload[i] = i < payload.length ? join(payload[i], t) : t;
        });
      }
      // Discriminants of every size are passed as an i32.
      return ['i32', ...payload];
    }
  }
}

export interface CoreSignature {
  params: CoreType[];
  results: CoreType[];
  /** More than MAX_FLAT_PARAMS core params: a single i32 points at them in memory. */
  paramsIndirect: boolean;
  /**
   * More than MAX_FLAT_RESULTS core results. Lowered (an import called by core
   * code), the caller passes a return area as an extra trailing i32 param and
   * the function returns nothing; lifted (a core export), it returns an i32
   * pointer to its results.
   */
  resultsIndirect: boolean;
}

/**
 * The core signature of a function under the synchronous Canonical ABI:
 * `lower` for imports as core code calls them, `lift` for exports as core code
 * implements them. `fn` may be given as `<interface id>#<function name>`.
 */
export function flattenFunction(resolve: WitResolve, fn: WitFunction | string, context: 'lower' | 'lift'): CoreSignature {
  const f = typeof fn === 'string' ? findFunction(resolve, fn) : fn;
  let params = f.params.flatMap((p) => flatten(p.type));
  let results = f.result ? flatten(f.result) : [];
  const paramsIndirect = params.length > MAX_FLAT_PARAMS;
  const resultsIndirect = results.length > MAX_FLAT_RESULTS;
  if (paramsIndirect) params = ['i32'];
  if (resultsIndirect) {
    if (context === 'lift') {
      results = ['i32'];
    } else {
      params = [...params, 'i32'];
      results = [];
    }
  }
  return { params, results, paramsIndirect, resultsIndirect };
}
