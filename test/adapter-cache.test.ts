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
    // The adapter grows memory for its scratch space: read through a fresh view.
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

/** `fastly_purge#purge_surrogate_key`: the mask picks soft, and `ret_buf` the verbose call whose JSON lands in the struct's buffer. */
describe('fastly_purge#purge_surrogate_key', () => {
  const SOFT = 1;
  const RET_BUF = 2;

  async function purge(mask: number, answer: unknown = { ok: '{"status":"ok","id":"1-2-3"}' }, cap = 64) {
    const g = await Guest.create();
    g.returns('purge/purge-surrogate-key', () => ({ ok: undefined }));
    g.returns('purge/purge-surrogate-key-verbose', () => answer as never);
    const [key, keyLen] = g.bytes('group');
    const offsets = witxOffsets('purge_options');
    const options = g.alloc(12, 4);
    const buffer = g.alloc(cap, 1);
    const [nwritten] = outs(g, 1);
    const dv = new DataView(g.memory.buffer);
    dv.setUint32(options + offsets.ret_buf_ptr!, buffer, true);
    dv.setUint32(options + offsets.ret_buf_len!, cap, true);
    dv.setUint32(options + offsets.ret_buf_nwritten_out!, nwritten!, true);
    const status = g.call('fastly_purge#purge_surrogate_key', key, keyLen, mask, options);
    // The adapter grows memory for its scratch space: read through a fresh view.
    const length = new DataView(g.memory.buffer).getUint32(nwritten!, true);
    return { status, calls: g.calls.map((c) => [c.ref, c.args]), length, json: g.text(buffer, Math.min(length, cap)) };
  }

  it('plain: hard or soft, nothing written back', async () => {
    const hard = await purge(0);
    expect(hard.status).toBe(0);
    expect(hard.calls[0]![0]).toBe('purge/purge-surrogate-key');
    // keys ptr, keys len, soft-purge, extra none
    expect(hard.calls[0]![1].slice(1, 4)).toEqual([5, 0, 0]);
    expect((await purge(SOFT)).calls[0]![1].slice(1, 4)).toEqual([5, 1, 0]);
  });

  it('verbose: the JSON goes into ret_buf with its length, max-len from ret_buf_len; too small is buflen with the size', async () => {
    const verbose = await purge(RET_BUF | SOFT);
    expect(verbose.status).toBe(0);
    expect(verbose.calls[0]![0]).toBe('purge/purge-surrogate-key-verbose');
    expect(verbose.calls[0]![1].slice(1, 5)).toEqual([5, 1, 0, 0]);
    expect(verbose.calls[0]![1][5]).toBe(64n);
    expect(verbose.json).toBe('{"status":"ok","id":"1-2-3"}');
    const small = await purge(RET_BUF, { err: { tag: 'buffer-len', val: 28n } }, 8);
    expect(small).toMatchObject({ status: 4, length: 28 });
    expect((await purge(4)).status).toBe(2);
  });
});
