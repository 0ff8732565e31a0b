import { parse } from '@bytecodealliance/jco-transpile/wasm-tools';
import { describe, expect, it, vi } from 'vitest';
import { EXPORT_TABLE, lazyExports } from '../src/host/lazy-exports.js';
import { tableExports } from '../src/wasm/export-table.js';

/*
 * The adapter modules' function exports are moved into one table and handed to jco's glue as
 * forwarders that take a function on its first call (src/wasm/export-table.ts,
 * src/host/lazy-exports.ts): V8 then makes function objects only for the hostcalls a request
 * calls. The rewrite must leave every other part of a module working as before.
 */

const compile = async (text: string) => (await parse(text)) as Uint8Array<ArrayBuffer>;

/** Tables and element segments of its own, an imported table and function, memory, a global and a start function. */
const BUSY = `(module
  (import "env" "table" (table 1 funcref))
  (import "env" "twice" (func $twice (param i32) (result i32)))
  (type $unary (func (param i32) (result i32)))
  (table $own 2 funcref)
  (memory (export "memory") 1)
  (global $started (mut i32) (i32.const 0))
  (global (export "answer") i32 (i32.const 42))
  (func $start (global.set $started (i32.const 1)))
  (start $start)
  (func $inc (param i32) (result i32) (i32.add (local.get 0) (i32.const 1)))
  (func $dec (param i32) (result i32) (i32.sub (local.get 0) (i32.const 1)))
  (func (export "via_own") (param i32 i32) (result i32) (call_indirect $own (type $unary) (local.get 0) (local.get 1)))
  (func (export "started") (result i32) (global.get $started))
  (func (export "inc") (type $unary) (call $inc (local.get 0)))
  (export "twice" (func $twice))
  (elem (table $own) (i32.const 0) func $inc $dec)
  (data (i32.const 0) "hi"))`;

describe('tableExports', () => {
  it('moves every function export into one table and leaves the rest of the module as it was', async () => {
    const tabled = tableExports(await compile(BUSY), EXPORT_TABLE)!;
    expect(tabled.names).toEqual(['via_own', 'started', 'inc', 'twice']);
    const module = new WebAssembly.Module(tabled.bytes as Uint8Array<ArrayBuffer>);
    expect(WebAssembly.Module.exports(module).map(({ name, kind }) => `${kind} ${name}`)).toEqual(['memory memory', 'global answer', `table ${EXPORT_TABLE}`]);
    const env = { table: new WebAssembly.Table({ initial: 1, element: 'anyfunc' }), twice: (x: number) => 2 * x };
    const instance = new WebAssembly.Instance(module, { env });
    const exports = lazyExports(instance.exports, tabled.names) as Record<string, (...args: number[]) => number>;
    expect(exports.via_own!(41, 0)).toBe(42);
    expect(exports.via_own!(43, 1)).toBe(42);
    expect(exports.started!()).toBe(1);
    expect(exports.inc!(1)).toBe(2);
    expect(exports.twice!(21)).toBe(42);
    expect((exports.answer as unknown as WebAssembly.Global).value).toBe(42);
    expect(new TextDecoder().decode(new Uint8Array((exports.memory as unknown as WebAssembly.Memory).buffer, 0, 2))).toBe('hi');
    expect(exports[EXPORT_TABLE]).toBeUndefined();
  });

  it('adds the table and element sections a module lacks, in their place', async () => {
    const tabled = tableExports(await compile('(module (func (export "one") (result i32) (i32.const 1)) (data (memory 0) (i32.const 0) "x") (memory 1))'), EXPORT_TABLE)!;
    expect(WebAssembly.validate(tabled.bytes as Uint8Array<ArrayBuffer>)).toBe(true);
    const instance = new WebAssembly.Instance(new WebAssembly.Module(tabled.bytes as Uint8Array<ArrayBuffer>));
    expect((lazyExports(instance.exports, tabled.names).one as () => number)()).toBe(1);
  });

  it('keeps what `keep` names, and leaves a module without function exports alone', async () => {
    const tabled = tableExports(await compile('(module (func (export "a")) (func (export "b")))'), EXPORT_TABLE, (name) => name === 'b')!;
    expect(tabled.names).toEqual(['a']);
    expect(WebAssembly.Module.exports(new WebAssembly.Module(tabled.bytes as Uint8Array<ArrayBuffer>)).map((entry) => entry.name)).toEqual(['b', EXPORT_TABLE]);
    expect(tableExports(await compile('(module (memory (export "m") 1))'), EXPORT_TABLE)).toBeUndefined();
  });
});

describe('lazyExports', () => {
  it('takes a function from the table only when it is first called', async () => {
    const tabled = tableExports(await compile('(module (func (export "a") (result i32) (i32.const 1)) (func (export "b") (result i32) (i32.const 2)))'), EXPORT_TABLE)!;
    const instance = new WebAssembly.Instance(new WebAssembly.Module(tabled.bytes as Uint8Array<ArrayBuffer>));
    const get = vi.spyOn(WebAssembly.Table.prototype, 'get');
    try {
      const exports = lazyExports(instance.exports, tabled.names) as Record<string, () => number>;
      expect(get).not.toHaveBeenCalled();
      expect([exports.b!(), exports.b!()]).toEqual([2, 2]);
      expect(get.mock.calls).toEqual([[1]]);
    } finally {
      get.mockRestore();
    }
  });
});
