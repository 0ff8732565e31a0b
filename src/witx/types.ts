export interface WitxLoc {
  file: string;
  line: number;
  column: number;
}

export type WitxInt = 'u8' | 'u16' | 'u32' | 'u64' | 's8' | 's16' | 's32' | 's64';

/** Scalars that need no further definition; `char8` and `usize` come from `(@witx ...)`. */
export type WitxBuiltin = WitxInt | 'f32' | 'f64' | 'char' | 'char8' | 'usize';

export interface WitxField {
  name: string;
  type: WitxType;
}

export type WitxType =
  | { kind: 'builtin'; name: WitxBuiltin }
  | { kind: 'string' }
  /** A use of a `typename`; `name` has no `$`. Kept unresolved so callers can tell handles apart. */
  | { kind: 'ref'; name: string; loc: WitxLoc }
  | { kind: 'handle' }
  | { kind: 'enum'; tag: WitxInt; cases: string[] }
  | { kind: 'flags'; repr: WitxInt; members: string[] }
  | { kind: 'record'; fields: WitxField[] }
  | { kind: 'tuple'; elements: WitxType[] }
  | { kind: 'list'; element: WitxType }
  | { kind: 'pointer'; target: WitxType }
  | { kind: 'constPointer'; target: WitxType }
  | { kind: 'expected'; ok?: WitxType; error: WitxType };

/** A type with the outermost typename references followed. */
export type ResolvedWitxType = Exclude<WitxType, { kind: 'ref' }>;

export interface WitxTypeDef {
  name: string;
  type: WitxType;
  doc?: string;
  loc: WitxLoc;
}

export interface WitxParam {
  name: string;
  type: WitxType;
}

export interface WitxFunction {
  module: string;
  name: string;
  params: WitxParam[];
  results: WitxParam[];
  doc?: string;
  loc: WitxLoc;
}

export interface WitxModule {
  name: string;
  functions: WitxFunction[];
  doc?: string;
  loc: WitxLoc;
}

/** One parsed file, before its type references are checked against the other files. */
export interface WitxDocument {
  file: string;
  uses: { path: string; loc: WitxLoc }[];
  types: WitxTypeDef[];
  modules: WitxModule[];
}

export interface WitxAbi {
  modules: WitxModule[];
  /** By name without `$`. */
  types: Map<string, WitxTypeDef>;
}
