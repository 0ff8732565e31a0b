import { componentEmbed, parse } from '@bytecodealliance/jco-transpile/wasm-tools';
import type { WasmImport } from '../wasm/imports.js';
import { loadWit } from '../wit/load.js';
import { witSource } from '../wit/source.js';
import { importLabel } from './classify.js';

export { TRAP_MODULE } from './fold.js';
const WORLD = 'witshim:bundle/trap-stubs';
const STDERR = 'wasi:cli/stderr@0.2.6';
const STREAMS = 'wasi:io/streams@0.2.6';

/**
 * An adapter exporting one function per unknown import. Called, it writes
 * `witshim: <module>::<name> is not part of the Fastly ABI` to the guest's stderr and traps.
 * Adapters may have no data segments, so the message is stored byte by byte into a page the
 * stub grows itself.
 */
/**
 * A WAT string literal: printable ASCII as is, every other byte of the UTF-8 (and `"`, `\`) as
 * `\hh`. JSON's `\u0016` is not WAT, and import names may hold any bytes of valid UTF-8.
 */
export function watString(text: string): string {
  let out = '"';
  for (const byte of new TextEncoder().encode(text)) {
    out += byte >= 0x20 && byte < 0x7f && byte !== 0x22 && byte !== 0x5c ? String.fromCharCode(byte) : `\\${byte.toString(16).padStart(2, '0')}`;
  }
  return `${out}"`;
}

export async function trapStubs(imports: WasmImport[]): Promise<Uint8Array> {
  const funcs = imports.map((imp) => {
    const params = imp.type?.params.length ? ` (param ${imp.type.params.join(' ')})` : '';
    const results = imp.type?.results.length ? ` (result ${imp.type.results.join(' ')})` : '';
    const message = new TextEncoder().encode(`witshim: ${importLabel(imp)} is not part of the Fastly ABI\n`);
    const stores = [...message].map((b, i) => `(i32.store8 offset=${i} (local.get $p) (i32.const ${b}))`).join(' ');
    return [
      `  (func $${watString(importLabel(imp))} (export ${watString(importLabel(imp))})${params}${results} (local $p i32)`,
      `    (local.set $p (call $page)) ${stores}`,
      `    (call $report (local.get $p) (i32.const ${message.length})) unreachable)`,
    ].join('\n');
  });
  const wat = [
    '(module',
    '  (import "env" "memory" (memory 0))',
    `  (import "${STDERR}" "get-stderr" (func $get_stderr (result i32)))`,
    `  (import "${STREAMS}" "[method]output-stream.blocking-write-and-flush" (func $write (param i32 i32 i32 i32)))`,
    '  (func $page (result i32) (local $old i32)',
    '    (local.set $old (memory.grow (i32.const 1)))',
    '    (if (i32.eq (local.get $old) (i32.const -1)) (then unreachable))',
    '    (i32.shl (local.get $old) (i32.const 16)))',
    '  ;; The write result (a stream error, say) is ignored: the stub traps next either way.',
    '  (func $report (param $p i32) (param $len i32)',
    '    (call $write (call $get_stderr) (local.get $p) (local.get $len) (i32.add (local.get $p) (i32.const 4096))))',
    ...funcs,
    ')',
  ].join('\n');
  const root = `world trap-stubs { import ${STDERR}; }`;
  return componentEmbed({ binary: await parse(wat), witSource: witSource(loadWit(), root), world: WORLD });
}
