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
 * an out-of-range WITX enum argument is `inval` (the component ABI would trap on the
 * discriminant), and `select` over an empty list waits out its timeout (Viceroy's answer).
 */
const abi = loadWitxDir(join(projectRoot, 'witx'));
const INVAL = 2;
const U32_MAX = 0xffff_ffff;

/** Every hostcall with a WITX enum value param, with that param's position and case count. */
const enumParams = abi.modules.flatMap((m) =>
  m.functions.flatMap((fn) => {
    const shape = hostcallShape(abi, fn);
    return shape.inputs.flatMap((input) => {
      if (input.kind !== 'value') return [];
      const t = resolveType(abi, input.type);
      if (t.kind !== 'enum') return [];
      return [{ hostcall: `${m.name}#${fn.name}`, core: shape.core, param: input.param, cases: t.cases.length }];
    });
  }),
);

describe.each(ADAPTER_TARGETS)('target %s', (target) => {
  it('an enum argument past its last case is inval, for every hostcall with an enum param, with no host call', async () => {
    expect(enumParams.map((p) => p.hostcall)).toContain('fastly_http_resp#version_set');
    const g = await Guest.create(target);
    for (const p of enumParams) {
      for (const value of [p.cases, p.cases + 6, U32_MAX]) {
        const args = p.core.map((c) => {
          const v = c === p.param ? value : 0;
          return c.core === 'i64' ? BigInt(v) : v | 0;
        });
        expect(g.call(p.hostcall, ...args), `${p.hostcall} with ${p.param.name} = ${value}`).toBe(INVAL);
      }
    }
    expect(g.calls).toEqual([]);
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
