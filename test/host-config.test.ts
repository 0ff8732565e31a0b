import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LOOPBACK_GEO } from '../src/host/config.js';
import { ConfigError, loadFastlyToml, parseFastlyToml } from '../src/server/config.js';

/** Writes `files` into a fresh directory and parses its fastly.toml, collecting warnings. */
function load(toml: string, files: Record<string, string> = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'witshim-toml-'));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  const path = join(dir, 'fastly.toml');
  writeFileSync(path, toml);
  const warnings: string[] = [];
  const config = loadFastlyToml(path, (message) => warnings.push(message));
  return { config, warnings, path };
}

const tls = join(import.meta.dirname, 'fixtures/tls');
const text = (bytes: Uint8Array) => Buffer.from(bytes).toString('utf8');

describe('fastly.toml [local_server]', () => {
  it('without [local_server] serves nothing but loopback geolocation', () => {
    const { config, warnings } = load('manifest_version = 3\nservice_id = "svc123"\n');
    expect(warnings).toEqual([]);
    expect(config.backends).toEqual({});
    expect(config.runtime.serviceId).toBe('svc123');
    expect(config.geolocation.addresses).toEqual({ '127.0.0.1': LOOPBACK_GEO, '::1': LOOPBACK_GEO });
  });

  it('reads backends with their options and default timeouts', () => {
    const { config } = load(`
[local_server.backends.origin]
url = "http://127.0.0.1:8080/prefix"
override_host = "example.com"
[local_server.backends.secure]
url = "https://example.org"
cert_host = "cert.example.org"
use_sni = false
ca_certificate = "PEM"
`);
    expect(config.backends.origin).toMatchObject({ name: 'origin', url: 'http://127.0.0.1:8080/prefix', overrideHost: 'example.com', useSni: true, dynamic: false, connectTimeoutMs: 1000, firstByteTimeoutMs: 15000, betweenBytesTimeoutMs: 10000 });
    expect(config.backends.secure).toMatchObject({ url: 'https://example.org', certHost: 'cert.example.org', useSni: false, caCertificate: 'PEM' });
  });

  it('reads a backend client certificate inline or from files, the file winning as in Viceroy', () => {
    const cert = readFileSync(join(tls, 'client.crt'), 'utf8');
    const key = readFileSync(join(tls, 'client.key'), 'utf8');
    const inline = load(`[local_server.backends.a]\nurl = "https://x"\n[local_server.backends.a.client_certificate]\ncertificate = """\n${cert}"""\nkey = """\n${key}"""\n`);
    expect(inline.warnings).toEqual([]);
    expect(inline.config.backends.a!.clientCert).toEqual({ cert: cert.trim(), key: key.trim() });
    const files = load('[local_server.backends.a]\nurl = "https://x"\nclient_certificate = { certificate = "not used", certificate_file = "c.pem", key_file = "k.pem" }\n', { 'c.pem': cert, 'k.pem': key });
    expect(files.config.backends.a!.clientCert).toEqual({ cert: cert.trim(), key: key.trim() });
  });

  it('rejects a client certificate without a certificate or key, or with bad PEM', () => {
    const cert = readFileSync(join(tls, 'client.crt'), 'utf8');
    const key = readFileSync(join(tls, 'client.key'), 'utf8');
    const at = /\[local_server\.backends\.a\.client_certificate\]/;
    const backend = (table: string, files: Record<string, string> = {}) => () => load(`[local_server.backends.a]\nurl = "https://x"\nclient_certificate = ${table}\n`, files);
    expect(backend('"c.pem"')).toThrow(at);
    expect(backend('{ key_file = "k.pem" }', { 'k.pem': key })).toThrow(/\[local_server\.backends\.a\.client_certificate\] no certificate found/);
    expect(backend('{ certificate_file = "c.pem" }', { 'c.pem': cert })).toThrow(/\[local_server\.backends\.a\.client_certificate\] no private key found/);
    expect(backend('{ certificate_file = "missing.pem", key_file = "k.pem" }', { 'k.pem': key })).toThrow(/\[local_server\.backends\.a\.client_certificate\.certificate_file\] cannot read .*missing\.pem/);
    expect(backend('{ certificate = 1, key_file = "k.pem" }', { 'k.pem': key })).toThrow(/\[local_server\.backends\.a\.client_certificate\.certificate\] expected a string/);
    const garbled = '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n';
    expect(backend('{ certificate_file = "c.pem", key_file = "k.pem" }', { 'c.pem': garbled, 'k.pem': key })).toThrow(/client_certificate\] invalid certificate/);
  });

  it('rejects a backend whose url is not http(s)', () => {
    expect(() => load('[local_server.backends.bad]\nurl = "ftp://example.com"\n')).toThrow(/\[local_server\.backends\.bad\] url must be an http\(s\) URL/);
  });

  it('reads dictionaries and config stores inline and from JSON files', () => {
    const { config } = load(
      `
[local_server.dictionaries.inline]
format = "inline-toml"
[local_server.dictionaries.inline.contents]
a = "1"
[local_server.dictionaries.fromfile]
format = "json"
file = "dict.json"
[local_server.config_stores.settings]
format = "inline-toml"
contents = { greeting = "hi" }
[local_server.config_stores.implicit]
file = "store.json"
`,
      { 'dict.json': '{"b":"2"}', 'store.json': '{"c":"3"}' },
    );
    expect(config.dictionaries).toEqual({ inline: { a: '1' }, fromfile: { b: '2' } });
    expect(config.configStores).toEqual({ settings: { greeting: 'hi' }, implicit: { c: '3' } });
  });

  it('reads secret stores from data, files and a JSON file', () => {
    const { config } = load(
      `
[[local_server.secret_stores.inline]]
key = "token"
data = "s3cret"
[[local_server.secret_stores.inline]]
key = "cert"
file = "cert.pem"
[local_server.secret_stores.json]
file = "secrets.json"
format = "json"
`,
      { 'cert.pem': 'PEM DATA', 'secrets.json': '{"api":"k3y"}' },
    );
    expect(Object.keys(config.secretStores)).toEqual(['inline', 'json']);
    expect(text(config.secretStores.inline!.token!)).toBe('s3cret');
    expect(text(config.secretStores.inline!.cert!)).toBe('PEM DATA');
    expect(text(config.secretStores.json!.api!)).toBe('k3y');
  });

  it('reads KV stores (and the older object_stores) with metadata', () => {
    const { config } = load(
      `
[[local_server.kv_stores.kv]]
key = "a"
data = "alpha"
metadata = "meta-a"
[[local_server.kv_stores.kv]]
key = "b"
path = "b.bin"
[local_server.kv_stores.fromjson]
file = "kv.json"
[[local_server.object_stores.legacy]]
key = "o"
data = "object"
`,
      { 'b.bin': 'bravo', 'kv.json': '{"x":"plain","y":{"data":"with","metadata":"m"}}' },
    );
    expect(Object.keys(config.kvStores).sort()).toEqual(['fromjson', 'kv', 'legacy']);
    expect(text(config.kvStores.kv!.a!.data)).toBe('alpha');
    expect(config.kvStores.kv!.a!.metadata).toBe('meta-a');
    expect(text(config.kvStores.kv!.b!.data)).toBe('bravo');
    expect(text(config.kvStores.fromjson!.x!.data)).toBe('plain');
    expect(config.kvStores.fromjson!.y).toMatchObject({ metadata: 'm' });
    expect(text(config.kvStores.legacy!.o!.data)).toBe('object');
  });

  it('reads geolocation inline, from JSON, with a default, and keeps loopback unless told not to', () => {
    const inline = load(`
[local_server.geolocation]
format = "inline-toml"
[local_server.geolocation.addresses."10.0.0.1"]
city = "Testville"
[local_server.geolocation.default]
city = "Elsewhere"
`).config.geolocation;
    expect(inline.addresses['10.0.0.1']).toEqual({ city: 'Testville' });
    expect(inline.addresses['127.0.0.1']).toEqual(LOOPBACK_GEO);
    expect(inline.fallback).toEqual({ city: 'Elsewhere' });

    const json = load('[local_server.geolocation]\nformat = "json"\nfile = "geo.json"\nuse_default_loopback = false\n', { 'geo.json': '{"2001:db8::1":{"city":"Six"}}' }).config.geolocation;
    expect(json.addresses).toEqual({ '2001:db8::1': { city: 'Six' } });
  });

  it('reads device detection inline and from JSON', () => {
    const inline = load('[local_server.device_detection.user_agents."Agent/1.0"]\ndevice = { name = "phone" }\n').config.deviceDetection;
    expect(inline).toEqual({ 'Agent/1.0': { device: { name: 'phone' } } });
    const json = load('[local_server.device_detection]\nfile = "dd.json"\n', { 'dd.json': '{"UA":{"device":{"is_desktop":true}}}' }).config.deviceDetection;
    expect(json).toEqual({ UA: { device: { is_desktop: true } } });
  });

  it('reads ACLs from JSON files, by path or { file }', () => {
    const acl = '{"entries":[{"prefix":"10.0.0.0/8","action":"BLOCK"}]}';
    const { config } = load('[local_server.acls]\nplain = "acl.json"\ntable = { file = "acl.json" }\n', { 'acl.json': acl });
    expect(config.acls).toEqual({ plain: [{ prefix: '10.0.0.0/8', action: 'BLOCK' }], table: [{ prefix: '10.0.0.0/8', action: 'BLOCK' }] });
  });

  it('warns about unknown keys and sections, naming where they are', () => {
    const { warnings } = load('[local_server]\nmystery = 1\n[local_server.backends.b]\nurl = "http://x"\nspeed = "fast"\n');
    expect(warnings).toHaveLength(2);
    expect(warnings[0]).toMatch(/fastly\.toml: unknown key local_server\.mystery ignored$/);
    expect(warnings[1]).toMatch(/unknown key local_server\.backends\.b\.speed ignored$/);
  });

  it('reports a malformed file with its line and column', () => {
    const bad = 'manifest_version = 3\n[local_server.backends.origin]\nurl = "http://x\n';
    expect(() => parseFastlyToml(bad, 'app/fastly.toml', () => {})).toThrow(ConfigError);
    expect(() => parseFastlyToml(bad, 'app/fastly.toml', () => {})).toThrow(/^app\/fastly\.toml:3:\d+: /);
  });

  it('reports unreadable and invalid referenced files', () => {
    expect(() => load('[local_server.dictionaries.d]\nfile = "missing.json"\n')).toThrow(/\[local_server\.dictionaries\.d\.file\] cannot read .*missing\.json/);
    expect(() => load('[local_server.dictionaries.d]\nfile = "bad.json"\n', { 'bad.json': '{nope' })).toThrow(/invalid JSON in bad\.json/);
    expect(() => load('[local_server.acls]\na = "acl.json"\n', { 'acl.json': '[]' })).toThrow(/the ACL file must hold \{ "entries": \[\.\.\.\] \}/);
    expect(() => load('[local_server.dictionaries.d]\nformat = "yaml"\n')).toThrow(/unknown format yaml/);
  });
});
