// Syntax tree of a WIT file, close to the source text so that it can be
// printed back (see printer.ts) as well as resolved (see resolve.ts).

export const PRIMITIVES = [
  'bool',
  's8',
  'u8',
  's16',
  'u16',
  's32',
  'u32',
  's64',
  'u64',
  'f32',
  'f64',
  'char',
  'string',
] as const;
export type Primitive = (typeof PRIMITIVES)[number];

export interface PackageName {
  namespace: string;
  name: string;
  version?: string;
}

/** `@since(version = 0.2.0)`, `@unstable(feature = x)`, `@deprecated(version = 0.1.0)`. */
export interface Gate {
  kind: string;
  args: Array<{ key: string; value: string }>;
}

export interface Node {
  line: number;
}

export interface Item extends Node {
  docs: string[];
  gates: Gate[];
}

/** An interface reference: local (`streams`) or qualified (`wasi:io/streams@0.2.6`). */
export interface InterfacePath extends Node {
  package?: PackageName;
  name: string;
}

export type TypeExpr =
  | { kind: 'primitive'; name: Primitive }
  | { kind: 'list'; element: TypeExpr }
  | { kind: 'option'; inner: TypeExpr }
  | { kind: 'result'; ok?: TypeExpr; err?: TypeExpr }
  | { kind: 'tuple'; types: TypeExpr[] }
  | { kind: 'handle'; handle: 'own' | 'borrow'; resource: string; line: number }
  | { kind: 'ref'; name: string; line: number };

export interface Param {
  name: string;
  type: TypeExpr;
}

export interface FuncSig {
  params: Param[];
  result?: TypeExpr;
}

export interface Member extends Item {
  name: string;
}

export interface Field extends Member {
  type: TypeExpr;
}

export interface Case extends Member {
  type?: TypeExpr;
}

export interface ResourceFunc extends Item {
  kind: 'constructor' | 'method' | 'static';
  /** Empty for the constructor. */
  name: string;
  sig: FuncSig;
}

export type TypeItem =
  | (Item & { kind: 'use'; from: InterfacePath; names: Array<{ name: string; as?: string }> })
  | (Item & { kind: 'type'; name: string; type: TypeExpr })
  | (Item & { kind: 'record'; name: string; fields: Field[] })
  | (Item & { kind: 'variant'; name: string; cases: Case[] })
  | (Item & { kind: 'enum'; name: string; cases: Member[] })
  | (Item & { kind: 'flags'; name: string; flags: Member[] })
  /** `funcs` is undefined for the short form `resource r;`. */
  | (Item & { kind: 'resource'; name: string; funcs?: ResourceFunc[] });

export type InterfaceItem = TypeItem | (Item & { kind: 'func'; name: string; sig: FuncSig });

export type ExternTarget =
  | { kind: 'path'; path: InterfacePath }
  | { kind: 'func'; name: string; sig: FuncSig }
  | { kind: 'interface'; name: string; items: InterfaceItem[] };

export type WorldItem =
  | TypeItem
  | (Item & { kind: 'import'; target: ExternTarget })
  | (Item & { kind: 'export'; target: ExternTarget })
  | (Item & { kind: 'include'; path: InterfacePath; with: Array<{ name: string; as: string }> });

export interface InterfaceDecl extends Item {
  kind: 'interface';
  name: string;
  items: InterfaceItem[];
}

export interface WorldDecl extends Item {
  kind: 'world';
  name: string;
  items: WorldItem[];
}

/** File-level `use ns:pkg/iface@v as name;`, naming an interface for the file's worlds and uses. */
export interface TopUse extends Item {
  kind: 'use';
  path: InterfacePath;
  as?: string;
}

export type PackageItem = InterfaceDecl | WorldDecl | TopUse;

export interface PackageDecl extends Node {
  /** Undefined for a file that has no `package` header (it joins its directory's package). */
  name?: PackageName;
  docs: string[];
  items: PackageItem[];
  file: string;
}

/** A parsed file: its own package (possibly headerless) followed by any nested `package x { }` blocks. */
export interface WitFile {
  file: string;
  packages: PackageDecl[];
}

export function packageId(p: PackageName): string {
  return `${p.namespace}:${p.name}${p.version ? `@${p.version}` : ''}`;
}

export function interfaceId(p: PackageName, iface: string): string {
  return `${p.namespace}:${p.name}/${iface}${p.version ? `@${p.version}` : ''}`;
}

/** Every interface path mentioned in a package's syntax. */
export function* interfacePaths(decl: PackageDecl): Generator<InterfacePath> {
  const inItems = function* (items: Array<InterfaceItem | WorldItem>): Generator<InterfacePath> {
    for (const item of items) {
      if (item.kind === 'use') yield item.from;
      else if (item.kind === 'include') yield item.path;
      else if (item.kind === 'import' || item.kind === 'export') {
        if (item.target.kind === 'path') yield item.target.path;
        if (item.target.kind === 'interface') yield* inItems(item.target.items);
      }
    }
  };
  for (const item of decl.items) {
    if (item.kind === 'use') yield item.path;
    else yield* inItems(item.items);
  }
}
