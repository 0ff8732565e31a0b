import { describe, expect, it } from 'vitest';
import { Guest, INVALID, outs, witxOffsets } from './adapter-harness.js';

/** Newly mapped store, ACL, backend, shielding, image optimizer and HTTP-cache hostcalls. */
const KV = { uninitialized: 0, ok: 1, bad_request: 2, not_found: 3, too_many_requests: 7 };

function lookupWait(g: Guest, hostcall = 'fastly_kv_store#lookup_wait_v2', cap = 32) {
  const [body, nw, gen, kvErr] = outs(g, 4);
  const meta = g.alloc(cap, 1);
  g.live('async-io/pollable', 40);
  const status = g.call(hostcall, 40, body, meta, cap, nw, gen, kvErr);
  return { status, body: g.u32(body), nwritten: g.u32(nw), meta: g.text(meta, Math.min(g.u32(nw), cap)), gen: g.u64(gen), kvError: g.u32(kvErr) };
}

async function kvGuest(result: () => unknown): Promise<Guest> {
  const g = await Guest.create();
  return g
    .returns('kv-store/await-lookup', result)
    .returns('kv-store/entry.metadata', () => ({ ok: 'meta' }))
    .returns('kv-store/entry.take-body', () => 50)
    .returns('kv-store/entry.generation', () => 7n)
    .on('kv-store/[resource-drop]entry', () => undefined);
}

describe('KV store waits with kv_error', () => {
  it('found: metadata, body, generation, kv_error ok; the entry is dropped', async () => {
    const g = await kvGuest(() => ({ ok: 60 }));
    expect(lookupWait(g)).toEqual({ status: 0, body: 50, nwritten: 4, meta: 'meta', gen: 7n, kvError: KV.ok });
    expect(g.calls.map((c) => [c.ref, c.args])).toEqual([
      ['kv-store/await-lookup', [40]],
      ['kv-store/entry.metadata', [60, 32n]],
      ['kv-store/entry.take-body', [60]],
      ['kv-store/entry.generation', [60]],
      ['kv-store/[resource-drop]entry', [60]],
    ]);
  });

  it('v1 reports generation 0 without asking, as the legacy host did', async () => {
    const g = await kvGuest(() => ({ ok: 60 }));
    const [body, nw, gen, kvErr] = outs(g, 4);
    g.live('async-io/pollable', 40);
    expect(g.call('fastly_kv_store#lookup_wait', 40, body, g.alloc(8), 8, nw, gen, kvErr)).toBe(0);
    expect(g.u32(gen)).toBe(0);
    expect(g.refs()).not.toContain('kv-store/entry.generation');
  });

  it('missing key: not_found, invalid body, ok', async () => {
    const g = await kvGuest(() => ({ ok: null }));
    expect(lookupWait(g)).toMatchObject({ status: 0, body: INVALID, kvError: KV.not_found });
  });

  it('kv errors with a legacy name are ok + that kv_error; the others uninitialized + their status', async () => {
    let next: unknown = { err: { tag: 'too-many-requests' } };
    const g = await kvGuest(() => next);
    expect(lookupWait(g)).toMatchObject({ status: 0, body: INVALID, kvError: KV.too_many_requests });
    next = { err: { tag: 'generic-error' } };
    expect(lookupWait(g)).toMatchObject({ status: 1, kvError: KV.uninitialized });
  });

  it('an extra kv error is answered as a generic error and its resource dropped', async () => {
    const dropped: number[] = [];
    const g = (await kvGuest(() => ({ err: { tag: 'extra', val: 31 } }))).on('kv-store/[resource-drop]extra-kv-error', (h) => void dropped.push(h as number));
    expect(lookupWait(g)).toMatchObject({ status: 1, kvError: KV.uninitialized });
    expect(dropped).toEqual([31]);
  });

  it('metadata too big: buflen with the size needed; the entry is still dropped', async () => {
    const g = await kvGuest(() => ({ ok: 60 }));
    g.returns('kv-store/entry.metadata', () => ({ err: { tag: 'buffer-len', val: 100n } }));
    expect(lookupWait(g, 'fastly_kv_store#lookup_wait_v2', 4)).toMatchObject({ status: 4, nwritten: 100 });
    expect(g.refs().at(-1)).toBe('kv-store/[resource-drop]entry');
  });

  it('insert: options from the mask, insert_wait ok / bad_request', async () => {
    const g = await Guest.create();
    g.live('kv-store/store', 1).live('async-io/pollable', 2).returns('kv-store/store.insert-async', () => ({ ok: 70 }));
    const cfg = witxOffsets('kv_insert_config');
    const struct = g.alloc(40, 8);
    const [meta, metaLen] = g.bytes('m=1');
    g.dv.setUint32(struct + cfg.mode, 2, true);
    g.dv.setUint32(struct + cfg.metadata, meta, true);
    g.dv.setUint32(struct + cfg.metadata_len, metaLen, true);
    g.dv.setUint32(struct + cfg.time_to_live_sec, 300, true);
    g.dv.setBigUint64(struct + cfg.if_generation_match, 9n, true);
    const [key, keyLen] = g.bytes('k');
    const [out] = outs(g, 1);
    // background_fetch | metadata | time_to_live_sec | if_generation_match
    expect(g.call('fastly_kv_store#insert', 1, key, keyLen, 2, 0b111010, struct, out)).toBe(0);
    expect(g.u32(out)).toBe(70);
    // self, key, body, background-fetch, if-generation-match, metadata, ttl, mode, extra
    expect(g.calls[0].args).toEqual([1, key, keyLen, 2, 1, 1, 9n, 1, meta, metaLen, 1, 300, 2, 0, 0]);

    const answers: unknown[] = [{ ok: undefined }, { err: { tag: 'bad-request' } }];
    g.returns('kv-store/await-insert', () => answers.shift());
    const [kvErr] = outs(g, 1);
    expect(g.call('fastly_kv_store#insert_wait', 70, kvErr)).toBe(0);
    expect(g.u32(kvErr)).toBe(KV.ok);
    // the wait took the pending insert: a second one is badf, unless the host hands it out again
    expect(g.call('fastly_kv_store#insert_wait', 70, kvErr)).toBe(3);
    g.live('async-io/pollable', 70);
    expect(g.call('fastly_kv_store#insert_wait', 70, kvErr)).toBe(0);
    expect(g.u32(kvErr)).toBe(KV.bad_request);
  });

  it('delete_wait: true is ok, false not_found', async () => {
    const g = await Guest.create();
    const answers = [{ ok: true }, { ok: false }];
    g.returns('kv-store/await-delete', () => answers.shift());
    const [kvErr] = outs(g, 1);
    g.live('async-io/pollable', 5);
    expect(g.call('fastly_kv_store#delete_wait', 5, kvErr)).toBe(0);
    expect(g.u32(kvErr)).toBe(KV.ok);
    g.live('async-io/pollable', 5);
    expect(g.call('fastly_kv_store#delete_wait', 5, kvErr)).toBe(0);
    expect(g.u32(kvErr)).toBe(KV.not_found);
  });

  it('list: mode, cursor, limit and prefix; list_wait hands out the body', async () => {
    const g = await Guest.create();
    g.live('kv-store/store', 1).returns('kv-store/store.list-async', () => ({ ok: 80 })).returns('kv-store/await-list', () => ({ ok: 81 }));
    const cfg = witxOffsets('kv_list_config');
    const struct = g.alloc(24, 4);
    const [prefix, prefixLen] = g.bytes('user/');
    g.dv.setUint32(struct + cfg.mode, 1, true);
    g.dv.setUint32(struct + cfg.limit, 10, true);
    g.dv.setUint32(struct + cfg.prefix, prefix, true);
    g.dv.setUint32(struct + cfg.prefix_len, prefixLen, true);
    const [out, body, kvErr] = outs(g, 3);
    expect(g.call('fastly_kv_store#list', 1, 0b1100, struct, out)).toBe(0);
    // self, mode eventual, cursor none, limit some(10), prefix some, extra none
    expect(g.calls[0].args).toEqual([1, 1, 0, 0, 0, 1, 10, 1, prefix, prefixLen, 0, 0]);
    expect(g.call('fastly_kv_store#list_wait', g.u32(out), body, kvErr)).toBe(0);
    expect([g.u32(body), g.u32(kvErr)]).toEqual([81, KV.ok]);
  });
});

describe('object store (through kv-store)', () => {
  it('lookup: the entry body; missing or bad-request keys are ok with an invalid body', async () => {
    const g = await Guest.create();
    const answers: unknown[] = [{ ok: 60 }, { ok: null }, { err: { tag: 'bad-request' } }, { err: { tag: 'internal-error' } }];
    g.live('kv-store/store', 1).returns('kv-store/store.lookup', () => answers.shift())
      .returns('kv-store/entry.take-body', () => 50)
      .on('kv-store/[resource-drop]entry', () => undefined);
    const [key, len] = g.bytes('k');
    const [body] = outs(g, 1);
    const results = [0, 1, 2, 3].map(() => [g.call('fastly_object_store#lookup', 1, key, len, body), g.u32(body)]);
    expect(results).toEqual([
      [0, 50],
      [0, INVALID],
      [0, INVALID],
      [1, INVALID],
    ]);
  });

  it('pending_lookup_wait awaits; inserts overwrite with default options; delete wait ignores the flag', async () => {
    const g = await Guest.create();
    g.live('async-io/pollable', 3, 91).live('kv-store/store', 1).live('async-io/pollable', 2)
      .returns('kv-store/await-lookup', () => ({ ok: null }))
      .returns('kv-store/store.insert', () => ({ ok: undefined }))
      .returns('kv-store/store.insert-async', () => ({ ok: 90 }))
      .returns('kv-store/await-insert', () => ({ err: { tag: 'too-many-requests' } }))
      .returns('kv-store/await-delete', () => ({ ok: false }));
    const [body, pending] = outs(g, 2);
    expect(g.call('fastly_object_store#pending_lookup_wait', 3, body)).toBe(0);
    expect(g.u32(body)).toBe(INVALID);
    const [key, len] = g.bytes('k');
    expect(g.call('fastly_object_store#insert', 1, key, len, 2)).toBe(0);
    expect(g.calls[1].args).toEqual([1, key, len, 2, 0, 0, 0n, 0, 0, 0, 0, 0, 0, 0, 0]);
    // the insert took body 2
    expect(g.call('fastly_object_store#insert_async', 1, key, len, 2, pending)).toBe(3);
    g.live('async-io/pollable', 2);
    expect(g.call('fastly_object_store#insert_async', 1, key, len, 2, pending)).toBe(0);
    expect(g.u32(pending)).toBe(90);
    expect(g.call('fastly_object_store#pending_insert_wait', 90)).toBe(13);
    expect(g.call('fastly_object_store#pending_delete_wait', 91)).toBe(0);
  });
});

describe('ACL, backend exists', () => {
  it('acl lookup: body + ok, no_content, too_many_requests; generic errors fail', async () => {
    const g = await Guest.create();
    const answers: unknown[] = [{ ok: 50 }, { ok: null }, { err: 'too-many-requests' }, { err: 'generic-error' }];
    let ip: unknown;
    g.live('acl/acl', 4).returns('acl/acl.lookup', (args) => {
      ip = args.slice(1);
      return answers.shift();
    });
    const [octets, len] = g.bytes(new Uint8Array([10, 1, 2, 3]));
    const [body, aclErr] = outs(g, 2);
    const run = () => [g.call('fastly_acl#lookup', 4, octets, len, body, aclErr), g.u32(body), g.u32(aclErr)];
    expect(run()).toEqual([0, 50, 1]);
    expect(ip).toEqual([0, 10, 1, 2, 3, 0, 0, 0, 0]);
    expect(run()).toEqual([0, INVALID, 2]);
    expect(run()[2]).toBe(3);
    expect(run()).toEqual([1, INVALID, 0]);
    expect(g.call('fastly_acl#lookup', 4, octets, 3, body, aclErr)).toBe(2);
    expect(g.calls).toHaveLength(4);
  });

  it('backend exists: opens ok → 1 (and drops it), not-found → 0, other errors fail', async () => {
    const g = await Guest.create();
    const answers: unknown[] = [{ ok: 5 }, { err: 'not-found' }, { err: 'invalid-syntax' }];
    g.returns('backend/backend.open', () => answers.shift()).on('backend/[resource-drop]backend', () => undefined);
    const [name, len] = g.bytes('origin');
    const [out] = outs(g, 1);
    expect([g.call('fastly_backend#exists', name, len, out), g.u32(out)]).toEqual([0, 1]);
    expect([g.call('fastly_backend#exists', name, len, out), g.u32(out)]).toEqual([0, 0]);
    expect(g.call('fastly_backend#exists', name, len, out)).toBe(2);
    expect(g.refs()).toEqual(['backend/backend.open', 'backend/[resource-drop]backend', 'backend/backend.open', 'backend/backend.open']);
  });
});

describe('backend TLS versions', () => {
  it('the WIT protocol number becomes the legacy tls_version enum; unknown ones are unsupported', async () => {
    const g = await Guest.create();
    const answers: unknown[] = [{ ok: 0x0303 }, { ok: 0x0200 }, { ok: null }];
    g.returns('backend/backend.open', () => ({ ok: 5 }))
      .on('backend/[resource-drop]backend', () => undefined)
      .returns('backend/backend.get-tls-min-version', () => answers.shift());
    const [name, len] = g.bytes('origin');
    const [out] = outs(g, 1);
    expect([g.call('fastly_backend#get_ssl_min_version', name, len, out), g.u32(out)]).toEqual([0, 2]);
    expect(g.call('fastly_backend#get_ssl_min_version', name, len, out)).toBe(5);
    expect(g.call('fastly_backend#get_ssl_min_version', name, len, out)).toBe(10);
    expect(g.refs().filter((r) => r.includes('drop'))).toHaveLength(3);
  });
});
