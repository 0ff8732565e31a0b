import { parse } from '@bytecodealliance/jco-transpile/wasm-tools';
import { buildAdapter } from '../src/adapter/build.js';
import { HTTP_INCOMING_EXPORT } from '../src/adapter/generate.js';
import type { AdapterTarget } from '../src/adapter/target.js';
import { witViewFor } from '../src/adapter/wit-bind.js';
import type { WType } from '../src/adapter/wit-view.js';
import { join } from 'node:path';
import { projectRoot } from '../src/version.js';
import { loadWit } from '../src/wit/load.js';
import { loadWitxDir, witxLayout, type WitxType } from '../src/witx/index.js';

/**
 * The generated adapter core module instantiated directly (no component model): the test is
 * the guest, writing inputs to memory and calling `<module>#<hostcall>` exports, and the host,
 * answering the WIT core imports with fakes that speak the canonical ABI through `view`.
 */
export const view = witViewFor(loadWit());

/** The export a test adds to the generated adapter to hand it live handles (see live.ts). */
const SET_LIVE = 'witshim_test_set_live';

const compiled = new Map<AdapterTarget, Promise<{ module: WebAssembly.Module; liveTypes: Map<string, number> }>>();
/**
 * The generated adapter exactly as built, plus one export of its `$set_live` so that a test can
 * stand for the WIT calls that would have handed the guest its handles.
 */
function adapterCore(target: AdapterTarget = 'subscribe'): Promise<{ module: WebAssembly.Module; liveTypes: Map<string, number> }> {
  if (compiled.has(target)) return compiled.get(target)!;
  const pending = buildAdapter('command', target).then(async ({ wat }) => {
    const liveTypes = new Map([...wat.matchAll(/^ {2};; live (\d+) (\S+)$/gm)].map((m) => [m[2], Number(m[1])]));
    const end = wat.lastIndexOf(')');
    const wasm = await parse(`${wat.slice(0, end)}  (export "${SET_LIVE}" (func $set_live))\n)`);
    return { module: new WebAssembly.Module(wasm as BufferSource), liveTypes };
  });
  compiled.set(target, pending);
  return pending;
}

export const INVALID = 0xffff_fffe;
export const CACHE_TAG = 0x1000_0000;
export const HTTP_CACHE_TAG = 0x3000_0000;

type Fake = (...args: Array<number | bigint>) => unknown;
/** A JS value for a WIT type: numbers, bigints for 64-bit, `{ ok }`/`{ err }`, `{ tag, val }`, null for none. */
type Value = unknown;

export interface HostCall {
  ref: string;
  /** Flat core arguments, without the return pointer. */
  args: Array<number | bigint>;
}

export class Guest {
  readonly calls: HostCall[] = [];
  private readonly fakes = new Map<string, { ref: string; fn: Fake }>();
  private top = 1024;
  private exports!: Record<string, WebAssembly.ExportValue>;
  private liveTypes = new Map<string, number>();
  readonly memory = new WebAssembly.Memory({ initial: 2 });

  /** `target`: the WIT the adapter is generated against (see src/adapter/target.ts). */
  static async create(target?: AdapterTarget): Promise<Guest> {
    const guest = new Guest();
    const { module, liveTypes } = await adapterCore(target);
    guest.liveTypes = liveTypes;
    const imports: Record<string, Record<string, WebAssembly.ImportValue>> = {
      env: { memory: guest.memory },
      __main_module__: { _start: () => {} },
    };
    for (const imp of WebAssembly.Module.imports(module)) {
      if (imp.kind !== 'function' || imp.module === '__main_module__') continue;
      const key = `${imp.module}#${imp.name}`;
      (imports[imp.module] ??= {})[imp.name] = (...args: Array<number | bigint>) => guest.dispatch(key, args);
    }
    guest.exports = new WebAssembly.Instance(module, imports).exports;
    return guest;
  }

  /** Names every import the adapter declares, as `module#name`. */
  static async importKeys(target?: AdapterTarget): Promise<string[]> {
    return WebAssembly.Module.imports((await adapterCore(target)).module).map((i) => `${i.module}#${i.name}`);
  }

  /**
   * Marks host handles of WIT resource `type` (`iface/resource`, aliases followed: bodies and
   * pending requests are `async-io/pollable`) as handed to the guest, as a WIT call returning
   * them would have. Returns `this` for chaining.
   */
  live(type: string, ...handles: number[]): this {
    const id = this.liveTypes.get(type);
    if (id === undefined) throw new Error(`the adapter tracks no resource type ${type}`);
    for (const h of handles) (this.exports[SET_LIVE] as (h: number, t: number) => void)(h, id);
    return this;
  }

  /** Starts a request as the host would: `http-incoming.handle(request, body)` (the guest's `_start` is empty). */
  downstream(request: number, body: number): this {
    (this.exports[HTTP_INCOMING_EXPORT] as (r: number, b: number) => number)(request, body);
    return this;
  }

  /** A raw fake for WIT function `ref` (as mappings name it), taking flat core args. */
  on(ref: string, fn: Fake): this {
    const f = view.func(ref);
    this.fakes.set(`${f.importModule}#${f.importName}`, { ref, fn });
    return this;
  }

  /** A fake returning `result(args)` lowered the canonical way (through the return pointer if any). */
  returns(ref: string, result: (args: Array<number | bigint>) => Value): this {
    const f = view.func(ref);
    return this.on(ref, (...args) => {
      if (f.resultsIndirect) {
        const retptr = Number(args.pop());
        this.store(f.result!, retptr, result(args));
        return undefined;
      }
      const v = result(args);
      if (!f.result) return undefined;
      if (f.flatResults[0] === 'i64') return BigInt(v as number | bigint);
      return typeof v === 'boolean' ? (v ? 1 : 0) : v;
    });
  }

  private dispatch(key: string, args: Array<number | bigint>): unknown {
    const fake = this.fakes.get(key);
    const ref = fake?.ref ?? key;
    const f = fake && view.func(ref);
    this.calls.push({ ref, args: f?.resultsIndirect ? args.slice(0, -1) : [...args] });
    if (!fake) throw new Error(`unexpected host call ${key}`);
    return fake.fn(...args);
  }

  /** Calls the exported hostcall; returns its `fastly_status`. */
  call(hostcall: string, ...args: Array<number | bigint>): number {
    const fn = this.exports[hostcall] as ((...a: Array<number | bigint>) => number) | undefined;
    if (!fn) throw new Error(`no export ${hostcall}`);
    return fn(...args);
  }

  refs(): string[] {
    return this.calls.map((c) => c.ref);
  }

  // ---- guest memory --------------------------------------------------------------------------

  alloc(size: number, align = 8): number {
    this.top = Math.ceil(this.top / align) * align;
    const p = this.top;
    this.top += Math.max(size, 1);
    new Uint8Array(this.memory.buffer, p, size).fill(0xaa);
    return p;
  }

  /** Bytes (or a UTF-8 string) placed in guest memory: `[ptr, len]`. */
  bytes(data: Uint8Array | string): [number, number] {
    const b = typeof data === 'string' ? new TextEncoder().encode(data) : data;
    const p = this.alloc(b.length, 1);
    new Uint8Array(this.memory.buffer, p, b.length).set(b);
    return [p, b.length];
  }

  u32s(values: number[]): number {
    const p = this.alloc(values.length * 4, 4);
    values.forEach((v, i) => this.dv.setUint32(p + 4 * i, v >>> 0, true));
    return p;
  }

  get dv(): DataView {
    return new DataView(this.memory.buffer);
  }

  u32(addr: number): number {
    return this.dv.getUint32(addr, true);
  }

  u64(addr: number): bigint {
    return this.dv.getBigUint64(addr, true);
  }

  read(addr: number, len: number): Uint8Array {
    return new Uint8Array(this.memory.buffer.slice(addr, addr + len));
  }

  text(addr: number, len: number): string {
    return new TextDecoder().decode(this.read(addr, len));
  }

  // ---- canonical ABI values ------------------------------------------------------------------

  store(t: WType, addr: number, v: Value): void {
    const dv = this.dv;
    const lay = view.layout(t);
    switch (t.kind) {
      case 'bool':
      case 'u8':
      case 's8':
        dv.setUint8(addr, Number(v));
        return;
      case 'u16':
      case 's16':
        dv.setUint16(addr, Number(v), true);
        return;
      case 'u32':
      case 's32':
      case 'char':
      case 'own':
      case 'borrow':
        dv.setUint32(addr, Number(v) >>> 0, true);
        return;
      case 'u64':
      case 's64':
        dv.setBigUint64(addr, BigInt.asUintN(64, BigInt(v as number)), true);
        return;
      case 'f32':
        dv.setFloat32(addr, Number(v), true);
        return;
      case 'f64':
        dv.setFloat64(addr, Number(v), true);
        return;
      case 'string':
      case 'list': {
        const b = typeof v === 'string' ? new TextEncoder().encode(v) : (v as Uint8Array);
        // The host allocates results through the adapter's realloc, as wit-component would.
        const p = (this.exports.cabi_import_realloc as (...a: number[]) => number)(0, 0, 1, b.length);
        new Uint8Array(this.memory.buffer, p, b.length).set(b);
        this.dv.setUint32(addr, p, true);
        this.dv.setUint32(addr + 4, b.length, true);
        return;
      }
      case 'option':
        dv.setUint8(addr, v == null ? 0 : 1);
        if (v != null) this.store(t.inner, addr + lay.payloadOffset!, v);
        return;
      case 'result': {
        const r = v as { ok?: Value; err?: Value };
        const isErr = 'err' in r;
        dv.setUint8(addr, isErr ? 1 : 0);
        const inner = isErr ? t.err : t.ok;
        if (inner) this.store(inner, addr + lay.payloadOffset!, isErr ? r.err : r.ok);
        return;
      }
      case 'enum': {
        const i = t.cases.indexOf(v as string);
        if (i < 0) throw new Error(`no case ${String(v)} in ${t.name}`);
        setDisc(dv, addr, lay.size, i);
        return;
      }
      case 'variant': {
        const { tag, val } = v as { tag: string; val?: Value };
        const i = t.cases.findIndex((c) => c.name === tag);
        if (i < 0) throw new Error(`no case ${tag} in ${t.name}`);
        setDisc(dv, addr, lay.discSize!, i);
        const payload = t.cases[i].type;
        if (payload) this.store(payload, addr + lay.payloadOffset!, val);
        return;
      }
      case 'flags':
        setDisc(dv, addr, lay.size, Number(v));
        return;
      case 'record':
        t.fields.forEach((f, i) => this.store(f.type, addr + lay.offsets![i], (v as Record<string, Value>)[f.name]));
        return;
      case 'tuple':
        t.types.forEach((ft, i) => this.store(ft, addr + lay.offsets![i], (v as Value[])[i]));
        return;
    }
  }

  load(t: WType, addr: number): Value {
    const dv = this.dv;
    const lay = view.layout(t);
    switch (t.kind) {
      case 'bool':
        return dv.getUint8(addr) !== 0;
      case 'u8':
      case 's8':
        return dv.getUint8(addr);
      case 'u16':
      case 's16':
        return dv.getUint16(addr, true);
      case 'u32':
      case 's32':
      case 'char':
      case 'own':
      case 'borrow':
        return dv.getUint32(addr, true);
      case 'u64':
      case 's64':
        return dv.getBigUint64(addr, true);
      case 'string':
        return this.text(dv.getUint32(addr, true), dv.getUint32(addr + 4, true));
      case 'list':
        return this.read(dv.getUint32(addr, true), dv.getUint32(addr + 4, true));
      case 'option':
        return dv.getUint8(addr) ? this.load(t.inner, addr + lay.payloadOffset!) : null;
      case 'enum':
        return t.cases[getDisc(dv, addr, lay.size)];
      case 'flags':
        return getDisc(dv, addr, lay.size);
      case 'variant': {
        const c = t.cases[getDisc(dv, addr, lay.discSize!)];
        return c.type ? { tag: c.name, val: this.load(c.type, addr + lay.payloadOffset!) } : { tag: c.name };
      }
      case 'record':
        return Object.fromEntries(t.fields.map((f, i) => [f.name, this.load(f.type, addr + lay.offsets![i])]));
      case 'tuple':
        return t.types.map((ft, i) => this.load(ft, addr + lay.offsets![i]));
      default:
        throw new Error(`cannot load ${t.kind}`);
    }
  }

  resultOf(ref: string): WType {
    return view.func(ref).result!;
  }

  /** The params of an indirectly passed call (`args[0]` points at them), by name. */
  indirectParams(ref: string, args: Array<number | bigint>): Record<string, Value> {
    const f = view.func(ref);
    const tuple = { kind: 'tuple', types: f.params.map((p) => p.type) } as WType;
    const values = this.load(tuple, Number(args[0])) as Value[];
    return Object.fromEntries(f.params.map((p, i) => [p.name, values[i]]));
  }
}

function setDisc(dv: DataView, addr: number, size: number, v: number): void {
  if (size === 1) dv.setUint8(addr, v);
  else if (size === 2) dv.setUint16(addr, v, true);
  else dv.setUint32(addr, v >>> 0, true);
}

function getDisc(dv: DataView, addr: number, size: number): number {
  return size === 1 ? dv.getUint8(addr) : size === 2 ? dv.getUint16(addr, true) : dv.getUint32(addr, true);
}

/** Out-pointer slots for a hostcall: `n` u32 cells, pre-filled with a marker. */
export function outs(g: Guest, n: number): number[] {
  return Array.from({ length: n }, () => g.alloc(8, 8));
}

const witx = loadWitxDir(join(projectRoot, 'witx'));

/** Field offsets of a WITX record type, by field name. */
export function witxOffsets(typeName: string): Record<string, number> {
  const lay = witxLayout(witx, { kind: 'ref', name: typeName } as WitxType);
  return Object.fromEntries((lay.fields ?? []).map((f) => [f.name, f.offset]));
}
