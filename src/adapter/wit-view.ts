import type { CoreType } from './wat.js';

/**
 * The slice of the component ABI the adapter generator reads: resolved WIT types (aliases
 * followed) and, per imported function, its core import and canonical-ABI flattening.
 * Built from `src/wit` by `witViewFor` (see wit-bind.ts).
 */
export type WType =
  | { kind: 'bool' | 'u8' | 's8' | 'u16' | 's16' | 'u32' | 's32' | 'u64' | 's64' | 'f32' | 'f64' | 'char' | 'string' }
  | { kind: 'list'; element: WType }
  | { kind: 'option'; inner: WType }
  | { kind: 'result'; ok?: WType; err?: WType }
  | { kind: 'tuple'; types: WType[] }
  | { kind: 'record'; name: string; fields: Array<{ name: string; type: WType }> }
  | { kind: 'variant'; name: string; cases: Array<{ name: string; type?: WType }> }
  | { kind: 'enum'; name: string; cases: string[] }
  | { kind: 'flags'; name: string; flags: string[] }
  /** `iface` names the defining interface as mapping refs do (`http-req`, `adapter:…`). */
  | { kind: 'own' | 'borrow'; resource: string; iface: string };

/** A resource handle type. */
export type WHandle = Extract<WType, { kind: 'own' | 'borrow' }>;

export interface WitFunctionView {
  /** `interface/function` as written in mappings, for messages. */
  ref: string;
  importModule: string;
  importName: string;
  params: Array<{ name: string; type: WType }>;
  result?: WType;
  flatParams: CoreType[];
  paramsIndirect: boolean;
  flatResults: CoreType[];
  resultsIndirect: boolean;
}

export interface TypeLayout {
  size: number;
  align: number;
  /** Record fields / tuple elements. */
  offsets?: number[];
  /** Variants, options and results: where the payload starts, and the discriminant's size. */
  payloadOffset?: number;
  discSize?: number;
}

export interface WitView {
  /** Looks up `iface/func`, `iface/resource.method` (method or static) or `iface/resource.new`. */
  func(ref: string): WitFunctionView;
  layout(t: WType): TypeLayout;
  flatten(t: WType): CoreType[];
}
