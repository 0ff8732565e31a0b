import { describe, expect, it } from 'vitest';
import { CACHE_TAG, Guest, INVALID, outs, witxOffsets } from './adapter-harness.js';

/**
 * Handle liveness (src/adapter/live.ts): the adapter knows, per WIT resource type, which handles
 * the guest holds, so a stale, consumed, never-issued or wrong-type handle is `badf` before the
 * canonical ABI could trap on it, and the host never sees it.
 */
const BADF = 3;
const BODY = 'async-io/pollable';
const REQ = 'http-req/request';

const unit = () => ({ ok: undefined });

describe('handle liveness rules', () => {
  it('a handle the guest was never given is badf, with no host call', async () => {
    const g = await Guest.create();
    const [nw] = outs(g, 1);
    expect(g.call('fastly_http_req#uri_get', 7, g.alloc(8), 8, nw)).toBe(BADF);
    expect(g.call('fastly_http_body#write', 7, ...g.bytes('x'), 0, nw)).toBe(BADF);
    expect(g.calls).toEqual([]);
  });

  it('an own result makes the handle live for its type only', async () => {
    const g = await Guest.create();
    g.returns('http-body/new', () => ({ ok: 5 })).returns('http-body/write', () => ({ ok: 1 }));
    const [out, nw] = outs(g, 2);
    expect(g.call('fastly_http_body#new', out)).toBe(0);
    expect(g.call('fastly_http_body#write', g.u32(out), ...g.bytes('x'), 0, nw)).toBe(0);
    // the same number as a request: another resource type, so never issued
    expect(g.call('fastly_http_req#uri_get', 5, g.alloc(8), 8, nw)).toBe(BADF);
    expect(g.refs()).toEqual(['http-body/new', 'http-body/write']);
  });

  it('append moves its source: appending it again is badf, the destination stays live', async () => {
    const g = (await Guest.create()).live(BODY, 1, 2);
    g.returns('http-body/append', unit).returns('http-body/write', () => ({ ok: 1 }));
    expect(g.call('fastly_http_body#append', 1, 2)).toBe(0);
    expect(g.call('fastly_http_body#append', 1, 2)).toBe(BADF);
    expect(g.call('fastly_http_body#append', 2, 1)).toBe(BADF);
    const [nw] = outs(g, 1);
    expect(g.call('fastly_http_body#write', 1, ...g.bytes('x'), 0, nw)).toBe(0);
    expect(g.refs()).toEqual(['http-body/append', 'http-body/write']);
  });

  it('close and abandon (own params, [resource-drop]) end a handle', async () => {
    const g = (await Guest.create()).live(BODY, 1, 2).live(REQ, 3);
    g.returns('http-body/close', unit).on('async-io/[resource-drop]pollable', () => undefined).returns('http-req/close', unit);
    expect(g.call('fastly_http_body#close', 1)).toBe(0);
    expect(g.call('fastly_http_body#close', 1)).toBe(BADF);
    expect(g.call('fastly_http_body#abandon', 2)).toBe(0);
    expect(g.call('fastly_http_body#abandon', 2)).toBe(BADF);
    expect(g.call('fastly_http_req#close', 3)).toBe(0);
    expect(g.call('fastly_http_req#close', 3)).toBe(BADF);
    expect(g.refs()).toEqual(['http-body/close', 'async-io/[resource-drop]pollable', 'http-req/close']);
  });

  it('a failed call that took a handle as own still consumed it', async () => {
    const g = (await Guest.create()).live(BODY, 1, 2);
    g.returns('http-body/append', () => ({ err: { tag: 'generic-error' } }));
    expect(g.call('fastly_http_body#append', 1, 2)).toBe(1);
    expect(g.call('fastly_http_body#append', 1, 2)).toBe(BADF);
    expect(g.calls).toHaveLength(1);
  });

  it('handles inside a tuple result (send) go live; the request and body sent are gone', async () => {
    const g = (await Guest.create()).live(REQ, 1).live(BODY, 2);
    g.returns('backend/backend.open', () => ({ ok: 77 }))
      .on('backend/[resource-drop]backend', () => undefined)
      .returns('http-req/send', () => ({ ok: [11, 12] }))
      .returns('http-resp/response.get-status', () => ({ ok: 200 }))
      .returns('http-body/write', () => ({ ok: 1 }));
    const [name, len] = g.bytes('origin');
    const [resp, body, status, nw] = outs(g, 4);
    expect(g.call('fastly_http_req#send', 1, 2, name, len, resp, body)).toBe(0);
    expect(g.call('fastly_http_req#send', 1, 2, name, len, resp, body)).toBe(BADF);
    expect(g.call('fastly_http_resp#status_get', 11, status)).toBe(0);
    expect(g.call('fastly_http_body#write', 12, ...g.bytes('x'), 0, nw)).toBe(0);
    expect(g.refs().filter((r) => r === 'http-req/send')).toHaveLength(1);
  });

  it('a freed slot the host hands out again is live again', async () => {
    const g = (await Guest.create()).live(BODY, 1, 2);
    g.returns('http-body/append', unit).returns('http-body/new', () => ({ ok: 2 }));
    expect(g.call('fastly_http_body#append', 1, 2)).toBe(0);
    const [out] = outs(g, 1);
    expect(g.call('fastly_http_body#new', out)).toBe(0);
    expect(g.call('fastly_http_body#append', 1, 2)).toBe(0);
  });

  it('tagged handles: live as their own resource type, tag stripped; closing ends them', async () => {
    const g = await Guest.create();
    g.returns('cache/entry.lookup', () => ({ ok: 5 }))
      .returns('cache/entry.get-state', () => ({ ok: 1 }))
      .returns('cache/close-entry', unit);
    const [key, klen] = g.bytes('k');
    const [out, state] = outs(g, 2);
    expect(g.call('fastly_cache#lookup', key, klen, 0, g.alloc(12), out)).toBe(0);
    const entry = g.u32(out);
    expect(entry).toBe((CACHE_TAG | 5) >>> 0);
    expect(g.call('fastly_cache#get_state', entry, state)).toBe(0);
    expect(g.call('fastly_cache#close', entry)).toBe(0);
    expect(g.call('fastly_cache#get_state', entry, state)).toBe(BADF);
    expect(g.refs()).toEqual(['cache/entry.lookup', 'cache/entry.get-state', 'cache/close-entry']);
  });

  it('invalid markers: badf where a handle is required, none where it is optional', async () => {
    const g = (await Guest.create()).live(REQ, 3);
    let params: unknown[] = [];
    g.returns('backend/backend.open', () => ({ ok: 9 }))
      .on('backend/[resource-drop]backend', () => undefined)
      .on('image-optimizer/transform-image-optimizer-request', (...args) => {
        params = args.slice(0, 2);
        g.store(g.resultOf('image-optimizer/transform-image-optimizer-request'), Number(args.at(-1)), { ok: [31, 32] });
      });
    const [nw] = outs(g, 1);
    for (const h of [INVALID, 0xffff_ffff, 0x8000_0000]) expect(g.call('fastly_http_req#uri_get', h, g.alloc(8), 8, nw)).toBe(BADF);
    const [name, len] = g.bytes('images');
    const [resp, body] = outs(g, 2);
    const call = (bodyHandle: number) =>
      g.call('fastly_image_optimizer#transform_image_optimizer_request', 3, bodyHandle, name, len, 0, g.alloc(8), g.alloc(12), resp, body);
    expect(call(INVALID)).toBe(0);
    expect(params).toEqual([3, 0]);
    // an optional handle that is not an invalid marker must be live
    expect(call(44)).toBe(BADF);
  });

  it('a handle in an options record is checked only when its mask flag is set', async () => {
    const g = await Guest.create();
    g.returns('cache/entry.lookup', () => ({ ok: 5 }));
    const [key, klen] = g.bytes('k');
    const options = g.alloc(12, 4);
    g.dv.setUint32(options, 42, true); // request_headers: never issued
    const [out] = outs(g, 1);
    expect(g.call('fastly_cache#lookup', key, klen, 0b0010, options, out)).toBe(BADF);
    expect(g.calls).toEqual([]);
    expect(g.call('fastly_cache#lookup', key, klen, 0, options, out)).toBe(0);
    g.live(REQ, 42);
    expect(g.call('fastly_cache#lookup', key, klen, 0b0010, options, out)).toBe(0);
  });

  it('a handle in a builder struct (a client key secret) is checked before its setter; what was built is dropped', async () => {
    const g = await Guest.create();
    const dropped: string[] = [];
    g.returns('backend/dynamic-backend-options.new', () => 100)
      .on('backend/dynamic-backend-options.client-cert', () => undefined)
      .returns('backend/register-dynamic-backend', () => ({ ok: 300 }))
      .on('backend/[resource-drop]backend', () => undefined)
      .on('backend/[resource-drop]dynamic-backend-options', (h) => void dropped.push(`options ${h}`));
    const cfg = witxOffsets('dynamic_backend_config');
    const struct = g.alloc(128, 8);
    new Uint8Array(g.memory.buffer, struct, 128).fill(0);
    const [cert, certLen] = g.bytes('PEM');
    g.dv.setUint32(struct + cfg.client_certificate, cert, true);
    g.dv.setUint32(struct + cfg.client_certificate_len, certLen, true);
    g.dv.setUint32(struct + cfg.client_key, 6, true);
    const register = () => g.call('fastly_http_req#register_dynamic_backend', ...g.bytes('dyn'), ...g.bytes('example.com:443'), 1 << 13, struct);
    expect(register()).toBe(BADF);
    expect(g.refs()).toEqual(['backend/dynamic-backend-options.new', 'backend/[resource-drop]dynamic-backend-options']);
    expect(dropped).toEqual(['options 100']);
    g.live('secret-store/secret', 6);
    expect(register()).toBe(0);
    expect(g.refs()).toContain('backend/dynamic-backend-options.client-cert');
  });

  it('the downstream request is live from the start; once sent, implicit downstream calls are badf, not a trap', async () => {
    const g = (await Guest.create()).downstream(20, 21);
    g.returns('http-downstream/downstream-client-request-id', () => ({ ok: 'abc' }))
      .returns('backend/backend.open', () => ({ ok: 77 }))
      .on('backend/[resource-drop]backend', () => undefined)
      .returns('http-req/send', () => ({ ok: [11, 12] }));
    const [req, body, nw] = outs(g, 3);
    const buf = g.alloc(16, 1);
    expect(g.call('fastly_http_req#downstream_client_request_id', buf, 16, nw)).toBe(0);
    expect(g.call('fastly_http_req#body_downstream_get', req, body)).toBe(0);
    expect(g.call('fastly_http_req#send', g.u32(req), g.u32(body), ...g.bytes('origin'), ...outs(g, 2))).toBe(0);
    expect(g.call('fastly_http_req#downstream_client_request_id', buf, 16, nw)).toBe(BADF);
    expect(g.refs().filter((r) => r.includes('request-id'))).toHaveLength(1);
  });

  it('pending_req_select checks every handle in the list', async () => {
    const g = (await Guest.create()).live(BODY, 10, 11);
    g.returns('async-io/select', () => 0).returns('http-req/await-response', () => ({ ok: [30, 31] }));
    const [idx, resp, body] = outs(g, 3);
    expect(g.call('fastly_http_req#pending_req_select', g.u32s([10, 12]), 2, idx, resp, body)).toBe(BADF);
    expect(g.calls).toEqual([]);
    expect(g.call('fastly_http_req#pending_req_select', g.u32s([10, 11]), 2, idx, resp, body)).toBe(0);
    // the chosen one was awaited (taken as own); the other is still live
    expect(g.call('fastly_http_req#pending_req_select', g.u32s([10, 11]), 2, idx, resp, body)).toBe(BADF);
    expect(g.call('fastly_http_req#pending_req_select', g.u32s([11]), 1, idx, resp, body)).toBe(0);
  });

  it('select and is_ready: a dead handle anywhere is badf, before any pollable is made', async () => {
    const g = (await Guest.create()).live(BODY, 4).live('cache/entry', 5);
    g.returns('async-io/pollable.is-ready', () => true).returns('async-io/select', () => 0);
    const [out] = outs(g, 1);
    expect(g.call('fastly_async_io#is_ready', 4, out)).toBe(0);
    expect(g.call('fastly_async_io#is_ready', 6, out)).toBe(BADF);
    expect(g.call('fastly_async_io#is_ready', (CACHE_TAG | 4) >>> 0, out)).toBe(BADF);
    expect(g.call('fastly_async_io#select', g.u32s([4, (CACHE_TAG | 6) >>> 0]), 2, 0, out)).toBe(BADF);
    expect(g.call('fastly_async_io#select', g.u32s([(CACHE_TAG | 5) >>> 0, 9]), 2, 0, out)).toBe(BADF);
    expect(g.refs()).toEqual(['async-io/pollable.is-ready']);
    expect(g.call('fastly_async_io#select', g.u32s([4]), 1, 0, out)).toBe(0);
  });

  it('the live sets grow past their first pages for large handle values', async () => {
    const g = await Guest.create();
    g.returns('http-body/write', () => ({ ok: 1 }));
    const [nw] = outs(g, 1);
    const big = [600, 70_000, 1_000_000];
    for (const h of big) g.live(BODY, h);
    for (const h of [...big, 1]) g.call('fastly_http_body#write', h, ...g.bytes('x'), 0, nw);
    expect(g.calls.map((c) => c.args[0])).toEqual(big);
    expect(g.call('fastly_http_body#write', 599, ...g.bytes('x'), 0, nw)).toBe(BADF);
  });
});
