/**
 * A minimal reader for the import and export sections of a core wasm module, including the
 * function types that `WebAssembly.Module.imports` does not report.
 */

export type WasmValType = 'i32' | 'i64' | 'f32' | 'f64' | 'v128' | 'funcref' | 'externref';
export type WasmExternKind = 'function' | 'table' | 'memory' | 'global' | 'tag';

export interface WasmFuncType {
  params: WasmValType[];
  results: WasmValType[];
}

export interface WasmImport {
  module: string;
  name: string;
  kind: WasmExternKind;
  /** Set for function imports. */
  type?: WasmFuncType;
}

export interface WasmExport {
  name: string;
  kind: WasmExternKind;
  /** Index in the export kind's index space (imports first, then definitions). */
  index: number;
  /** Set for function exports. */
  type?: WasmFuncType;
}

export interface WasmModuleInterface {
  imports: WasmImport[];
  exports: WasmExport[];
}

export class WasmDecodeError extends Error {
  constructor(offset: number, detail: string) {
    super(`wasm offset 0x${offset.toString(16)}: ${detail}`);
    this.name = 'WasmDecodeError';
  }
}

const VAL_TYPES: Record<number, WasmValType> = {
  0x7f: 'i32', 0x7e: 'i64', 0x7d: 'f32', 0x7c: 'f64', 0x7b: 'v128', 0x70: 'funcref', 0x6f: 'externref',
};
const EXTERN_KINDS: WasmExternKind[] = ['function', 'table', 'memory', 'global', 'tag'];
const SECTION = { type: 1, import: 2, function: 3, export: 7 } as const;
const UTF8 = new TextDecoder('utf-8', { fatal: true });

export function readModuleInterface(bytes: Uint8Array): WasmModuleInterface {
  const r = new Reader(bytes);
  const magic = r.bytes(4);
  if (magic.join() !== '0,97,115,109') throw new WasmDecodeError(0, 'not a wasm binary (bad magic)');
  const version = r.u32le();
  if (version !== 1) {
    const what = `version/layer 0x${version.toString(16)}`;
    throw new WasmDecodeError(4, `not a core wasm module (${what}; components are not supported)`);
  }

  const types: WasmFuncType[] = [];
  const imports: WasmImport[] = [];
  const definedFuncTypes: number[] = [];
  const exports: WasmExport[] = [];
  const funcType = (index: number, at: number): WasmFuncType => {
    const t = types[index];
    if (!t) throw new WasmDecodeError(at, `function type index ${index} out of range`);
    return t;
  };

  while (!r.done()) {
    const id = r.byte();
    const size = r.leb();
    const end = r.pos + size;
    if (end > bytes.length) throw new WasmDecodeError(r.pos, `section ${id} runs past the end of the module`);
    switch (id) {
      case SECTION.type:
        r.vec(() => types.push(readFuncType(r)));
        break;
      case SECTION.import:
        r.vec(() => imports.push(readImport(r, funcType)));
        break;
      case SECTION.function:
        r.vec(() => definedFuncTypes.push(r.leb()));
        break;
      case SECTION.export:
        r.vec(() => exports.push({ name: r.name(), kind: r.externKind(), index: r.leb() }));
        break;
    }
    r.pos = end;
  }

  const importedFuncs = imports.filter((i) => i.kind === 'function');
  for (const exp of exports) {
    if (exp.kind !== 'function') continue;
    exp.type =
      exp.index < importedFuncs.length
        ? importedFuncs[exp.index].type
        : funcType(definedFuncTypes[exp.index - importedFuncs.length] ?? -1, 0);
  }
  return { imports, exports };
}

/**
 * Returns a copy of a core module whose imports are renamed by `rename` (undefined keeps a name).
 * Only the import section is rebuilt; every other byte is copied as it is, so function indices,
 * code and custom sections are untouched.
 */
export function renameImports(
  bytes: Uint8Array,
  rename: (module: string, name: string) => { module: string; name: string } | undefined,
): Uint8Array {
  const r = new Reader(bytes);
  r.pos = 8;
  const parts: Uint8Array[] = [bytes.subarray(0, 8)];
  while (!r.done()) {
    const sectionStart = r.pos;
    const id = r.byte();
    const size = r.leb();
    const end = r.pos + size;
    if (id !== SECTION.import) {
      parts.push(bytes.subarray(sectionStart, end));
      r.pos = end;
      continue;
    }
    const entries: Uint8Array[] = [];
    const count = r.leb();
    for (let i = 0; i < count; i++) {
      const module = r.name();
      const name = r.name();
      const descStart = r.pos;
      readImportDesc(r);
      const renamed = rename(module, name) ?? { module, name };
      entries.push(encodeName(renamed.module), encodeName(renamed.name), bytes.subarray(descStart, r.pos));
    }
    const body = concat([encodeLeb(count), ...entries]);
    parts.push(Uint8Array.of(id), encodeLeb(body.length), body);
    r.pos = end;
  }
  return concat(parts);
}

function readImportDesc(r: Reader): { kind: WasmExternKind; typeIndex?: number } {
  const kind = r.externKind();
  switch (kind) {
    case 'function':
      return { kind, typeIndex: r.leb() };
    case 'table':
      r.valType();
      r.limits();
      break;
    case 'memory':
      r.limits();
      break;
    case 'global':
      r.valType();
      r.byte();
      break;
    case 'tag':
      r.byte();
      r.leb();
      break;
  }
  return { kind };
}

export function encodeLeb(value: number): Uint8Array {
  const out: number[] = [];
  let v = value >>> 0;
  do {
    let b = v & 0x7f;
    v >>>= 7;
    if (v) b |= 0x80;
    out.push(b);
  } while (v);
  return Uint8Array.from(out);
}

export function encodeName(name: string): Uint8Array {
  const utf8 = new TextEncoder().encode(name);
  return concat([encodeLeb(utf8.length), utf8]);
}

export function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function readFuncType(r: Reader): WasmFuncType {
  const at = r.pos;
  const form = r.byte();
  if (form !== 0x60) {
    throw new WasmDecodeError(at, `unsupported type form 0x${form.toString(16)} (only plain function types are read)`);
  }
  return { params: r.vec(() => r.valType()), results: r.vec(() => r.valType()) };
}

function readImport(r: Reader, funcType: (index: number, at: number) => WasmFuncType): WasmImport {
  const module = r.name();
  const name = r.name();
  const at = r.pos;
  const desc = readImportDesc(r);
  if (desc.kind === 'function') return { module, name, kind: desc.kind, type: funcType(desc.typeIndex!, at) };
  return { module, name, kind: desc.kind };
}

export class Reader {
  pos = 0;
  constructor(private readonly buf: Uint8Array) {}

  done(): boolean {
    return this.pos >= this.buf.length;
  }

  byte(): number {
    if (this.pos >= this.buf.length) throw new WasmDecodeError(this.pos, 'unexpected end of module');
    return this.buf[this.pos++];
  }

  bytes(n: number): Uint8Array {
    if (this.pos + n > this.buf.length) throw new WasmDecodeError(this.pos, 'unexpected end of module');
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  u32le(): number {
    const b = this.bytes(4);
    return (b[0] | (b[1] << 8) | (b[2] << 16) | (b[3] << 24)) >>> 0;
  }

  /** Unsigned LEB128, up to 32 bits. */
  leb(): number {
    let result = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      const b = this.byte();
      result += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) return result;
    }
    throw new WasmDecodeError(this.pos, 'LEB128 integer too long');
  }

  name(): string {
    const at = this.pos;
    const bytes = this.bytes(this.leb());
    try {
      return UTF8.decode(bytes);
    } catch {
      throw new WasmDecodeError(at, 'name is not valid UTF-8');
    }
  }

  vec<T>(read: () => T): T[] {
    const count = this.leb();
    const out: T[] = [];
    for (let i = 0; i < count; i++) out.push(read());
    return out;
  }

  valType(): WasmValType {
    const at = this.pos;
    const code = this.byte();
    const t = VAL_TYPES[code];
    if (!t) throw new WasmDecodeError(at, `unsupported value type 0x${code.toString(16)}`);
    return t;
  }

  externKind(): WasmExternKind {
    const at = this.pos;
    const code = this.byte();
    const kind = EXTERN_KINDS[code];
    if (!kind) throw new WasmDecodeError(at, `unknown import/export kind 0x${code.toString(16)}`);
    return kind;
  }

  limits(): void {
    const at = this.pos;
    const flags = this.byte();
    if (flags > 0x07) throw new WasmDecodeError(at, `unknown limits flags 0x${flags.toString(16)}`);
    this.leb64();
    if (flags & 0x01) this.leb64();
  }

  /** Skips a LEB128 integer of any width (memory64 limits). */
  private leb64(): void {
    while (this.byte() & 0x80);
  }
}
