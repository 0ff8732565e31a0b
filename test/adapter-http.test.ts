import { describe, expect, it } from 'vitest';
import { CACHE_TAG, Guest, INVALID, outs, witxOffsets } from './adapter-harness.js';

/** Newly mapped `fastly_http_*` hostcalls: send error details, poll/select, overrides, options. */
const DETAIL = witxOffsets('send_error_detail');
const TAG = { uninitialized: 0, ok: 1, dns_error: 3, destination_not_found: 4, tls_alert_received: 23, h2_error: 25 };

function detail(g: Guest, at: number) {
  return {
    tag: g.u32(at + DETAIL.tag),
    mask: g.u32(at + DETAIL.mask),
    rcode: g.dv.getUint16(at + DETAIL.dns_error_rcode, true),
    info: g.dv.getUint16(at + DETAIL.dns_error_info_code, true),
    alert: g.dv.getUint8(at + DETAIL.tls_alert_id),
    h2frame: g.dv.getUint8(at + DETAIL.h2_error_frame),
    h2code: g.u32(at + DETAIL.h2_error_code),
  };
}

const sendError = (tag: string, val?: unknown, error = { tag: 'generic-error' }) => ({ err: { detail: { tag, val }, error } });

async function sender(result: () => unknown): Promise<Guest> {
  const g = await Guest.create();
  return g
    .returns('backend/backend.open', () => ({ ok: 77 }))
    .on('backend/[resource-drop]backend', () => undefined)
    .returns('http-req/send', result)
    .returns('http-req/send-uncached', result);
}

function sendV2(g: Guest, hostcall = 'fastly_http_req#send_v2') {
  g.live('http-req/request', 1).live('async-io/pollable', 2);
  const [name, len] = g.bytes('origin');
  const errorDetail = g.alloc(20, 4);
  const [resp, body] = outs(g, 2);
  const status = g.call(hostcall, 1, 2, name, len, errorDetail, resp, body);
  return { status, detail: detail(g, errorDetail), handles: [g.u32(resp), g.u32(body)] };
}

describe('send_error_detail', () => {
  it('success: handles out, tag ok, nothing else set', async () => {
    const g = await sender(() => ({ ok: [11, 12] }));
    const r = sendV2(g);
    expect(r).toMatchObject({ status: 0, handles: [11, 12], detail: { tag: TAG.ok, mask: 0 } });
  });

  it('dns error: tag, only the present fields and their mask bits; invalid handles; status from the error', async () => {
    const g = await sender(() => sendError('dns-error', { rcode: 3, 'info-code': null }, { tag: 'http-incomplete' } as never));
    const r = sendV2(g);
    expect(r.status).toBe(9);
    expect(r.handles).toEqual([INVALID, INVALID]);
    expect(r.detail).toMatchObject({ tag: TAG.dns_error, mask: 0b10, rcode: 3, info: 0 });
  });

  it('h2 error: frame type and code with the h2_error flag; send_v3 sends uncached', async () => {
    const g = await sender(() => sendError('h2-error', { 'frame-type': 7, 'error-code': 0x1234 }));
    const r = sendV2(g, 'fastly_http_req#send_v3');
    expect(r.status).toBe(1);
    expect(r.detail).toMatchObject({ tag: TAG.h2_error, mask: 0b1_0000, h2frame: 7, h2code: 0x1234 });
    expect(g.refs()).toContain('http-req/send-uncached');
  });

  it('no detail leaves the tag uninitialized; an extra case reads as internal_error and is dropped', async () => {
    let next: unknown = { err: { detail: null, error: { tag: 'generic-error' } } };
    const dropped: number[] = [];
    const g = (await sender(() => next)).on('http-req/[resource-drop]extra-send-error-detail', (h) => void dropped.push(h as number));
    expect(sendV2(g).detail).toMatchObject({ tag: TAG.uninitialized, mask: 0 });
    expect(dropped).toEqual([]);
    next = sendError('extra', 5);
    expect(sendV2(g).detail.tag).toBe(22);
    expect(dropped).toEqual([5]);
  });

  it('a backend that does not open is destination_not_found', async () => {
    const g = await Guest.create();
    g.returns('backend/backend.open', () => ({ err: 'not-found' }));
    const r = sendV2(g);
    expect(r).toMatchObject({ status: 2, handles: [INVALID, INVALID], detail: { tag: TAG.destination_not_found } });
    expect(g.refs()).toEqual(['backend/backend.open']);
  });

  it('pending_req_wait_v2: tls alert id', async () => {
    const g = await Guest.create();
    g.live('async-io/pollable', 6).returns('http-req/await-response', () => sendError('tls-alert-received', { id: 40 }));
    const errorDetail = g.alloc(20, 4);
    const [resp, body] = outs(g, 2);
    expect(g.call('fastly_http_req#pending_req_wait_v2', 6, errorDetail, resp, body)).toBe(1);
    expect(detail(g, errorDetail)).toMatchObject({ tag: TAG.tls_alert_received, mask: 0b1000, alert: 40 });
    expect(g.calls[0].args).toEqual([6]);
  });
});

describe('pending_req_poll', () => {
  it('not ready: is_done 0, invalid handles, ok, and the request is not awaited', async () => {
    const g = await Guest.create();
    g.live('async-io/pollable', 6).returns('async-io/pollable.is-ready', () => false);
    const [done, resp, body] = outs(g, 3);
    expect(g.call('fastly_http_req#pending_req_poll', 6, done, resp, body)).toBe(0);
    expect([g.u32(done), g.u32(resp), g.u32(body)]).toEqual([0, INVALID, INVALID]);
    expect(g.calls).toEqual([{ ref: 'async-io/pollable.is-ready', args: [6] }]);
  });

  it('ready: is_done 1 and the response', async () => {
    const g = await Guest.create();
    g.live('async-io/pollable', 6).returns('async-io/pollable.is-ready', () => true).returns('http-req/await-response', () => ({ ok: [20, 21] }));
    const [done, resp, body] = outs(g, 3);
    expect(g.call('fastly_http_req#pending_req_poll', 6, done, resp, body)).toBe(0);
    expect([g.u32(done), g.u32(resp), g.u32(body)]).toEqual([1, 20, 21]);
    expect(g.calls.map((c) => [c.ref, c.args])).toEqual([
      ['async-io/pollable.is-ready', [6]],
      ['http-req/await-response', [6]],
    ]);
  });

  it('v2: a failed request fills the detail; a cache handle is badf with no host call', async () => {
    const g = await Guest.create();
    g.live('async-io/pollable', 6).returns('async-io/pollable.is-ready', () => true).returns('http-req/await-response', () => sendError('dns-timeout'));
    const errorDetail = g.alloc(20, 4);
    const [done, resp, body] = outs(g, 3);
    expect(g.call('fastly_http_req#pending_req_poll_v2', 6, errorDetail, done, resp, body)).toBe(1);
    expect(detail(g, errorDetail).tag).toBe(2);
    expect(g.call('fastly_http_req#pending_req_poll_v2', (CACHE_TAG | 6) >>> 0, errorDetail, done, resp, body)).toBe(3);
    expect(g.calls).toHaveLength(2);
  });
});

describe('pending_req_select', () => {
  it('selects over the guest list, awaits the chosen one and writes its index', async () => {
    const g = await Guest.create();
    g.live('async-io/pollable', 10, 11, 12).returns('async-io/select', () => 1).returns('http-req/await-response', () => ({ ok: [30, 31] }));
    const hs = g.u32s([10, 11, 12]);
    const [idx, resp, body] = outs(g, 3);
    expect(g.call('fastly_http_req#pending_req_select', hs, 3, idx, resp, body)).toBe(0);
    expect([g.u32(idx), g.u32(resp), g.u32(body)]).toEqual([1, 30, 31]);
    expect(g.calls).toEqual([
      { ref: 'async-io/select', args: [hs, 3] },
      { ref: 'http-req/await-response', args: [11] },
    ]);
  });

  it('empty list inval; invalid or tagged handles badf; no host call', async () => {
    const g = await Guest.create();
    const [idx, resp, body] = outs(g, 3);
    expect(g.call('fastly_http_req#pending_req_select', g.u32s([]), 0, idx, resp, body)).toBe(2);
    expect(g.call('fastly_http_req#pending_req_select', g.u32s([10, INVALID]), 2, idx, resp, body)).toBe(3);
    expect(g.call('fastly_http_req#pending_req_select', g.u32s([(CACHE_TAG | 10) >>> 0]), 1, idx, resp, body)).toBe(3);
    expect(g.calls).toEqual([]);
  });

  it('v2: a failed request is ok with its index, invalid handles and the detail, as legacy hosts answered', async () => {
    const g = await Guest.create();
    g.live('async-io/pollable', 10, 11).returns('async-io/select', () => 0).returns('http-req/await-response', () => sendError('connection-refused'));
    const errorDetail = g.alloc(20, 4);
    const [idx, resp, body] = outs(g, 3);
    expect(g.call('fastly_http_req#pending_req_select_v2', g.u32s([10, 11]), 2, errorDetail, idx, resp, body)).toBe(0);
    expect([g.u32(idx), g.u32(resp), g.u32(body)]).toEqual([0, INVALID, INVALID]);
    expect(detail(g, errorDetail).tag).toBe(7);
  });
});

describe('cache override', () => {
  async function override(hostcall: string, ...args: number[]) {
    const g = await Guest.create();
    g.live('http-req/request', 3).returns('http-req/request.set-cache-override', () => ({ ok: undefined }));
    expect(g.call(hostcall, 3, ...args)).toBe(0);
    return g.calls[0].args;
  }

  it('pass wins over every other flag; no flag is none', async () => {
    expect((await override('fastly_http_req#cache_override_set', 0b1111, 60, 5)).slice(0, 2)).toEqual([3, 1]);
    expect((await override('fastly_http_req#cache_override_set', 0, 60, 5)).slice(0, 2)).toEqual([3, 0]);
  });

  it('ttl and pci flags: override(ttl some, swr none, pci, no surrogate key)', async () => {
    // self, case override, ttl, swr (none: its payload slot is not read), pci, surrogate-key, extra
    expect(await override('fastly_http_req#cache_override_set', 0b1010, 60, 5)).toEqual([3, 2, 1, 60, 0, 5, 1, 0, 0, 0, 0, 0]);
  });

  it('v2: swr and the surrogate key', async () => {
    const g = await Guest.create();
    g.live('http-req/request', 3).returns('http-req/request.set-cache-override', () => ({ ok: undefined }));
    const [sk, len] = g.bytes('key-a key-b');
    expect(g.call('fastly_http_req#cache_override_v2_set', 3, 0b0100, 60, 5, sk, len)).toBe(0);
    expect(g.calls[0].args).toEqual([3, 2, 0, 60, 1, 5, 0, 1, sk, len, 0, 0]);
  });

  it('v2: a surrogate key alone (no flag) is an override carrying it, as in Viceroy; no flag and no key is none', async () => {
    const g = (await Guest.create()).live('http-req/request', 3);
    g.returns('http-req/request.set-cache-override', () => ({ ok: undefined }));
    const [sk, len] = g.bytes('key-a');
    expect(g.call('fastly_http_req#cache_override_v2_set', 3, 0, 60, 5, sk, len)).toBe(0);
    expect(g.call('fastly_http_req#cache_override_v2_set', 3, 0, 60, 5, sk, 0)).toBe(0);
    // case override: ttl none, swr none, no pci, surrogate-key some; then case none
    expect(g.calls[0].args).toEqual([3, 2, 0, 60, 0, 5, 0, 1, sk, len, 0, 0]);
    expect(g.calls[1].args.slice(0, 2)).toEqual([3, 0]);
  });
});

describe('downstream info', () => {
  it('ja3_md5: 16 raw bytes into a bare pointer; none when absent', async () => {
    const g = await Guest.create();
    const digest = new Uint8Array(16).map((_, i) => i * 3);
    let next: unknown = { ok: digest };
    g.live('http-req/request', 4).downstream(20, 21).returns('http-downstream/downstream-tls-ja3-md5', () => next);
    const out = g.alloc(16, 1);
    const [nw] = outs(g, 1);
    expect(g.call('fastly_http_downstream#downstream_tls_ja3_md5', 4, out, nw)).toBe(0);
    expect([...g.read(out, 16)]).toEqual([...digest]);
    expect(g.u32(nw)).toBe(16);
    next = { ok: null };
    expect(g.call('fastly_http_req#downstream_tls_ja3_md5', out, nw)).toBe(10);
    // the implicit form asks about the downstream request
    expect(g.calls.map((c) => c.args.map((a) => Number(a) >>> 0))).toEqual([[4], [20]]);
  });

  it('bot_category_kind: case index; an extra category gives its raw code and is dropped', async () => {
    const g = await Guest.create();
    const answers: unknown[] = [{ ok: { tag: 'ai-crawler' } }, { ok: { tag: 'extra', val: 55 } }, { ok: null }];
    g.live('http-req/request', 4).returns('http-downstream/downstream-bot-category-kind', () => answers.shift())
      .returns('http-downstream/extra-bot-category.as-raw', () => 99)
      .on('http-downstream/[resource-drop]extra-bot-category', () => undefined);
    const [out] = outs(g, 1);
    expect(g.call('fastly_http_downstream#downstream_bot_category_kind', 4, out)).toBe(0);
    expect(g.u32(out)).toBe(3);
    expect(g.call('fastly_http_downstream#downstream_bot_category_kind', 4, out)).toBe(0);
    expect(g.u32(out)).toBe(99);
    expect(g.call('fastly_http_downstream#downstream_bot_category_kind', 4, out)).toBe(10);
    expect(g.calls.slice(2, 4)).toEqual([
      { ref: 'http-downstream/extra-bot-category.as-raw', args: [55] },
      { ref: 'http-downstream/[resource-drop]extra-bot-category', args: [55] },
    ]);
  });

  it('redirect_to_websocket_proxy (implicit form) hands off the downstream request', async () => {
    const g = await Guest.create();
    g.downstream(20, 21)
      .returns('backend/backend.open', () => ({ ok: 9 }))
      .on('backend/[resource-drop]backend', () => undefined)
      .returns('http-req/request.redirect-to-websocket-proxy', () => ({ ok: undefined }));
    const [name, len] = g.bytes('ws');
    expect(g.call('fastly_http_req#redirect_to_websocket_proxy', name, len)).toBe(0);
    expect(g.calls[1].ref).toBe('http-req/request.redirect-to-websocket-proxy');
    expect(g.calls[1].args.map((a) => Number(a) >>> 0)).toEqual([20, 9]);
  });
});

describe('inspect', () => {
  it('options from the mask, the override IP as a v4 address, the verdict into the buffer', async () => {
    const g = await Guest.create();
    let params: Record<string, unknown> = {};
    g.live('http-req/request', 1).live('async-io/pollable', 2).on('security/inspect', (...args) => {
      params = g.indirectParams('security/inspect', args);
      g.store(g.resultOf('security/inspect'), Number(args[1]), { ok: '{"waf":"allow"}' });
    });
    const info = witxOffsets('inspect_info');
    const struct = g.alloc(24, 4);
    const [corp, corpLen] = g.bytes('corp1');
    const [ip, ipLen] = g.bytes(new Uint8Array([203, 0, 113, 9]));
    g.dv.setUint32(struct + info.corp, corp, true);
    g.dv.setUint32(struct + info.corp_len, corpLen, true);
    g.dv.setUint32(struct + info.override_client_ip_ptr, ip, true);
    g.dv.setUint32(struct + info.override_client_ip_len, ipLen, true);
    const buf = g.alloc(64, 1);
    const [nw] = outs(g, 1);
    expect(g.call('fastly_http_req#inspect', 1, 2, 0b1010, struct, buf, 64, nw)).toBe(0);
    expect(g.text(buf, g.u32(nw))).toBe('{"waf":"allow"}');
    expect(params).toEqual({
      request: 1,
      body: 2,
      options: { corp: 'corp1', workspace: null, 'override-client-ip': { tag: 'ipv4', val: [203, 0, 113, 9] }, extra: null },
      'max-len': 64n,
    });
  });

  it('an override IP of a bad length is inval', async () => {
    const g = (await Guest.create()).live('http-req/request', 1).live('async-io/pollable', 2);
    const info = witxOffsets('inspect_info');
    const struct = g.alloc(24, 4);
    g.dv.setUint32(struct + info.override_client_ip_len, 5, true);
    const [nw] = outs(g, 1);
    expect(g.call('fastly_http_req#inspect', 1, 2, 0b1000, struct, g.alloc(8), 8, nw)).toBe(2);
    expect(g.calls).toEqual([]);
  });
});

describe('next_request', () => {
  it('the timeout flag sets timeout-ms from the struct; without it the WIT option is none', async () => {
    const g = await Guest.create();
    g.returns('http-downstream/next-request', () => ({ ok: 41 }));
    const struct = g.alloc(8, 8);
    g.dv.setBigUint64(struct, 2500n, true);
    const [out] = outs(g, 1);
    // Mask bit 1 is `timeout` (bit 0 is reserved).
    expect(g.call('fastly_http_downstream#next_request', 0b10, struct, out)).toBe(0);
    expect(g.u32(out)).toBe(41);
    expect(g.call('fastly_http_downstream#next_request', 0, struct, out)).toBe(0);
    // Flat args: option discriminant, u64 payload, then `extra` (none), then the return pointer.
    expect(g.calls.map((c) => c.args.slice(0, 2).map(String))).toEqual([
      ['1', '2500'],
      ['0', '0'],
    ]);
  });
});
