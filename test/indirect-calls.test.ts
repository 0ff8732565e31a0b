import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from '@bytecodealliance/jco-transpile/wasm-tools';
import { describe, expect, it } from 'vitest';
import { emptyHostConfig } from '../src/host/config.js';
import { Indirection } from '../src/host/indirect-calls.js';
import { createRunner, type Instantiate } from '../src/host/runner.js';
import { prepareGuest } from '../src/server/artifacts.js';
import { findIndirectShims } from '../src/server/indirect-shims.js';

/*
 * wit-component's shim and fixup are answered in JavaScript when they are proven to be a plain
 * indirection (src/host/indirect-calls.ts): about 1.3 ms of a fresh js-compute instance. A
 * wit-component or jco that emits them otherwise must fail here, not only slow the benchmark.
 */

const downstream = { id: 'x', method: 'GET', uri: 'http://localhost/', version: 'http11' as const, headers: [], originalHeaderNames: [], body: 1, knownLength: 0n };

describe("an adapted module's shim and fixup", () => {
  it('are found, answered without instantiating them, and the guest answers the same', { timeout: 60_000 }, async () => {
    const root = mkdtempSync(join(tmpdir(), 'witshim-indirect-'));
    const artifacts = await prepareGuest(readFileSync(join(import.meta.dirname, 'fixtures/c/hello.wasm')), root);
    expect(artifacts.indirectShims).toHaveLength(1);
    const [pair] = artifacts.indirectShims!;
    expect(pair!.slots).toBeGreaterThan(0);
    // The adapters' function exports are tabled (src/wasm/export-table.ts): none is left to V8 to wrap.
    expect(artifacts.tabledModules!.length).toBeGreaterThan(0);
    for (const { module } of artifacts.tabledModules!) expect(WebAssembly.Module.exports(artifacts.coreModules[module]!).filter((entry) => entry.kind === 'function')).toEqual([]);
    const names = new Map(Object.entries(artifacts.coreModules).map(([name, module]) => [module, name]));
    const { instantiate } = (await import(artifacts.guestModule)) as { instantiate: Instantiate };

    const serve = (indirectShims = artifacts.indirectShims) => {
      const instantiated: string[] = [];
      // jco's instantiate, noting which core modules became real instances.
      const noting: Instantiate = (getCoreModule, imports, instantiateCore) =>
        instantiate(getCoreModule, imports, (module, moduleImports) => {
          const instance = instantiateCore(module, moduleImports);
          if (instance instanceof WebAssembly.Instance) instantiated.push(names.get(module)!);
          return instance;
        });
      const notices: Array<{ op: string; body?: { segments: Uint8Array[] } }> = [];
      const channel = { call: () => ({ op: 'read', end: true }), notify: (notice: (typeof notices)[number]) => notices.push(notice), post() {} };
      const runner = createRunner({ instantiate: noting, modules: { ...artifacts, indirectShims }, config: emptyHostConfig(), channel: channel as never });
      // Two requests: each a fresh instance with its own slots.
      const bodies = [0, 1].map(() => {
        expect(runner.run({ kind: 'run', request: downstream, env: {} }).outcome).toBe('ok');
        const respond = notices.filter((notice) => notice.op === 'respond').at(-1)!;
        return Buffer.concat(respond.body!.segments).toString();
      });
      return { bodies, instantiated };
    };

    const answered = serve();
    expect(answered.bodies).toEqual(['hello from C', 'hello from C']);
    expect(answered.instantiated).not.toContain(pair!.shim);
    expect(answered.instantiated).not.toContain(pair!.fixup);
    const real = serve([]);
    expect(real.bodies).toEqual(answered.bodies);
    expect(real.instantiated).toEqual(expect.arrayContaining([pair!.shim, pair!.fixup]));
  });
});

/** A shim of two slots; `route` says which slot each export calls (wit-component: its own). */
function shimText(route = [0, 1], slot1 = '(param f64)') {
  const gets = (type: string) => (/\(param ([^)]*)\)/.exec(type)?.[1]!.split(' ') ?? []).map((_, k) => `local.get ${k}`).join(' ');
  return `(module
    (type $t0 (func (param i32 i64) (result i32)))
    (type $t1 (func ${slot1}))
    (table $imports 2 2 funcref)
    (func (export "0") (type $t0) local.get 0 local.get 1 i32.const ${route[0]} call_indirect (type $t0))
    (func (export "1") (type $t1) ${gets(slot1)} i32.const ${route[1]} call_indirect (type $t1))
    (export "$imports" (table $imports)))`;
}

function fixupText(slot1 = '(param f64)') {
  return `(module
    (type $t0 (func (param i32 i64) (result i32)))
    (type $t1 (func ${slot1}))
    (import "actual" "0" (func $a0 (type $t0)))
    (import "actual" "1" (func $a1 (type $t1)))
    (import "shim" "$imports" (table 2 2 funcref))
    (elem (i32.const 0) func $a0 $a1))`;
}

async function modules(texts: Record<string, string>) {
  const files: Record<string, Uint8Array> = {};
  const compiled: Record<string, WebAssembly.Module> = {};
  for (const [name, text] of Object.entries(texts)) {
    files[name] = await parse(text);
    compiled[name] = new WebAssembly.Module(files[name] as Uint8Array<ArrayBuffer>);
  }
  return [files, compiled] as const;
}

describe('findIndirectShims', () => {
  it('finds a pair that is exactly an indirection', async () => {
    expect(findIndirectShims((await modules({ 's.wasm': shimText(), 'f.wasm': fixupText() }))[0])).toEqual([{ shim: 's.wasm', fixup: 'f.wasm', slots: 2 }]);
  });

  it('keeps the real modules when a slot reaches another slot', async () => {
    const crossed = shimText([1, 0], '(param i32 i64) (result i32)');
    expect(findIndirectShims((await modules({ 's.wasm': crossed, 'f.wasm': fixupText('(param i32 i64) (result i32)') }))[0])).toEqual([]);
  });

  it('keeps the real modules for a slot JavaScript cannot forward, or two fixups that fit', async () => {
    const twoResults = '(result i32 i32)';
    expect(findIndirectShims((await modules({ 's.wasm': shimText([0, 1], twoResults), 'f.wasm': fixupText(twoResults) }))[0])).toEqual([]);
    expect(findIndirectShims((await modules({ 's.wasm': shimText(), 'f.wasm': fixupText(), 'g.wasm': fixupText() }))[0])).toEqual([]);
  });
});

describe('Indirection', () => {
  it('traps a call before the fixup ran, and refuses a table of another instance', async () => {
    const [, compiled] = await modules({ 's.wasm': shimText(), 'f.wasm': fixupText() });
    const pairs = [{ shim: 's.wasm', fixup: 'f.wasm', slots: 2 }];
    const one = new Indirection(pairs, compiled);
    const other = new Indirection(pairs, compiled);
    const shim = one.instantiate(compiled['s.wasm']!, undefined)!.exports as Record<string, (...args: unknown[]) => unknown>;
    const otherShim = other.instantiate(compiled['s.wasm']!, undefined)!.exports;
    expect(() => shim['0']!(1, 2n)).toThrow(WebAssembly.RuntimeError);
    const actual = { '0': (a: number, b: bigint) => a + Number(b), '1': () => undefined };
    expect(() => one.instantiate(compiled['f.wasm']!, { shim: { $imports: otherShim.$imports as WebAssembly.Table }, actual })).toThrow(/not given the table/);
    one.instantiate(compiled['f.wasm']!, { shim: { $imports: shim.$imports as unknown as WebAssembly.Table }, actual });
    expect(shim['0']!(1, 2n)).toBe(3);
    expect(one.instantiate(new WebAssembly.Module((await parse('(module)')) as Uint8Array<ArrayBuffer>), undefined)).toBeUndefined();
  });
});
