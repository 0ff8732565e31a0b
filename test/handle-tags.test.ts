import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { parse } from '@bytecodealliance/jco-transpile/wasm-tools';
import { HandleKind, INVALID_BIT, isKind, kindOf, kindOfWitxType, strip, tag } from '../src/adapter/handle-tags.js';
import { LiveTypes, liveWat } from '../src/adapter/live.js';
import { RUNTIME_WAT } from '../src/adapter/runtime.js';

const KINDS = [HandleKind.Other, HandleKind.CacheEntry, HandleKind.CacheReplaceEntry, HandleKind.HttpCacheEntry];
const hostHandle = fc.integer({ min: 0, max: 0x0fff_ffff });
const anyU32 = fc.integer({ min: 0, max: 0xffff_ffff });
const kind = fc.constantFrom(...KINDS);

describe('handle tag rules', () => {
  it('derives tagged kinds from WITX type names', () => {
    expect(kindOfWitxType('cache_handle')).toBe(0x1000_0000);
    expect(kindOfWitxType('cache_replace_handle')).toBe(0x2000_0000);
    expect(kindOfWitxType('http_cache_handle')).toBe(0x3000_0000);
    expect(kindOfWitxType('body_handle')).toBe(0);
    expect(kindOfWitxType('cache_busy_handle')).toBe(0);
  });

  it('accepts a handle only where its own kind is expected, for every pair of kinds', () => {
    for (const given of KINDS) {
      for (const expected of KINDS) {
        const h = tag(7, given);
        expect(isKind(h, expected)).toBe(given === expected);
        expect(strip(h, expected)).toBe(given === expected ? 7 : undefined);
      }
    }
  });

  it('passes the SDKs\' invalid markers through verbatim as members of every kind', () => {
    for (const invalid of [0xffff_ffff, 0xffff_fffe, INVALID_BIT]) {
      for (const k of KINDS) {
        expect(tag(invalid, k)).toBe(invalid);
        expect(isKind(invalid, k)).toBe(true);
        expect(strip(invalid, k)).toBe(invalid);
      }
      expect(kindOf(invalid)).toBeUndefined();
    }
  });

  it('round-trips set and strip for every host handle and kind', () => {
    fc.assert(fc.property(hostHandle, kind, (h, k) => strip(tag(h, k), k) === h && kindOf(tag(h, k)) === k));
  });

  it('never alters a value with the top bit set', () => {
    fc.assert(
      fc.property(anyU32, kind, (v, k) => {
        const h = (v | INVALID_BIT) >>> 0;
        return tag(h, k) === h && strip(h, k) === h;
      }),
    );
  });

  it('rejects unknown type nibbles', () => {
    fc.assert(fc.property(hostHandle, fc.integer({ min: 4, max: 7 }), (h, nibble) => {
      const v = (h | (nibble << 28)) >>> 0;
      return kindOf(v) === undefined && KINDS.every((k) => !isKind(v, k));
    }));
  });
});

describe('the adapter runtime implements the same rules', async () => {
  const wat = `(module (import "env" "memory" (memory 1)) ${RUNTIME_WAT}
    (export "tag" (func $tag)) (export "strip" (func $strip)) (export "wrong_kind" (func $wrong_kind)) (export "arm_dest" (func $arm_dest)))`;
  const memory = new WebAssembly.Memory({ initial: 1 });
  const instance = new WebAssembly.Instance(new WebAssembly.Module(new Uint8Array(await parse(wat))), { env: { memory } });
  const wasm = instance.exports as Record<string, (...a: number[]) => number>;

  it('tags, strips and checks kinds exactly like the model', () => {
    fc.assert(
      fc.property(anyU32, kind, (v, k) => {
        expect(wasm.tag(v, k) >>> 0).toBe(tag(v, k));
        expect(wasm.wrong_kind(v, k)).toBe(isKind(v, k) ? 0 : 1);
        if (isKind(v, k)) expect(wasm.strip(v) >>> 0).toBe(strip(v, k));
      }),
    );
  });

  it('places import-realloc results in the armed guest buffer, and in scratch when too big', () => {
    const realloc = wasm.cabi_import_realloc;
    wasm.arm_dest(1000, 64);
    expect(realloc(0, 0, 1, 64)).toBe(1000);
    // Arming is spent by one allocation: the next goes to scratch pages the adapter grew itself.
    const scratch = realloc(0, 0, 8, 16);
    expect(scratch % 8).toBe(0);
    expect(scratch).toBeGreaterThanOrEqual(65536);
    wasm.arm_dest(2000, 8);
    const big = realloc(0, 0, 1, 9);
    expect(big).not.toBe(2000);
    expect(big).toBeGreaterThanOrEqual(65536);
  });
});

describe('the live sets implement the liveness rule', async () => {
  const types = new LiveTypes();
  ['a/x', 'b/y', 'c/z'].forEach((k) => types.id({ iface: k.split('/')[0], resource: k.split('/')[1] }));
  const wat = `(module (import "env" "memory" (memory 1)) ${RUNTIME_WAT} ${liveWat(types)}
    (export "set" (func $set_live)) (export "clear" (func $clear_live)) (export "bad" (func $bad_handle)) (export "live" (func $live)))`;
  const memory = new WebAssembly.Memory({ initial: 1 });
  const instance = new WebAssembly.Instance(new WebAssembly.Module(new Uint8Array(await parse(wat))), { env: { memory } });
  const wasm = instance.exports as Record<string, (...a: number[]) => number>;

  it('a guest handle is good only with its kind\'s tag, not invalid, and live in its type\'s set', () => {
    const live = [new Set<number>(), new Set<number>(), new Set<number>()];
    const op = fc.record({ set: fc.boolean(), h: fc.oneof(fc.integer({ min: 0, max: 5000 }), fc.integer({ min: 0, max: 0x0fff_ffff })), t: fc.integer({ min: 0, max: 2 }) });
    const probe = fc.record({ h: fc.oneof(fc.integer({ min: 0, max: 5000 }), anyU32), kind, t: fc.integer({ min: 0, max: 2 }) });
    fc.assert(
      fc.property(fc.array(op, { maxLength: 30 }), fc.array(probe, { maxLength: 30 }), (ops, probes) => {
        for (const o of ops) {
          if (o.set) {
            wasm.set(o.h, o.t);
            live[o.t].add(o.h);
          } else {
            wasm.clear(o.h, o.t);
            live[o.t].delete(o.h);
          }
        }
        for (const p of probes) {
          const hostHandle = strip(p.h, p.kind);
          const good = !(p.h & INVALID_BIT) && hostHandle !== undefined && live[p.t].has(hostHandle);
          expect(wasm.bad(p.h, p.kind, p.t), `${p.h} ${p.kind} ${p.t}`).toBe(good ? 0 : 1);
        }
        for (const p of probes) expect(wasm.live(p.h >>> 0, p.t)).toBe(live[p.t].has(p.h >>> 0) ? 1 : 0);
      }),
      { seed: 11, numRuns: 300 },
    );
  });
});
