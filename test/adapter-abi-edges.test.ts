import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ADAPTER_TARGETS } from '../src/adapter/target.js';
import { hostcallShape } from '../src/adapter/shape.js';
import { selectReady } from '../src/host/pollable.js';
import { projectRoot } from '../src/version.js';
import { loadWitxDir, resolveType } from '../src/witx/index.js';
import { Guest, outs } from './adapter-harness.js';

/**
 * Legacy-ABI answers the canonical ABI has no counterpart for, decided by the adapter:
 * an out-of-range WITX enum argument, or flags with a bit no flag names, is `inval` (the
 * component ABI would trap lifting them), and `select` over an empty list waits out its
 * timeout (Viceroy's answer).
 */
const abi = loadWitxDir(join(projectRoot, 'witx'));
const INVAL = 2;
const U32_MAX = 0xffff_ffff;

/** Every hostcall with a WITX enum value param, with that param's position and case count. */
const enumParams = valueParams('enum');
/** Every hostcall with a WITX flags value param, with the number of flags. */
const flagsParams = valueParams('flags');

function valueParams(kind: 'enum' | 'flags') {
  return abi.modules.flatMap((m) =>
  m.functions.flatMap((fn) => {
    const shape = hostcallShape(abi, fn);
    return shape.inputs.flatMap((input) => {
      if (input.kind !== 'value') return [];
      const t = resolveType(abi, input.type);
      if (t.kind !== kind) return [];
      const cases = t.kind === 'enum' ? t.cases.length : t.kind === 'flags' ? t.members.length : 0;
      return [{ hostcall: `${m.name}#${fn.name}`, core: shape.core, param: input.param, cases }];
    });
  }),
  );
}

/** Zeroed core arguments but `value` for `param`. */
function argsWith(p: (typeof enumParams)[number], value: number | bigint): Array<number | bigint> {
  return p.core.map((c) => {
    const v = c === p.param ? value : 0;
    return c.core === 'i64' ? BigInt.asIntN(64, BigInt(v)) : Number(BigInt.asIntN(32, BigInt(v)));
  });
}

describe.each(ADAPTER_TARGETS)('target %s', (target) => {
  it('an enum argument past its last case is inval, for every hostcall with an enum param, with no host call', async () => {
    expect(enumParams.map((p) => p.hostcall)).toContain('fastly_http_resp#version_set');
    const g = await Guest.create(target);
    for (const p of enumParams) {
      for (const value of [p.cases, p.cases + 6, U32_MAX]) {
        expect(g.call(p.hostcall, ...argsWith(p, value)), `${p.hostcall} with ${p.param.name} = ${value}`).toBe(INVAL);
      }
    }
    expect(g.calls).toEqual([]);
  });

  it('flags with a bit no flag names are inval, for every hostcall with a flags param, with no host call', async () => {
    expect(flagsParams.map((p) => p.hostcall)).toContain('fastly_http_req#auto_decompress_response_set');
    const g = await Guest.create(target);
    for (const p of flagsParams) {
      for (const bit of [p.cases, 31]) {
        const value = 1n << BigInt(bit);
        expect(g.call(p.hostcall, ...argsWith(p, value)), `${p.hostcall} with ${p.param.name} bit ${bit}`).toBe(INVAL);
      }
    }
    expect(g.calls).toEqual([]);
  });

  it('flags the WITX names reach the host (auto_decompress_response_set gzip)', async () => {
    const g = (await Guest.create(target)).live('http-req/request', 3).returns('http-req/request.set-auto-decompress-response', () => ({ ok: undefined }));
    expect(g.call('fastly_http_req#auto_decompress_response_set', 3, 1)).toBe(0);
    expect(g.refs()).toEqual(['http-req/request.set-auto-decompress-response']);
  });

  it('an enum argument in range reaches the host (version_set 1.1)', async () => {
    const g = (await Guest.create(target)).live('http-resp/response', 3).returns('http-resp/response.set-version', () => ({ ok: undefined }));
    expect(g.call('fastly_http_resp#version_set', 3, 2)).toBe(0);
    expect(g.refs()).toEqual(['http-resp/response.set-version']);
  });

  it('select over an empty list: inval without a timeout; with one, the host waits it out and the answer is u32::MAX', async () => {
    const g = await Guest.create(target);
    g.returns('async-io/select-with-timeout', () => null);
    const [out] = outs(g, 1);
    const empty = g.u32s([]);
    expect(g.call('fastly_async_io#select', empty, 0, 0, out)).toBe(INVAL);
    expect(g.calls).toEqual([]);
    expect(g.call('fastly_async_io#select', empty, 0, 25, out)).toBe(0);
    expect(g.u32(out)).toBe(U32_MAX);
    expect(g.calls).toEqual([{ ref: 'async-io/select-with-timeout', args: [empty, 0, 25] }]);
  });
});

describe('host select-with-timeout', () => {
  const never = { wait: () => { throw new Error('nothing to wait on remotely'); } };

  it('an empty list with a timeout answers none (timed out); without a timeout it is a guest error', () => {
    expect(selectReady([], 1, never)).toBeNull();
    expect(selectReady([], 0, never)).toBeNull();
    expect(() => selectReady([], null, never)).toThrow(/empty list/);
  });
});
