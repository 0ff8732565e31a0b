import { describe, expect, it } from 'vitest';
import { CACHE_TAG, Guest, outs, witxOffsets } from './adapter-harness.js';

/** Legacy `$cache_replace_strategy` numbers its cases from 1; the WIT enum from 0. */
describe('fastly_cache#replace strategy', () => {
  const REPLACE_STRATEGY = 1 << 2;

  async function replace(strategy: number, mask = REPLACE_STRATEGY) {
    const g = await Guest.create();
    g.returns('cache/replace-entry.replace', () => ({ ok: 9 }));
    const [key, keyLen] = g.bytes('k');
    const options = g.alloc(16, 4);
    new DataView(g.memory.buffer).setUint32(options + witxOffsets('cache_replace_options').replace_strategy!, strategy, true);
    const [handle] = outs(g, 1);
    const status = g.call('fastly_cache#replace', key, keyLen, mask, options, handle!);
    return { status, handle: new DataView(g.memory.buffer).getUint32(handle!, true), calls: g.calls };
  }

  it('maps 1, 2, 3 to immediate, immediate-force-miss, wait', async () => {
    for (const [legacy, wit] of [
      [1, 0],
      [2, 1],
      [3, 2],
    ]) {
      const { status, handle, calls } = await replace(legacy!);
      expect(status).toBe(0);
      expect(handle).toBe((CACHE_TAG * 2) | 9);
      // key ptr, key len, request-headers none (2), replace-strategy some(wit), always-use false, extra none (2)
      expect(calls[0]!.args.slice(2, 6)).toEqual([0, 0, 1, wit]);
    }
  });

  it('answers inval for a number outside the strategies, and leaves the field alone without its flag', async () => {
    for (const legacy of [0, 4, 0xffffffff]) {
      const { status, calls } = await replace(legacy);
      expect(status).toBe(2);
      expect(calls).toEqual([]);
    }
    const { status, calls } = await replace(0, 0);
    expect(status).toBe(0);
    expect(calls[0]!.args.slice(4, 5)).toEqual([0]);
  });
});
