import { describe, expect, it } from 'vitest';
import { Guest, HTTP_CACHE_TAG, INVALID, outs, witxOffsets } from './adapter-harness.js';

/** Resources built by setters (dynamic and shield backends), image optimizer, suggested cache options. */
const DBO = 'backend/dynamic-backend-options';
const HC = 'backend/healthcheck-options';

async function registrar(): Promise<Guest> {
  const g = await Guest.create();
  const unit = () => undefined;
  g.returns(`${DBO}.new`, () => 100).returns('backend/register-dynamic-backend', () => ({ ok: 300 }))
    .on('backend/[resource-drop]backend', unit)
    .on('backend/[resource-drop]dynamic-backend-options', unit)
    .on('backend/[resource-drop]healthcheck-options', unit)
    .returns(`${HC}.new`, () => ({ ok: 200 }));
  for (const m of ['override-host', 'use-tls', 'tls-min-version', 'healthcheck', 'pooling']) g.on(`${DBO}.${m}`, unit);
  for (const m of ['method', 'path', 'expected-status', 'window', 'threshold', 'initial', 'interval-ms', 'timeout-ms']) g.returns(`${HC}.${m}`, () => ({ ok: undefined }));
  return g;
}

describe('register_dynamic_backend', () => {
  const cfg = witxOffsets('dynamic_backend_config');
  const hcf = witxOffsets('healthcheck_config');

  function register(g: Guest, mask: number, fill: (struct: number) => void): number {
    const struct = g.alloc(128, 8);
    new Uint8Array(g.memory.buffer, struct, 128).fill(0);
    fill(struct);
    const [prefix, prefixLen] = g.bytes('dyn');
    const [target, targetLen] = g.bytes('example.com:443');
    return g.call('fastly_http_req#register_dynamic_backend', prefix, prefixLen, target, targetLen, mask, struct);
  }

  it('one setter per mask flag, the options passed as own, the new backend dropped', async () => {
    const g = await registrar();
    const [host, hostLen] = g.bytes('origin.example');
    const [path, pathLen] = g.bytes('/health');
    const status = register(g, (1 << 1) | (1 << 5) | (1 << 6) | (1 << 12) | (1 << 18), (s) => {
      g.dv.setUint32(s + cfg.host_override, host, true);
      g.dv.setUint32(s + cfg.host_override_len, hostLen, true);
      g.dv.setUint32(s + cfg.ssl_min_version, 2, true);
      const hc = g.alloc(64, 8);
      new Uint8Array(g.memory.buffer, hc, 64).fill(0);
      g.dv.setUint32(hc + hcf.host, host, true);
      g.dv.setUint32(hc + hcf.host_len, hostLen, true);
      g.dv.setUint32(hc + hcf.path, path, true);
      g.dv.setUint32(hc + hcf.path_len, pathLen, true);
      g.dv.setUint32(hc + hcf.expected_status, 204, true);
      g.dv.setBigUint64(hc + hcf.interval_ms, 5000n, true);
      g.dv.setUint32(s + cfg.healthcheck, hc, true);
    });
    expect(status).toBe(0);
    const calls = g.calls.map((c) => [c.ref.replace(/^backend\//, ''), c.args]);
    expect(calls).toEqual([
      ['dynamic-backend-options.new', []],
      ['dynamic-backend-options.override-host', [100, host, hostLen]],
      ['dynamic-backend-options.use-tls', [100, 1]],
      ['dynamic-backend-options.tls-min-version', [100, 0x0303]],
      ['dynamic-backend-options.pooling', [100, 0]],
      ['healthcheck-options.new', [host, hostLen]],
      ['healthcheck-options.method', [200, 0, 0]],
      ['healthcheck-options.path', [200, path, pathLen]],
      ['healthcheck-options.expected-status', [200, 204]],
      ['healthcheck-options.window', [200, 0]],
      ['healthcheck-options.threshold', [200, 0]],
      ['healthcheck-options.initial', [200, 0]],
      ['healthcheck-options.interval-ms', [200, 5000n]],
      ['healthcheck-options.timeout-ms', [200, 0n]],
      ['dynamic-backend-options.healthcheck', [100, 200]],
      ['register-dynamic-backend', [...g.calls[15].args.slice(0, 4), 100]],
      ['[resource-drop]backend', [300]],
    ]);
  });

  it('a bad TLS version is inval, and the options made so far are dropped', async () => {
    const g = await registrar();
    expect(register(g, 1 << 6, (s) => g.dv.setUint32(s + cfg.ssl_min_version, 9, true))).toBe(2);
    expect(g.refs()).toEqual([`${DBO}.new`, 'backend/[resource-drop]dynamic-backend-options']);
  });

  it('a failing healthcheck setter returns its status and drops both resources', async () => {
    const g = await registrar();
    g.returns(`${HC}.method`, () => ({ err: { tag: 'invalid-argument' } }));
    expect(register(g, 1 << 18, (s) => g.dv.setUint32(s + cfg.healthcheck, g.alloc(64, 8), true))).toBe(2);
    expect(g.refs().slice(-2).sort()).toEqual(['backend/[resource-drop]dynamic-backend-options', 'backend/[resource-drop]healthcheck-options']);
    expect(g.refs()).not.toContain('backend/register-dynamic-backend');
  });
});

describe('shielding', () => {
  it('shield_info writes the info block', async () => {
    const g = await Guest.create();
    g.returns('shielding/shield-info', () => ({ ok: '{"pop":"LHR"}' }));
    const [name, len] = g.bytes('lhr');
    const buf = g.alloc(64, 1);
    const [nw] = outs(g, 1);
    expect(g.call('fastly_shielding#shield_info', name, len, buf, 64, nw)).toBe(0);
    expect(g.text(buf, g.u32(nw))).toBe('{"pop":"LHR"}');
  });

  it('backend_for_shield: options by setters (borrowed, dropped after), the backend named into the buffer', async () => {
    const g = await Guest.create();
    const unit = () => undefined;
    g.returns('shielding/shield-backend-options.new', () => 10)
      .on('shielding/shield-backend-options.set-cache-key', unit)
      .returns('shielding/backend-for-shield', () => ({ ok: 20 }))
      .returns('backend/backend.get-name', () => 'shield_lhr')
      .on('shielding/[resource-drop]backend', unit)
      .on('shielding/[resource-drop]shield-backend-options', unit);
    const cfg = witxOffsets('shield_backend_config');
    const struct = g.alloc(16, 4);
    const [key, keyLen] = g.bytes('ck');
    g.dv.setUint32(struct + cfg.cache_key, key, true);
    g.dv.setUint32(struct + cfg.cache_key_len, keyLen, true);
    const [name, len] = g.bytes('lhr');
    const buf = g.alloc(64, 1);
    const [nw] = outs(g, 1);
    expect(g.call('fastly_shielding#backend_for_shield', name, len, 0b10, struct, buf, 64, nw)).toBe(0);
    expect(g.text(buf, g.u32(nw))).toBe('shield_lhr');
    expect(g.calls.map((c) => [c.ref, c.args])).toEqual([
      ['shielding/shield-backend-options.new', []],
      ['shielding/shield-backend-options.set-cache-key', [10, key, keyLen]],
      ['shielding/backend-for-shield', [name, len, 1, 10]],
      ['backend/backend.get-name', [20]],
      ['shielding/[resource-drop]backend', [20]],
      ['shielding/[resource-drop]shield-backend-options', [10]],
    ]);
  });
});

describe('image optimizer', () => {
  it('borrowed request, no body for an invalid handle, options from the mask, tag ok', async () => {
    const g = await Guest.create();
    let params: Record<string, unknown> = {};
    g.live('http-req/request', 3)
      .returns('backend/backend.open', () => ({ ok: 9 }))
      .on('backend/[resource-drop]backend', () => undefined)
      .on('image-optimizer/transform-image-optimizer-request', (...args) => {
        params = { args: args.slice(0, 4) };
        g.store(g.resultOf('image-optimizer/transform-image-optimizer-request'), Number(args.at(-1)), { ok: [31, 32] });
      });
    const cfg = witxOffsets('image_optimizer_transform_config');
    const struct = g.alloc(8, 4);
    const [claims, claimsLen] = g.bytes('{"w":100}');
    g.dv.setUint32(struct + cfg.sdk_claims_opts, claims, true);
    g.dv.setUint32(struct + cfg.sdk_claims_opts_len, claimsLen, true);
    const detail = g.alloc(12, 4);
    const [name, len] = g.bytes('images');
    const [resp, body] = outs(g, 2);
    expect(g.call('fastly_image_optimizer#transform_image_optimizer_request', 3, INVALID, name, len, 0b10, struct, detail, resp, body)).toBe(0);
    expect([g.u32(resp), g.u32(body), g.u32(detail)]).toEqual([31, 32, 1]);
    // request 3, body none (its payload slot unread), backend 9
    expect(params.args).toEqual([3, 0, expect.anything(), 9]);
  });
});

describe('get_suggested_cache_options', () => {
  const opts = witxOffsets('http_cache_write_options');
  const IFACE = 'http-cache/suggested-write-options';

  it('fills what the mask asks for and reports it in the out mask', async () => {
    const g = await Guest.create();
    g.live('http-cache/entry', 8).live('http-resp/response', 2)
      .returns('http-cache/entry.get-suggested-write-options', () => ({ ok: 44 }))
      .returns(`${IFACE}.get-max-age-ns`, () => 1000n)
      .returns(`${IFACE}.get-vary-rule`, () => ({ ok: 'accept' }))
      .returns(`${IFACE}.get-initial-age-ns`, () => 5n)
      .returns(`${IFACE}.get-length`, () => null)
      .returns(`${IFACE}.get-sensitive-data`, () => true)
      .on('http-cache/[resource-drop]suggested-write-options', () => undefined);
    const request = g.alloc(72, 8);
    const varyBuf = g.alloc(16, 1);
    g.dv.setUint32(request + opts.vary_rule_ptr, varyBuf, true);
    g.dv.setUint32(request + opts.vary_rule_len, 16, true);
    const out = g.alloc(72, 8);
    const [maskOut] = outs(g, 1);
    // vary_rule | initial_age_ns | length | sensitive_data
    const mask = (1 << 1) | (1 << 2) | (1 << 5) | (1 << 6);
    expect(g.call('fastly_http_cache#get_suggested_cache_options', (HTTP_CACHE_TAG | 8) >>> 0, 2, mask, request, maskOut, out)).toBe(0);
    expect(g.u32(maskOut)).toBe((1 << 1) | (1 << 2) | (1 << 6));
    expect(g.u64(out + opts.max_age_ns)).toBe(1000n);
    expect(g.u64(out + opts.initial_age_ns)).toBe(5n);
    expect(g.text(varyBuf, g.u32(out + opts.vary_rule_len))).toBe('accept');
    expect(g.calls[0].args).toEqual([8, 2]);
    expect(g.refs().at(-1)).toBe('http-cache/[resource-drop]suggested-write-options');
  });

  it('a vary rule too long is buflen with its length, after the other fields', async () => {
    const g = await Guest.create();
    g.live('http-cache/entry', 8).live('http-resp/response', 2)
      .returns('http-cache/entry.get-suggested-write-options', () => ({ ok: 44 }))
      .returns(`${IFACE}.get-max-age-ns`, () => 1n)
      .returns(`${IFACE}.get-vary-rule`, () => ({ err: { tag: 'buffer-len', val: 99n } }))
      .returns(`${IFACE}.get-stale-if-error-ns`, () => 3n)
      .on('http-cache/[resource-drop]suggested-write-options', () => undefined);
    const request = g.alloc(72, 8);
    g.dv.setUint32(request + opts.vary_rule_len, 2, true);
    const out = g.alloc(72, 8);
    const [maskOut] = outs(g, 1);
    expect(g.call('fastly_http_cache#get_suggested_cache_options', (HTTP_CACHE_TAG | 8) >>> 0, 2, (1 << 1) | (1 << 7), request, maskOut, out)).toBe(4);
    expect(g.u32(out + opts.vary_rule_len)).toBe(99);
    expect(g.u64(out + opts.stale_if_error_ns)).toBe(3n);
  });

  it('a handle of another kind, or not live, is badf with no host call', async () => {
    const g = (await Guest.create()).live('http-cache/entry', 8).live('http-resp/response', 2);
    const [maskOut] = outs(g, 1);
    expect(g.call('fastly_http_cache#get_suggested_cache_options', 8, 2, 0, g.alloc(72), maskOut, g.alloc(72))).toBe(3);
    expect(g.call('fastly_http_cache#get_suggested_cache_options', (HTTP_CACHE_TAG | 9) >>> 0, 2, 0, g.alloc(72), maskOut, g.alloc(72))).toBe(3);
    expect(g.call('fastly_http_cache#get_suggested_cache_options', (HTTP_CACHE_TAG | 8) >>> 0, 3, 0, g.alloc(72), maskOut, g.alloc(72))).toBe(3);
    expect(g.calls).toEqual([]);
  });
});
