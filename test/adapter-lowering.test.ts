import { describe, expect, it } from 'vitest';
import { CACHE_TAG, Guest, outs } from './adapter-harness.js';

/**
 * ABI lowering of the adapter's existing mapping forms, called as a guest would: positional
 * binding, explicit args (a backend opened per call), branches, options records from masks,
 * constant outputs, IP addresses, cursors, buflen with the needed size, `none`, tags.
 */
describe('adapter ABI lowering: mapping forms', () => {

  it('declares only WIT core imports besides env.memory and _start', async () => {
    const keys = await Guest.importKeys();
    expect(keys).toContain('env#memory');
    expect(keys).toContain('__main_module__#_start');
    const other = keys.filter((k) => !k.startsWith('fastly:') && !k.startsWith('env#') && !k.startsWith('__main_module__#'));
    expect(other).toEqual([]);
  });

  it('positional: a string output lands in the guest buffer with nwritten', async () => {
    const guest = await Guest.create();
    guest.live('http-req/request', 7).returns('http-req/request.get-uri', () => ({ ok: 'https://example.com/' }));
    const buf = guest.alloc(64, 1);
    const [nw] = outs(guest, 1);
    expect(guest.call('fastly_http_req#uri_get', 7, buf, 64, nw)).toBe(0);
    expect(guest.u32(nw)).toBe(20);
    expect(guest.text(buf, 20)).toBe('https://example.com/');
    // handle 7 passed through untouched, capacity widened to the u64 max-len
    expect(guest.calls).toEqual([{ ref: 'http-req/request.get-uri', args: [7, 64n] }]);
  });

  it('buffer-len(n) from the host is buflen with the needed size in nwritten', async () => {
    const guest = await Guest.create();
    guest.live('http-req/request', 7).returns('http-req/request.get-uri', () => ({ err: { tag: 'buffer-len', val: 300n } }));
    const buf = guest.alloc(16, 1);
    const [nw] = outs(guest, 1);
    expect(guest.call('fastly_http_req#uri_get', 7, buf, 16, nw)).toBe(4);
    expect(guest.u32(nw)).toBe(300);
  });

  it('a result larger than the buffer is buflen with its length', async () => {
    const guest = await Guest.create();
    guest.live('http-req/request', 7).returns('http-req/request.get-uri', () => ({ ok: 'x'.repeat(40) }));
    const buf = guest.alloc(16, 1);
    const [nw] = outs(guest, 1);
    expect(guest.call('fastly_http_req#uri_get', 7, buf, 16, nw)).toBe(4);
    expect(guest.u32(nw)).toBe(40);
  });

  it('cursor outputs: the next cursor, then -1 when the listing is done', async () => {
    const guest = await Guest.create();
    let page = 0;
    guest.live('http-req/request', 3).returns('http-req/request.get-header-names', () => (page++ === 0 ? { ok: ['a\0b\0', 2] } : { ok: ['c\0', null] }));
    const buf = guest.alloc(32, 1);
    const [cursor, nw] = outs(guest, 2);
    expect(guest.call('fastly_http_req#header_names_get', 3, buf, 32, 0, cursor, nw)).toBe(0);
    expect([guest.u32(cursor), guest.u32(nw), guest.text(buf, 4)]).toEqual([2, 4, 'a\0b\0']);
    expect(guest.call('fastly_http_req#header_names_get', 3, buf, 32, 2, cursor, nw)).toBe(0);
    expect([guest.dv.getInt32(cursor, true), guest.u32(nw)]).toEqual([-1, 2]);
    expect(guest.calls.map((c) => c.args)).toEqual([
      [3, 32n, 0],
      [3, 32n, 2],
    ]);
  });

  it('an empty option answers none', async () => {
    const guest = await Guest.create();
    guest.live('dictionary/dictionary', 5).returns('dictionary/dictionary.lookup', () => ({ ok: null }));
    const [k, klen] = guest.bytes('missing');
    const buf = guest.alloc(16, 1);
    const [nw] = outs(guest, 1);
    expect(guest.call('fastly_dictionary#get', 5, k, klen, buf, 16, nw)).toBe(10);
    expect(guest.calls[0].args).toEqual([5, k, klen, 16n]);
  });

  it('explicit args: a backend name is opened for the call and dropped after', async () => {
    const guest = await Guest.create();
    guest
      .live('http-req/request', 1)
      .live('async-io/pollable', 2)
      .returns('backend/backend.open', () => ({ ok: 77 }))
      .returns('http-req/send', () => ({ ok: [11, 12] }))
      .on('backend/[resource-drop]backend', () => undefined);
    const [name, len] = guest.bytes('origin');
    const [resp, body] = outs(guest, 2);
    expect(guest.call('fastly_http_req#send', 1, 2, name, len, resp, body)).toBe(0);
    expect([guest.u32(resp), guest.u32(body)]).toEqual([11, 12]);
    expect(guest.calls).toEqual([
      { ref: 'backend/backend.open', args: [name, len] },
      { ref: 'http-req/send', args: [1, 2, 77] },
      { ref: 'backend/[resource-drop]backend', args: [77] },
    ]);
  });

  it('explicit args: an unknown backend is inval and nothing is sent', async () => {
    const guest = await Guest.create();
    guest.live('http-req/request', 1).live('async-io/pollable', 2).returns('backend/backend.open', () => ({ err: 'not-found' }));
    const [name, len] = guest.bytes('nope');
    const [resp, body] = outs(guest, 2);
    expect(guest.call('fastly_http_req#send', 1, 2, name, len, resp, body)).toBe(2);
    expect(guest.refs()).toEqual(['backend/backend.open']);
  });

  it('branch: body write back appends, front prepends and reports the whole length', async () => {
    const guest = await Guest.create();
    guest.live('async-io/pollable', 4).returns('http-body/write', () => ({ ok: 3 })).returns('http-body/write-front', () => ({ ok: undefined }));
    const [p, len] = guest.bytes('hello');
    const [nw] = outs(guest, 1);
    expect(guest.call('fastly_http_body#write', 4, p, len, 0, nw)).toBe(0);
    expect(guest.u32(nw)).toBe(3);
    expect(guest.call('fastly_http_body#write', 4, p, len, 1, nw)).toBe(0);
    expect(guest.u32(nw)).toBe(5);
    expect(guest.call('fastly_http_body#write', 4, p, len, 2, nw)).toBe(2);
    expect(guest.refs()).toEqual(['http-body/write', 'http-body/write-front']);
  });

  it('constant outputs: log write reports the message length', async () => {
    const guest = await Guest.create();
    guest.live('log/endpoint', 9).on('log/endpoint.write', () => undefined);
    const [p, len] = guest.bytes('a log line');
    const [nw] = outs(guest, 1);
    expect(guest.call('fastly_log#write', 9, p, len, nw)).toBe(0);
    expect(guest.u32(nw)).toBe(10);
    expect(guest.calls[0].args).toEqual([9, p, len]);
  });

  it('options: a mask + struct becomes the WIT record, field by field', async () => {
    const guest = await Guest.create();
    let seen: unknown[] = [];
    guest.live('http-req/request', 42).returns('cache/entry.lookup', (args) => {
      seen = args;
      return { ok: 5 };
    });
    const [key, klen] = guest.bytes('k');
    const options = guest.alloc(12, 4);
    guest.dv.setUint32(options, 42, true); // request_headers
    const [out] = outs(guest, 1);
    // request_headers | always_use_requested_range
    expect(guest.call('fastly_cache#lookup', key, klen, 0b1010, options, out)).toBe(0);
    // key ptr/len, request-headers some(42), always-use-requested-range true, extra none
    expect(seen).toEqual([key, klen, 1, 42, 1, 0, 0]);
    expect(guest.u32(out)).toBe((CACHE_TAG | 5) >>> 0);
  });

  it('options: a mask flag the WIT cannot express is unsupported, with no host call', async () => {
    const guest = await Guest.create();
    const [key, klen] = guest.bytes('k');
    const options = guest.alloc(12, 4);
    const [out] = outs(guest, 1);
    expect(guest.call('fastly_cache#lookup', key, klen, 0b0100, options, out)).toBe(5); // service_id
    expect(guest.calls).toEqual([]);
  });

  it('tagged handles: stripped going in, wrong kinds are badf without a host call', async () => {
    const guest = await Guest.create();
    guest.live('cache/entry', 5).live('http-req/request', 5).returns('cache/entry.get-state', () => ({ ok: 0b101 }));
    const [out] = outs(guest, 1);
    expect(guest.call('fastly_cache#get_state', (CACHE_TAG | 5) >>> 0, out)).toBe(0);
    expect(guest.u32(out)).toBe(0b101);
    expect(guest.calls[0].args).toEqual([5]);
    expect(guest.call('fastly_cache#get_state', 5, out)).toBe(3);
    expect(guest.call('fastly_http_req#uri_get', (CACHE_TAG | 5) >>> 0, guest.alloc(4), 4, out)).toBe(3);
    expect(guest.calls).toHaveLength(1);
  });

  it('IP outputs: v4 and v6 octets in network order with their count', async () => {
    const guest = await Guest.create();
    const addrs = [
      { tag: 'ipv4', val: [192, 0, 2, 1] },
      { tag: 'ipv6', val: [0x2001, 0xdb8, 0, 0, 0, 0, 0, 1] },
    ];
    guest.live('http-req/request', 8).returns('http-downstream/downstream-client-ip-addr', () => addrs.shift());
    const octets = guest.alloc(16, 1);
    const [nw] = outs(guest, 1);
    expect(guest.call('fastly_http_downstream#downstream_client_ip_addr', 8, octets, nw)).toBe(0);
    expect([...guest.read(octets, guest.u32(nw))]).toEqual([192, 0, 2, 1]);
    expect(guest.call('fastly_http_downstream#downstream_client_ip_addr', 8, octets, nw)).toBe(0);
    expect([...guest.read(octets, guest.u32(nw))]).toEqual([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
  });

  it('custom: body_downstream_get hands out the recorded downstream request and body', async () => {
    const guest = await Guest.create();
    const [req, body] = outs(guest, 2);
    expect(guest.call('fastly_http_req#body_downstream_get', req, body)).toBe(0);
    // No http-incoming call happened here, so both are the adapter's "none yet" marker.
    expect([guest.u32(req), guest.u32(body)]).toEqual([0xffff_ffff, 0xffff_ffff]);
  });
});
