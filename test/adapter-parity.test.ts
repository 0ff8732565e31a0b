import { describe, expect, it } from 'vitest';
import { Guest, outs } from './adapter-harness.js';

/*
 * Hostcalls whose legacy answer differs from the component interface's (README, *Legacy
 * answers the adapter keeps*): the adapter answers as the legacy ABI did.
 */
const S = { ok: 0, error: 1, inval: 2, badf: 3, buflen: 4, none: 10 };

describe('legacy answers where the two ABIs differ', () => {
  it('geo lookup: an address without data is an empty success; data lands in the output buffer, not the address', async () => {
    const g = await Guest.create();
    const answers: unknown[] = [{ ok: '{"as_name":"x"}' }, { err: { tag: 'generic-error' } }, { ok: '{"as_name":"v6"}' }, { err: { tag: 'invalid-argument' } }];
    const addresses: unknown[] = [];
    g.returns('geo/lookup', (args) => {
      addresses.push([...args]);
      return answers.shift();
    });
    const [v4, v4len] = g.bytes(new Uint8Array([127, 0, 0, 1]));
    const [v6, v6len] = g.bytes(new Uint8Array([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]));
    const buf = g.alloc(256);
    const [nw] = outs(g, 1);
    // the 4- or 16-byte address is the guest's input, never where the result is written
    expect(g.call('fastly_geo#lookup', v4, v4len, buf, 256, nw)).toBe(S.ok);
    expect(g.text(buf, g.u32(nw))).toBe('{"as_name":"x"}');
    g.dv.setUint32(nw, 77, true);
    expect(g.call('fastly_geo#lookup', v4, v4len, buf, 256, nw)).toBe(S.ok);
    expect(g.u32(nw)).toBe(0);
    expect(g.call('fastly_geo#lookup', v6, v6len, buf, 256, nw)).toBe(S.ok);
    expect(g.text(buf, g.u32(nw))).toBe('{"as_name":"v6"}');
    expect(g.call('fastly_geo#lookup', v4, v4len, buf, 256, nw)).toBe(S.inval);
    expect(addresses[0]).toEqual([0, 127, 0, 0, 1, 0, 0, 0, 0, 256n]);
    expect(addresses[2]).toEqual([1, 0x2001, 0x0db8, 0, 0, 0, 0, 0, 1, 256n]);
    expect(g.call('fastly_geo#lookup', v4, 5, buf, 256, nw)).toBe(S.inval);
    expect(g.calls).toHaveLength(4);
  });

  it.each([
    ['fastly_http_req', 'downstream_client_h2_fingerprint', 'http-downstream/downstream-client-h2-fingerprint'],
    ['fastly_http_req', 'downstream_client_oh_fingerprint', 'http-downstream/downstream-client-oh-fingerprint'],
    ['fastly_http_downstream', 'downstream_client_h2_fingerprint', 'http-downstream/downstream-client-h2-fingerprint'],
    ['fastly_http_downstream', 'downstream_client_oh_fingerprint', 'http-downstream/downstream-client-oh-fingerprint'],
  ])('%s#%s: no fingerprint is `none`, other errors keep their status', async (module, name, ref) => {
    // The implicit form takes the downstream request; the explicit one, request handle 4.
    const g = (await Guest.create()).downstream(4, 5);
    const answers: unknown[] = [{ err: { tag: 'generic-error' } }, { ok: 'fp' }, { err: { tag: 'invalid-argument' } }];
    g.returns(ref, () => answers.shift());
    const buf = g.alloc(64);
    const [nw] = outs(g, 1);
    const call = () => (module === 'fastly_http_req' ? g.call(`${module}#${name}`, buf, 64, nw) : g.call(`${module}#${name}`, 4, buf, 64, nw));
    expect(call()).toBe(S.none);
    expect(call()).toBe(S.ok);
    expect(g.text(buf, g.u32(nw))).toBe('fp');
    expect(call()).toBe(S.inval);
  });

  it.each(['fastly_http_req', 'fastly_http_resp'])('%s#header_value_get: an absent header is `inval`; a present one is written', async (module) => {
    const g = await Guest.create();
    const resource = module === 'fastly_http_req' ? 'http-req/request' : 'http-resp/response';
    g.live(resource, 4);
    const answers: unknown[] = [{ ok: null }, { ok: new TextEncoder().encode('v1') }, { err: { tag: 'buffer-len', val: 9n } }];
    g.returns(`${resource}.get-header-value`, () => answers.shift());
    const [name, len] = g.bytes('x-h');
    const buf = g.alloc(64);
    const [nw] = outs(g, 1);
    expect(g.call(`${module}#header_value_get`, 4, name, len, buf, 64, nw)).toBe(S.inval);
    expect(g.call(`${module}#header_value_get`, 4, name, len, buf, 64, nw)).toBe(S.ok);
    expect(g.text(buf, g.u32(nw))).toBe('v1');
    expect(g.call(`${module}#header_value_get`, 4, name, len, buf, 64, nw)).toBe(S.buflen);
    expect(g.u32(nw)).toBe(9);
  });

  it('trailer_value_get: an absent trailer is `inval`; trailers not yet read stay `again`', async () => {
    const g = (await Guest.create()).live('async-io/pollable', 4);
    const answers: unknown[] = [{ ok: null }, { err: { tag: 'not-available-yet' } }, { ok: new TextEncoder().encode('t') }];
    g.returns('http-body/get-trailer-value', () => answers.shift());
    const [name, len] = g.bytes('x-t');
    const buf = g.alloc(64);
    const [nw] = outs(g, 1);
    expect(g.call('fastly_http_body#trailer_value_get', 4, name, len, buf, 64, nw)).toBe(S.inval);
    expect(g.call('fastly_http_body#trailer_value_get', 4, name, len, buf, 64, nw)).toBe(14);
    expect(g.call('fastly_http_body#trailer_value_get', 4, name, len, buf, 64, nw)).toBe(S.ok);
    expect(g.text(buf, g.u32(nw))).toBe('t');
  });

  it.each([
    ['fastly_dictionary', 'dictionary/dictionary.open'],
    ['fastly_config_store', 'config-store/store.open'],
  ])('%s#open: an unknown name is `badf`; other open errors keep their status', async (module, ref) => {
    const g = await Guest.create();
    const answers: unknown[] = [{ err: 'not-found' }, { ok: 6 }, { err: 'invalid-syntax' }];
    g.returns(ref, () => answers.shift());
    const [name, len] = g.bytes('missing');
    const [out] = outs(g, 1);
    expect(g.call(`${module}#open`, name, len, out)).toBe(S.badf);
    expect(g.call(`${module}#open`, name, len, out)).toBe(S.ok);
    expect(g.u32(out)).toBe(6);
    expect(g.call(`${module}#open`, name, len, out)).toBe(S.inval);
  });

  it.each(['fastly_kv_store', 'fastly_object_store'])('%s#open: an unknown store is `inval`', async (module) => {
    const g = await Guest.create();
    const answers: unknown[] = [{ err: 'not-found' }, { ok: 8 }, { err: 'name-too-long' }];
    g.returns('kv-store/store.open', () => answers.shift());
    const [name, len] = g.bytes('missing');
    const [out] = outs(g, 1);
    expect(g.call(`${module}#open`, name, len, out)).toBe(S.inval);
    expect(g.call(`${module}#open`, name, len, out)).toBe(S.ok);
    expect(g.u32(out)).toBe(8);
    expect(g.call(`${module}#open`, name, len, out)).toBe(S.inval);
  });

  it('upgrade_websocket: not available is `unsupported`; an unknown backend `inval`', async () => {
    const g = await Guest.create();
    const opened: unknown[] = [{ ok: 9 }, { err: 'not-found' }];
    g.returns('backend/backend.open', () => opened.shift())
      .on('backend/[resource-drop]backend', () => undefined)
      .returns('http-req/upgrade-websocket', () => ({ err: { tag: 'generic-error' } }));
    const [name, len] = g.bytes('origin');
    expect(g.call('fastly_http_req#upgrade_websocket', name, len)).toBe(5);
    expect(g.call('fastly_http_req#upgrade_websocket', name, len)).toBe(S.inval);
  });

  it('bot category kind: a category the host cannot name is `none`', async () => {
    const g = (await Guest.create()).live('http-req/request', 4);
    const answers: unknown[] = [{ err: { tag: 'generic-error' } }, { ok: { tag: 'search-engine-crawler' } }];
    g.returns('http-downstream/downstream-bot-category-kind', () => answers.shift());
    const [out] = outs(g, 1);
    expect(g.call('fastly_http_downstream#downstream_bot_category_kind', 4, out)).toBe(S.none);
    expect(g.call('fastly_http_downstream#downstream_bot_category_kind', 4, out)).toBe(S.ok);
    expect(g.u32(out)).toBe(11);
  });
});
