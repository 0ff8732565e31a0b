import { join } from 'node:path';
import { parse } from '@bytecodealliance/jco-transpile/wasm-tools';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { hostcallShape, type HostcallShape, type Input } from '../src/adapter/shape.js';
import { UTF8_WAT } from '../src/adapter/utf8.js';
import { projectRoot } from '../src/version.js';
import { loadWitxDir, resolveType } from '../src/witx/index.js';
import { Guest } from './adapter-harness.js';

/** UTF-8 checks before the adapter lifts a WIT `string` (src/adapter/utf8.ts). */
const INVAL = 2;
const enc = (...bytes: number[]) => new Uint8Array(bytes);
/** Five bytes each, so that length rules (IP octets...) cannot tell them from VALID. */
const INVALID: Record<string, Uint8Array> = {
  overlong: enc(0x61, 0xc0, 0xaf, 0x62, 0x63),
  'overlong 3-byte': enc(0x61, 0xe0, 0x80, 0xaf, 0x62),
  surrogate: enc(0x61, 0xed, 0xa0, 0x80, 0x62),
  truncated: enc(0x61, 0x62, 0x63, 0xe2, 0x82),
  '0xFF': enc(0x61, 0x62, 0xff, 0x63, 0x64),
  'past U+10FFFF': enc(0xf4, 0x90, 0x80, 0x80, 0x61),
  'lone continuation': enc(0x61, 0x80, 0x62, 0x63, 0x64),
};
/** `é€`: two- and three-byte sequences. */
const VALID = enc(0xc3, 0xa9, 0xe2, 0x82, 0xac);

describe('the UTF-8 validator', async () => {
  const wat = `(module (import "env" "memory" (memory 1)) ${UTF8_WAT} (export "bad" (func $bad_utf8)))`;
  const memory = new WebAssembly.Memory({ initial: 1 });
  const instance = new WebAssembly.Instance(new WebAssembly.Module(new Uint8Array(await parse(wat))), { env: { memory } });
  const bad = instance.exports.bad as (p: number, n: number) => number;
  const check = (bytes: Uint8Array) => {
    new Uint8Array(memory.buffer).set(bytes, 100);
    return bad(100, bytes.length);
  };
  const wellFormed = (bytes: Uint8Array) => {
    try {
      new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
      return true;
    } catch {
      return false;
    }
  };

  it('rejects overlong forms, surrogates, truncation, 0xFF, values past U+10FFFF', () => {
    for (const [name, bytes] of Object.entries(INVALID)) expect(check(bytes), name).toBe(1);
  });

  it('accepts ASCII, the empty string, and sequences at every boundary', () => {
    for (const s of ['', 'plain ascii', 'é€😀', '\u{7f}\u{80}\u{7ff}\u{800}\u{d7ff}\u{e000}\u{fffd}\u{ffff}\u{10000}\u{10ffff}']) {
      expect(check(new TextEncoder().encode(s)), s).toBe(0);
    }
  });

  it('agrees with a strict decoder on arbitrary bytes', () => {
    const bytes = fc.uint8Array({ maxLength: 24 });
    const mostlyHigh = fc.array(fc.constantFrom(0x41, 0x80, 0xbf, 0xc2, 0xdf, 0xe0, 0xed, 0xef, 0xf0, 0xf4, 0xf5, 0xff, 0x9f, 0xa0, 0x90, 0x8f), { maxLength: 12 }).map((a) => new Uint8Array(a));
    const valid = fc.string({ unit: 'grapheme', maxLength: 12 }).map((s) => new TextEncoder().encode(s));
    fc.assert(fc.property(fc.oneof(bytes, mostlyHigh, valid), (b) => check(b) === (wellFormed(b) ? 0 : 1)), { seed: 8, numRuns: 3000 });
  });
});

const abi = loadWitxDir(join(projectRoot, 'witx'));
const isText = (input: Input): input is Extract<Input, { kind: 'list' }> => {
  if (input.kind !== 'list') return false;
  const t = resolveType(abi, input.type);
  if (t.kind === 'string') return true;
  if (t.kind !== 'list') return false;
  const e = resolveType(abi, t.element);
  return e.kind === 'builtin' && (e.name === 'u8' || e.name === 'char8');
};
const isHandle = (input: Input) => input.kind === 'value' && resolveType(abi, input.type).kind === 'handle';
const LIVE_TYPES = ['http-req/request', 'async-io/pollable', 'http-resp/response', 'cache/entry', 'cache/replace-entry', 'http-cache/entry', 'kv-store/store', 'secret-store/secret', 'secret-store/store', 'log/endpoint', 'acl/acl', 'config-store/store', 'dictionary/dictionary'];

type Outcome = 'inval' | 'host' | number;

/**
 * Calls `hostcall` with `bytes` in text input `target`, "a" in the other text inputs, live
 * handles (1, untagged; cache handles carry their tag), zeroed memory elsewhere; every host
 * import throws, so an outcome is the status returned without a host call, or `host`.
 */
function outcome(g: Guest, hostcall: string, shape: HostcallShape, target: string, bytes: Uint8Array, zeroes: number): Outcome {
  new Uint8Array(g.memory.buffer, zeroes, 4096).fill(0);
  g.calls.length = 0;
  const byParam = new Map<string, number>();
  for (const input of shape.inputs) {
    if (isText(input)) {
      const [p, n] = g.bytes(input.name === target ? bytes : 'a');
      byParam.set(input.ptr.name, p);
      byParam.set(input.len.name, n);
    } else if (isHandle(input) && input.kind === 'value') {
      const name = input.type.kind === 'ref' ? input.type.name : '';
      const tag = name === 'cache_handle' ? 0x1000_0000 : name === 'cache_replace_handle' ? 0x2000_0000 : name === 'http_cache_handle' ? 0x3000_0000 : 0;
      byParam.set(input.param.name, (tag | 1) >>> 0);
    }
  }
  const args = shape.core.map((p) => byParam.get(p.name) ?? (p.core === 'i64' ? 0n : p.role === 'value' ? 0 : zeroes));
  try {
    const status = g.call(hostcall, ...args);
    if (g.calls.length) return 'host';
    return status === INVAL ? 'inval' : status;
  } catch (err) {
    if (String(err).includes('unexpected host call')) return 'host';
    throw err;
  }
}

describe('hostcalls taking WIT strings', () => {
  it('answer inval to text that is not UTF-8 with no host call; valid multi-byte text passes', async () => {
    const g = await Guest.create();
    for (const t of LIVE_TYPES) g.live(t, 1);
    const zeroes = g.alloc(4096, 8);
    const checked: string[] = [];
    for (const module of abi.modules) {
      for (const fn of module.functions) {
        const hostcall = `${module.name}#${fn.name}`;
        const shape = hostcallShape(abi, fn);
        for (const input of shape.inputs.filter(isText)) {
          const results = Object.fromEntries(Object.entries(INVALID).map(([name, bytes]) => [name, outcome(g, hostcall, shape, input.name, bytes, zeroes)]));
          const valid = outcome(g, hostcall, shape, input.name, VALID, zeroes);
          const kinds = new Set(Object.values(results));
          // Text the adapter checks: every bad form is inval, valid text goes on to the host.
          if (valid !== 'inval' && kinds.has('inval')) {
            expect(kinds, `${hostcall} ${input.name}: ${JSON.stringify(results)}`).toEqual(new Set(['inval']));
            checked.push(`${hostcall} ${input.name}`);
          }
        }
      }
    }
    // Header names, keys, store, backend and endpoint names, URIs: the WIT takes them as `string`.
    expect(checked).toEqual(
      expect.arrayContaining([
        'fastly_http_req#header_insert name',
        'fastly_http_req#header_value_get name',
        'fastly_http_resp#header_append name',
        'fastly_http_resp#header_remove name',
        'fastly_http_req#uri_set uri',
        'fastly_http_req#send backend',
        'fastly_http_req#register_dynamic_backend target',
        'fastly_log#endpoint_get name',
        'fastly_dictionary#open name',
        'fastly_dictionary#get key',
        'fastly_config_store#get key',
        'fastly_secret_store#open name',
        'fastly_secret_store#get key',
        'fastly_kv_store#open name',
        'fastly_kv_store#lookup key',
        'fastly_backend#exists backend',
      ]),
    );
    expect(checked.length).toBeGreaterThan(60);
    // Bytes the WIT takes as `list<u8>` are the guest's business: header values, bodies, log lines.
    expect(checked).not.toContain('fastly_http_req#header_insert value');
    expect(checked).not.toContain('fastly_log#write msg');
  });
});
