import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as watToWasm } from '@bytecodealliance/jco';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  coreSignature,
  coreSignatureText,
  findWitxFunction,
  linkWitx,
  loadWitxDir,
  lowerFunction,
  parseWitx,
  WitxLoweringError,
  type WitxAbi,
} from '../src/witx/index.js';
import { readModuleInterface, WasmDecodeError, type WasmFuncType, type WasmValType } from '../src/wasm/imports.js';
import { buildJsApp } from './support/js-app.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const abi = loadWitxDir(join(repoRoot, 'witx'));

function lowered(module: string, name: string, from: WitxAbi = abi) {
  const fn = findWitxFunction(from, module, name);
  if (!fn) throw new Error(`no ${module}#${name}`);
  return lowerFunction(from, fn);
}

/** `name:role` of each lowered param, then the WAT signature. */
function shape(module: string, name: string, from: WitxAbi = abi): [string, string] {
  const lf = lowered(module, name, from);
  return [lf.params.map((p) => `${p.name}:${p.role}`).join(' '), coreSignatureText(lf)];
}

describe('lowerFunction on the legacy ABI', () => {
  it.each([
    ['fastly_abi', 'init', 'abi_version:value', '(param i64) (result i32)'],
    ['fastly_http_body', 'new', 'body_handle_out:out', '(param i32) (result i32)'],
    [
      'fastly_http_body',
      'write',
      'h:value buf_ptr:ptr buf_len:len end:value num_bytes_out:out',
      '(param i32 i32 i32 i32 i32) (result i32)',
    ],
    ['fastly_http_body', 'known_length', 'h:value body_length_out:out', '(param i32 i32) (result i32)'],
    [
      'fastly_http_req',
      'send',
      'h:value b:value backend_ptr:ptr backend_len:len response_handle_out:out body_handle_out:out',
      '(param i32 i32 i32 i32 i32 i32) (result i32)',
    ],
    [
      'fastly_http_req',
      'pending_req_select',
      'hs_ptr:ptr hs_len:len done_idx_out:out response_handle_out:out body_handle_out:out',
      '(param i32 i32 i32 i32 i32) (result i32)',
    ],
    [
      'fastly_http_req',
      'cache_override_set',
      'h:value tag:value ttl:value stale_while_revalidate:value',
      '(param i32 i32 i32 i32) (result i32)',
    ],
    [
      'fastly_cache',
      'get_body',
      'handle:value options_mask:value options:ptr body_handle_out:out',
      '(param i32 i32 i32 i32) (result i32)',
    ],
    [
      'fastly_http_cache',
      'prepare_response_for_storage',
      'handle:value response:value http_storage_action_out:out response_handle_out:out',
      '(param i32 i32 i32 i32) (result i32)',
    ],
    ['fastly_http_resp', 'status_set', 'h:value status:value', '(param i32 i32) (result i32)'],
    ['fastly_compute_runtime', 'get_vcpu_ms', 'vcpu_ms_out:out', '(param i32) (result i32)'],
    ['fastly_http_body', 'close', 'h:value', '(param i32) (result i32)'],
  ])('%s#%s', (module, name, params, signature) => {
    expect(shape(module, name)).toEqual([params, signature]);
  });

  it('names the source and type of every lowered param', () => {
    const send = lowered('fastly_http_req', 'send');
    expect(send.params.map((p) => [p.source, p.type.kind === 'ref' ? p.type.name : p.type.kind])).toEqual([
      ['h', 'request_handle'],
      ['b', 'body_handle'],
      ['backend', 'string'],
      ['backend', 'string'],
      ['err', 'response_handle'],
      ['err', 'body_handle'],
    ]);
    expect(coreSignature(send)).toEqual({ params: Array(6).fill('i32'), results: ['i32'] });
  });

  it('lowers every function to an i32 status, with i64 only for the ABI version', () => {
    const all = abi.modules.flatMap((m) => m.functions.map((f) => lowerFunction(abi, f)));
    expect(all).toHaveLength(251);
    expect(all.filter((lf) => lf.results.join() !== 'i32')).toEqual([]);
    expect(all.filter((lf) => lf.params.some((p) => p.core !== 'i32')).map((lf) => `${lf.module}#${lf.name}`)).toEqual([
      'fastly_abi#init',
    ]);
  });

  it('uses the widest lowering of the scalars, enums and flags, and keeps names unique', () => {
    const synthetic = linkWitx([
      parseWitx(
        `(typename $big (flags (@witx repr u64) $a))
         (typename $small (enum (@witx tag u8) $x $y))
         (module $m
           (@interface func (export "scalars")
             (param $a f32) (param $b f64) (param $c $big) (param $d $small) (param $e char) (param $f s64)
             (result $r $big))
           (@interface func (export "clash")
             (param $x (list u8)) (param $x_len u32) (result $x_len_2 (expected $big (error $small))))
           (@interface func (export "nothing")))`,
        'm.witx',
      ),
    ]);
    expect(shape('m', 'scalars', synthetic)).toEqual([
      'a:value b:value c:value d:value e:value f:value',
      '(param f32 f64 i64 i32 i32 i64) (result i64)',
    ]);
    expect(shape('m', 'clash', synthetic)).toEqual([
      'x_ptr:ptr x_len:len x_len_2:value big_out:out',
      '(param i32 i32 i32 i32) (result i32)',
    ]);
    expect(shape('m', 'nothing', synthetic)).toEqual(['', '']);
  });

  it('rejects results the lowering cannot express', () => {
    const synthetic = linkWitx([
      parseWitx(
        `(module $m
           (@interface func (export "two") (result $a u32) (result $b u32))
           (@interface func (export "list") (result $a (list u8)))
           (@interface func (export "status") (result $a (expected (error string)))))`,
        'm.witx',
      ),
    ]);
    expect(() => lowered('m', 'two', synthetic)).toThrow(new WitxLoweringError('m#two has 2 results; the lowering allows at most one'));
    expect(() => lowered('m', 'list', synthetic)).toThrow('result $a of m#list: a list does not lower to a single core value');
    expect(() => lowered('m', 'status', synthetic)).toThrow(WitxLoweringError);
  });
});

describe('lowering cross-check against a module built by js-compute-runtime', () => {
  let bytes: Uint8Array<ArrayBuffer>;
  beforeAll(async () => {
    bytes = new Uint8Array(readFileSync(await buildJsApp()));
  });

  it('gives every fastly_* import exactly the core type of its WITX function', () => {
    const imports = readModuleInterface(bytes).imports.filter((i) => i.module.startsWith('fastly_'));
    expect(imports.length).toBeGreaterThan(100);
    const missing: string[] = [];
    const mismatched: string[] = [];
    for (const imp of imports) {
      const fn = findWitxFunction(abi, imp.module, imp.name);
      if (!fn) {
        missing.push(`${imp.module}#${imp.name}`);
        continue;
      }
      const ours = coreSignature(lowerFunction(abi, fn));
      if (JSON.stringify(ours) !== JSON.stringify(imp.type)) {
        mismatched.push(`${imp.module}#${imp.name}: module ${JSON.stringify(imp.type)}, witx ${JSON.stringify(ours)}`);
      }
    }
    expect(missing, 'imports not found in witx/').toEqual([]);
    expect(mismatched).toEqual([]);
  });

  it('reads the same imports and exports as the JS engine', () => {
    const ours = readModuleInterface(bytes);
    const mod = new WebAssembly.Module(bytes);
    expect(ours.imports.map(({ module, name, kind }) => ({ module, name, kind }))).toEqual(WebAssembly.Module.imports(mod));
    expect(ours.exports.map(({ name, kind }) => ({ name, kind }))).toEqual(WebAssembly.Module.exports(mod));
    expect(ours.exports.find((e) => e.name === '_start')?.type).toEqual({ params: [], results: [] });
  });
});

describe('readModuleInterface', () => {
  it('reads every import kind and the types of function imports and exports', async () => {
    const wasm = await watToWasm(`(module
      (type $t (func (param i32 i64) (result f32)))
      (import "env" "f" (func (type $t)))
      (import "env" "mem" (memory 1 2))
      (import "env" "tbl" (table 1 funcref))
      (import "env" "g" (global (mut f64)))
      (import "env" "h" (func (param externref v128)))
      (func $own (param f64) (result i32 i32) unreachable)
      (export "own" (func $own))
      (export "again" (func 0))
      (export "mem" (memory 0)))`);
    expect(readModuleInterface(wasm)).toEqual({
      imports: [
        { module: 'env', name: 'f', kind: 'function', type: { params: ['i32', 'i64'], results: ['f32'] } },
        { module: 'env', name: 'mem', kind: 'memory' },
        { module: 'env', name: 'tbl', kind: 'table' },
        { module: 'env', name: 'g', kind: 'global' },
        { module: 'env', name: 'h', kind: 'function', type: { params: ['externref', 'v128'], results: [] } },
      ],
      exports: [
        { name: 'own', kind: 'function', index: 2, type: { params: ['f64'], results: ['i32', 'i32'] } },
        { name: 'again', kind: 'function', index: 0, type: { params: ['i32', 'i64'], results: ['f32'] } },
        { name: 'mem', kind: 'memory', index: 0 },
      ],
    });
  });

  it('round-trips arbitrary function imports', () => {
    const valType = fc.constantFrom<WasmValType>('i32', 'i64', 'f32', 'f64');
    const funcType = fc.record({ params: fc.array(valType, { maxLength: 20 }), results: fc.array(valType, { maxLength: 3 }) });
    const name = fc.string({ unit: 'grapheme', maxLength: 200 });
    fc.assert(
      fc.property(fc.array(fc.record({ module: name, name, type: funcType }), { maxLength: 40 }), (imports) => {
        const decoded = readModuleInterface(encodeImports(imports)).imports;
        expect(decoded).toEqual(imports.map((i) => ({ ...i, kind: 'function' })));
      }),
    );
  });

  it('rejects components and non-wasm input', () => {
    const component = Uint8Array.from([0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00]);
    expect(() => readModuleInterface(component)).toThrow(WasmDecodeError);
    expect(() => readModuleInterface(component)).toThrow(/components are not supported/);
    expect(() => readModuleInterface(new TextEncoder().encode('not wasm'))).toThrow('wasm offset 0x0: not a wasm binary (bad magic)');
    const truncated = Uint8Array.from([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x02, 0x05, 0x01]);
    expect(() => readModuleInterface(truncated)).toThrow(/runs past the end/);
  });
});

/** A module holding only a type section and one function import per entry. */
function encodeImports(imports: { module: string; name: string; type: WasmFuncType }[]): Uint8Array {
  const codes: Record<WasmValType, number> = { i32: 0x7f, i64: 0x7e, f32: 0x7d, f64: 0x7c, v128: 0x7b, funcref: 0x70, externref: 0x6f };
  const leb = (n: number): number[] => {
    const out: number[] = [];
    do {
      const b = n & 0x7f;
      n >>>= 7;
      out.push(n ? b | 0x80 : b);
    } while (n);
    return out;
  };
  const vec = (items: number[][]) => [...leb(items.length), ...items.flat()];
  const str = (s: string) => {
    const bytes = [...new TextEncoder().encode(s)];
    return [...leb(bytes.length), ...bytes];
  };
  const section = (id: number, body: number[]) => [id, ...leb(body.length), ...body];
  const types = imports.map(({ type }) => [
    0x60,
    ...vec(type.params.map((t) => [codes[t]])),
    ...vec(type.results.map((t) => [codes[t]])),
  ]);
  const entries = imports.map((imp, i) => [...str(imp.module), ...str(imp.name), 0x00, ...leb(i)]);
  return Uint8Array.from([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, ...section(1, vec(types)), ...section(2, vec(entries))]);
}
