/**
 * What the adapter's argument checks cost per hostcall: the generated adapter core instantiated
 * directly, called as a guest would, with minimal fake WIT imports, against the same WAT with
 * the checks cut out — handle liveness (`$bad_handle` back to the tag check alone, `$set_live` /
 * `$clear_live` and `$async_bad`'s live lookups gone) and UTF-8 (`$bad_utf8` → 0). The variants
 * run interleaved; best of ROUNDS, ns per call.
 */
import { parse } from '@bytecodealliance/jco-transpile/wasm-tools';
import { buildAdapter } from '../src/adapter/build.js';
import { HandleKind, INVALID_BIT, TYPE_MASK } from '../src/adapter/handle-tags.js';
import { LiveTypes, liveWat } from '../src/adapter/live.js';
import { RUNTIME_WAT } from '../src/adapter/runtime.js';
import { UTF8_WAT } from '../src/adapter/utf8.js';
import { witViewFor } from '../src/adapter/wit-bind.js';
import { loadWit } from '../src/wit/load.js';

const CALLS = 500_000;
/** Best of ROUNDS: on a shared machine the fastest round is the one least disturbed. */
const ROUNDS = 15;
const view = witViewFor(loadWit());

/** Makes a function return `value` before its body (after its locals). */
function shortCircuit(wat: string, name: string, value: string): string {
  const re = new RegExp(`(\\(func \\${name} [^\\n]*\\n(?:\\s*\\(local [^\\n]*\\n)?)`);
  if (!re.test(wat)) throw new Error(`no ${name} in the adapter`);
  return wat.replace(re, `$1    (return ${value})\n`);
}

function withoutChecks(wat: string): string {
  let out = shortCircuit(wat, '$bad_handle', '(call $wrong_kind (local.get $h) (local.get $kind))');
  out = shortCircuit(out, '$set_live', '');
  out = shortCircuit(out, '$clear_live', '');
  out = shortCircuit(out, '$bad_utf8', '(i32.const 0)');
  // select / is_ready: the tag rules alone, as before liveness.
  return shortCircuit(
    out,
    '$async_bad',
    `(i32.or (i32.ne (i32.and (local.get $h) (i32.const ${INVALID_BIT | 0})) (i32.const 0)) (i32.gt_u (i32.and (local.get $h) (i32.const ${TYPE_MASK | 0})) (i32.const ${HandleKind.HttpCacheEntry})))`,
  );
}

type Exports = Record<string, (...args: number[]) => number>;

/** The adapter with fakes answering `ok` (with `okValue` where the ok value is a u32/handle). */
async function instantiate(wat: string): Promise<{ exports: Exports; memory: WebAssembly.Memory }> {
  const memory = new WebAssembly.Memory({ initial: 2 });
  let dv = new DataView(memory.buffer);
  const ok = (ref: string, okValue?: number) => {
    const f = view.func(ref);
    const payload = f.result ? view.layout(f.result).payloadOffset ?? 0 : 0;
    return [
      `${f.importModule}#${f.importName}`,
      f.resultsIndirect
        ? (...args: number[]) => {
            if (dv.buffer !== memory.buffer) dv = new DataView(memory.buffer);
            const ret = args[args.length - 1];
            dv.setUint8(ret, 0);
            if (okValue !== undefined) dv.setUint32(ret + payload, okValue, true);
          }
        : () => okValue ?? 0,
    ] as const;
  };
  const fakes = new Map<string, (...args: number[]) => unknown>([
    ok('http-body/write', 1),
    ok('http-req/request.insert-header'),
    ok('http-body/new', 5),
    ok('http-body/close'),
    ok('async-io/pollable.is-ready', 1),
  ]);
  const end = wat.lastIndexOf(')');
  const module = new WebAssembly.Module((await parse(`${wat.slice(0, end)}  (export "set_live" (func $set_live))\n)`)) as BufferSource);
  const imports: Record<string, Record<string, WebAssembly.ImportValue>> = { env: { memory }, __main_module__: { _start: () => {} } };
  for (const imp of WebAssembly.Module.imports(module)) {
    if (imp.kind !== 'function' || imp.module === '__main_module__') continue;
    const key = `${imp.module}#${imp.name}`;
    (imports[imp.module] ??= {})[imp.name] = fakes.get(key) ?? (() => { throw new Error(`unexpected host call ${key}`); });
  }
  const exports = new WebAssembly.Instance(module, imports).exports as unknown as Exports;
  // Handle 1 as a request and as a body (a pollable), as WIT calls would have handed them out.
  const live = (ref: string) => {
    const t = view.func(ref).params[0].type;
    const id = wat.match(new RegExp(`;; live (\\d+) ${t.kind === 'own' || t.kind === 'borrow' ? `${t.iface}/${t.resource}` : ''}\\n`))?.[1];
    exports.set_live(1, Number(id));
  };
  live('http-req/request.insert-header');
  live('http-body/write');
  return { exports, memory };
}

interface Case {
  name: string;
  run: (x: { exports: Exports; memory: WebAssembly.Memory }) => () => void;
}

/** Guest memory the cases use: a byte to write, a header name and value, out cells. */
const TEXT = 1024;
const OUT = 2048;

const CASES: Case[] = [
  { name: 'body write (1 handle)', run: ({ exports }) => () => void exports['fastly_http_body#write'](1, TEXT, 1, 0, OUT) },
  { name: 'header insert (1 handle, 16-byte name)', run: ({ exports }) => () => void exports['fastly_http_req#header_insert'](1, TEXT, 16, TEXT + 16, 5) },
  {
    name: 'body new + close (set, check, clear)',
    run: ({ exports, memory }) => () => {
      exports['fastly_http_body#new'](OUT);
      exports['fastly_http_body#close'](new Uint32Array(memory.buffer, OUT, 1)[0]);
    },
  },
  { name: 'is_ready (1 handle)', run: ({ exports }) => () => void exports['fastly_async_io#is_ready'](1, OUT) },
];

function time(fn: () => void): number {
  const t = performance.now();
  for (let i = 0; i < CALLS; i++) fn();
  return ((performance.now() - t) * 1e6) / CALLS;
}

/**
 * The checks alone, looped inside wasm (no JS boundary, so far less noise): the helpers as the
 * adapter has them, each called LOOP times on a live handle / a 16-byte ASCII name.
 */
const LOOP = 10_000_000;
async function measureHelpers(): Promise<void> {
  const live = new LiveTypes();
  live.id({ iface: 'http-req', resource: 'request' });
  const loop = (name: string, body: string) => `
  (func (export "${name}") (param $n i32) (local $i i32)
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
      ${body}
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $next))))`;
  const wat = `(module (import "env" "memory" (memory 1)) ${RUNTIME_WAT} ${liveWat(live)} ${UTF8_WAT}
  (func (export "setup") (call $set_live (i32.const 1) (i32.const 0)))
  ${loop('tag check only', '(drop (call $wrong_kind (local.get $i) (i32.const 0)))')}
  ${loop('tag + liveness check', '(drop (call $bad_handle (i32.and (local.get $i) (i32.const 1)) (i32.const 0) (i32.const 0)))')}
  ${loop('set + clear', '(call $set_live (i32.const 1) (i32.const 0)) (call $clear_live (i32.const 1) (i32.const 0))')}
  ${loop('utf-8, 16 ASCII bytes', '(drop (call $bad_utf8 (i32.const 1024) (i32.const 16)))')}
  ${loop('utf-8, 16 bytes of 2-byte chars', '(drop (call $bad_utf8 (i32.const 2048) (i32.const 16)))')})`;
  const memory = new WebAssembly.Memory({ initial: 1 });
  new Uint8Array(memory.buffer).set(new TextEncoder().encode('x-custom-header1'), 1024);
  new Uint8Array(memory.buffer).set(new TextEncoder().encode('éééééééé'), 2048);
  const x = new WebAssembly.Instance(new WebAssembly.Module((await parse(wat)) as BufferSource), { env: { memory } }).exports as Exports;
  x.setup();
  console.log(`the helpers alone, looped in wasm (ns per call, best of ${ROUNDS} x ${LOOP}):`);
  for (const name of ['tag check only', 'tag + liveness check', 'set + clear', 'utf-8, 16 ASCII bytes', 'utf-8, 16 bytes of 2-byte chars']) {
    const runs: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      const t = performance.now();
      x[name](LOOP);
      runs.push(((performance.now() - t) * 1e6) / LOOP);
    }
    console.log(`  ${name.padEnd(40)} ${Math.min(...runs).toFixed(1).padStart(6)} ns`);
  }
}

export async function measureCheckCost(): Promise<void> {
  await measureHelpers();
  const { wat } = await buildAdapter('command');
  const variants = [await instantiate(wat), await instantiate(withoutChecks(wat))];
  for (const { memory } of variants) new Uint8Array(memory.buffer, TEXT, 21).set(new TextEncoder().encode('x-custom-header1value'));
  console.log(`argument checks per hostcall (adapter core, fake host; ns per call, best of ${ROUNDS} x ${CALLS}):`);
  for (const c of CASES) {
    const [checked, bare] = variants.map(c.run);
    const on: number[] = [];
    const off: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      off.push(time(bare));
      on.push(time(checked));
    }
    const [a, b] = [Math.min(...on), Math.min(...off)];
    console.log(`  ${c.name.padEnd(40)} ${b.toFixed(0).padStart(4)} → ${a.toFixed(0).padStart(4)} ns  (${a - b >= 0 ? '+' : ''}${(a - b).toFixed(0)} ns)`);
  }
}
