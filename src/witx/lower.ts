import { WitxLoweringError } from './errors.js';
import { resolveType, typeName } from './resolve.js';
import type { WitxAbi, WitxFunction, WitxInt, WitxParam, WitxType } from './types.js';

export type CoreType = 'i32' | 'i64' | 'f32' | 'f64';

/**
 * How a core param relates to its WITX source: `value` carries the value itself, `ptr`/`len`
 * address guest memory holding it (a list's elements, or a record passed by reference), and
 * `out` addresses memory where the host stores one ok-value of an `expected` result.
 */
export type LoweredRole = 'value' | 'ptr' | 'len' | 'out';

export interface LoweredParam {
  name: string;
  core: CoreType;
  /** Name of the WITX param or result this came from. */
  source: string;
  role: LoweredRole;
  /** The WITX type as written (named references kept); for `out`, the type stored there. */
  type: WitxType;
}

export interface LoweredFunction {
  module: string;
  name: string;
  params: LoweredParam[];
  results: CoreType[];
}

export interface CoreSignature {
  params: CoreType[];
  results: CoreType[];
}

/**
 * The core wasm signature of a WITX function under the legacy (WASI preview1 style) lowering that
 * the Fastly SDKs and hosts use. Only one result is allowed; an `expected` result becomes the
 * lowered error value as the return value, plus one out-pointer param per ok value (per tuple
 * element), appended after the lowered params.
 */
export function lowerFunction(abi: WitxAbi, fn: WitxFunction): LoweredFunction {
  const where = `${fn.module}#${fn.name}`;
  const params: LoweredParam[] = [];
  const add = (p: Omit<LoweredParam, 'name'>, name: string) => {
    let unique = name;
    for (let n = 2; params.some((q) => q.name === unique); n++) unique = `${name}_${n}`;
    params.push({ ...p, name: unique });
  };

  for (const param of fn.params) lowerParam(abi, param, where, add);

  if (fn.results.length > 1) {
    throw new WitxLoweringError(`${where} has ${fn.results.length} results; the lowering allows at most one`);
  }
  const results: CoreType[] = [];
  const result = fn.results[0];
  if (result) {
    const resolved = resolveType(abi, result.type);
    if (resolved.kind === 'expected') {
      results.push(scalarCore(abi, resolved.error, `error type of result $${result.name} of ${where}`));
      if (resolved.ok) {
        const ok = resolveType(abi, resolved.ok);
        const stored = ok.kind === 'tuple' ? ok.elements : [resolved.ok];
        stored.forEach((type, i) => {
          const base = typeName(type) ?? (stored.length > 1 ? `${result.name}${i}` : result.name);
          add({ core: 'i32', source: result.name, role: 'out', type }, `${base}_out`);
        });
      }
    } else {
      results.push(scalarCore(abi, result.type, `result $${result.name} of ${where}`));
    }
  }
  return { module: fn.module, name: fn.name, params, results };
}

function lowerParam(
  abi: WitxAbi,
  param: WitxParam,
  where: string,
  add: (p: Omit<LoweredParam, 'name'>, name: string) => void,
): void {
  const resolved = resolveType(abi, param.type);
  const base = { source: param.name, type: param.type };
  switch (resolved.kind) {
    case 'string':
    case 'list':
      add({ ...base, core: 'i32', role: 'ptr' }, `${param.name}_ptr`);
      add({ ...base, core: 'i32', role: 'len' }, `${param.name}_len`);
      return;
    case 'record':
    case 'tuple':
    case 'expected':
      // Aggregates travel by reference: the caller passes the address of the value in its memory.
      add({ ...base, core: 'i32', role: 'ptr' }, param.name);
      return;
    default:
      add({ ...base, core: scalarCore(abi, param.type, `param $${param.name} of ${where}`), role: 'value' }, param.name);
  }
}

/** The single core value type of a type that lowers to exactly one value. */
export function scalarCore(abi: WitxAbi, t: WitxType, ctx: string): CoreType {
  const resolved = resolveType(abi, t);
  switch (resolved.kind) {
    case 'builtin':
      if (resolved.name === 'f32' || resolved.name === 'f64') return resolved.name;
      return resolved.name === 'u64' || resolved.name === 's64' ? 'i64' : 'i32';
    case 'enum':
      return intCore(resolved.tag);
    case 'flags':
      return intCore(resolved.repr);
    case 'handle':
    case 'pointer':
    case 'constPointer':
      return 'i32';
    default:
      throw new WitxLoweringError(`${ctx}: a ${resolved.kind} does not lower to a single core value`);
  }
}

function intCore(repr: WitxInt): CoreType {
  return repr === 'u64' || repr === 's64' ? 'i64' : 'i32';
}

export function coreSignature(lf: LoweredFunction): CoreSignature {
  return { params: lf.params.map((p) => p.core), results: [...lf.results] };
}

/** The signature as WAT text, e.g. `(param i32 i32) (result i32)`. */
export function coreSignatureText(lf: LoweredFunction): string {
  const parts: string[] = [];
  if (lf.params.length > 0) parts.push(`(param ${lf.params.map((p) => p.core).join(' ')})`);
  if (lf.results.length > 0) parts.push(`(result ${lf.results.join(' ')})`);
  return parts.join(' ');
}
