import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parse, TomlError } from 'smol-toml';
import { DEFAULT_TIMEOUTS, emptyHostConfig, LOOPBACK_GEO, type AclEntry, type BackendHealth, type BackendSpec, type HostConfig, type KvEntry, type ShieldingSite } from '../host/config.js';

/** A fastly.toml problem the user must fix; the message names the file (and line when known). */
export class ConfigError extends Error {}

type Table = Record<string, unknown>;

const isTable = (value: unknown): value is Table => typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Date);

interface Context {
  file: string;
  dir: string;
  warn(message: string): void;
}

function fail(ctx: Context, where: string, message: string): never {
  throw new ConfigError(`${ctx.file}: [${where}] ${message}`);
}

function checkKeys(ctx: Context, where: string, table: Table, known: string[]): void {
  for (const key of Object.keys(table)) if (!known.includes(key)) ctx.warn(`${ctx.file}: unknown key ${where}.${key} ignored`);
}

function str(ctx: Context, where: string, value: unknown): string {
  if (typeof value !== 'string') fail(ctx, where, 'expected a string');
  return value;
}

function readRelative(ctx: Context, where: string, path: unknown): Buffer {
  const full = resolve(ctx.dir, str(ctx, where, path));
  try {
    return readFileSync(full);
  } catch (err) {
    fail(ctx, where, `cannot read ${full}: ${(err as Error).message}`);
  }
}

function readJson(ctx: Context, where: string, path: unknown): unknown {
  const text = readRelative(ctx, where, path).toString('utf8');
  try {
    return JSON.parse(text);
  } catch (err) {
    fail(ctx, where, `invalid JSON in ${String(path)}: ${(err as Error).message}`);
  }
}

function backends(ctx: Context, table: Table): Record<string, BackendSpec> {
  const out: Record<string, BackendSpec> = {};
  for (const [name, raw] of Object.entries(table)) {
    const where = `local_server.backends.${name}`;
    if (!isTable(raw)) fail(ctx, where, 'expected a table');
    checkKeys(ctx, where, raw, ['url', 'override_host', 'cert_host', 'use_sni', 'client_certificate', 'ca_certificate', 'grpc', ...Object.keys(TIMEOUT_KEYS), 'health']);
    const url = str(ctx, `${where}.url`, raw.url);
    if (!URL.canParse(url) || !/^https?:$/.test(new URL(url).protocol)) fail(ctx, where, `url must be an http(s) URL, got ${url}`);
    out[name] = {
      name,
      url,
      overrideHost: raw.override_host === undefined ? undefined : str(ctx, `${where}.override_host`, raw.override_host),
      certHost: raw.cert_host === undefined ? undefined : str(ctx, `${where}.cert_host`, raw.cert_host),
      useSni: raw.use_sni === undefined ? true : raw.use_sni === true,
      caCertificate: raw.ca_certificate === undefined ? undefined : str(ctx, `${where}.ca_certificate`, raw.ca_certificate),
      clientCert: raw.client_certificate === undefined ? undefined : clientCertificate(ctx, `${where}.client_certificate`, raw.client_certificate),
      dynamic: false,
      ...DEFAULT_TIMEOUTS,
      ...timeouts(ctx, where, raw),
      health: raw.health === undefined ? undefined : health(ctx, `${where}.health`, raw.health),
    };
  }
  return out;
}

/** Timeouts a backend may set, as on the platform's backend settings (ms). */
const TIMEOUT_KEYS = { connect_timeout_ms: 'connectTimeoutMs', first_byte_timeout_ms: 'firstByteTimeoutMs', between_bytes_timeout_ms: 'betweenBytesTimeoutMs' } as const;

function timeouts(ctx: Context, where: string, raw: Table): Partial<Pick<BackendSpec, (typeof TIMEOUT_KEYS)[keyof typeof TIMEOUT_KEYS]>> {
  const out: Partial<Record<(typeof TIMEOUT_KEYS)[keyof typeof TIMEOUT_KEYS], number>> = {};
  for (const [key, field] of Object.entries(TIMEOUT_KEYS)) {
    const value = raw[key];
    if (value === undefined) continue;
    if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0 || value > 2 ** 31 - 1) fail(ctx, `${where}.${key}`, 'expected a positive whole number of milliseconds');
    out[field] = value;
  }
  return out;
}

const HEALTH = ['healthy', 'unhealthy', 'unknown'] as const;

/** What `is-healthy` answers for the backend (the dev server runs no health checks). */
function health(ctx: Context, where: string, value: unknown): BackendHealth {
  if (typeof value !== 'string' || !(HEALTH as readonly string[]).includes(value)) fail(ctx, where, `expected one of ${HEALTH.map((h) => `"${h}"`).join(', ')}`);
  return value as BackendHealth;
}

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----[^-]*-----END \1-----/g;
const KEY_LABELS = new Set(['RSA PRIVATE KEY', 'PRIVATE KEY', 'EC PRIVATE KEY']);

/**
 * Viceroy's `client_certificate` table: `certificate` or `certificate_file` (the file wins when
 * both are given), and likewise `key` or `key_file`. Every certificate of the PEM text is sent as
 * the chain, and the first private key of the key's text is used.
 */
function clientCertificate(ctx: Context, where: string, raw: unknown): { cert: string; key: string } {
  if (!isTable(raw)) fail(ctx, where, 'expected a table with `certificate` or `certificate_file`, and `key` or `key_file`');
  checkKeys(ctx, where, raw, ['certificate', 'certificate_file', 'key', 'key_file']);
  const pem = (inline: string, file: string): string | undefined =>
    raw[file] !== undefined ? readRelative(ctx, `${where}.${file}`, raw[file]).toString('utf8') : raw[inline] !== undefined ? str(ctx, `${where}.${inline}`, raw[inline]) : undefined;
  const certs = [...(pem('certificate', 'certificate_file') ?? '').matchAll(PEM_BLOCK)].filter((block) => block[1] === 'CERTIFICATE').map((block) => block[0]);
  if (certs.length === 0) fail(ctx, where, 'no certificate found (give a PEM `certificate` or `certificate_file`)');
  const key = [...(pem('key', 'key_file') ?? '').matchAll(PEM_BLOCK)].find((block) => KEY_LABELS.has(block[1]!))?.[0];
  if (key === undefined) fail(ctx, where, 'no private key found (give a PEM `key` or `key_file`)');
  try {
    for (const cert of certs) new X509Certificate(cert);
  } catch (err) {
    fail(ctx, where, `invalid certificate: ${(err as Error).message}`);
  }
  try {
    createPrivateKey(key);
  } catch (err) {
    fail(ctx, where, `invalid private key: ${(err as Error).message}`);
  }
  return { cert: certs.join('\n'), key };
}

/** `dictionaries` / `config_stores`: inline `contents`, or a JSON `file`. */
function stringStores(ctx: Context, section: string, table: Table): Record<string, Record<string, string>> {
  const out: Record<string, Record<string, string>> = {};
  for (const [name, raw] of Object.entries(table)) {
    const where = `local_server.${section}.${name}`;
    if (!isTable(raw)) fail(ctx, where, 'expected a table');
    checkKeys(ctx, where, raw, ['format', 'contents', 'file']);
    const format = raw.format ?? (raw.file !== undefined ? 'json' : 'inline-toml');
    const contents = format === 'json' ? readJson(ctx, `${where}.file`, raw.file) : format === 'inline-toml' ? raw.contents : fail(ctx, where, `unknown format ${String(format)}`);
    if (!isTable(contents)) fail(ctx, where, 'contents must be a table of strings');
    out[name] = Object.fromEntries(Object.entries(contents).map(([key, value]) => [key, str(ctx, `${where}.${key}`, value)]));
  }
  return out;
}

/** Secret and KV stores: an array of `{ key, data | file }`, or `{ file, format = "json" }`. */
function entryStores(ctx: Context, section: string, table: Table): Record<string, Record<string, KvEntry>> {
  const out: Record<string, Record<string, KvEntry>> = {};
  for (const [name, raw] of Object.entries(table)) {
    const where = `local_server.${section}.${name}`;
    const entries: Record<string, KvEntry> = {};
    if (Array.isArray(raw)) {
      for (const [index, item] of raw.entries()) {
        const at = `${where}[${index}]`;
        if (!isTable(item)) fail(ctx, at, 'expected a table');
        checkKeys(ctx, at, item, ['key', 'data', 'file', 'path', 'metadata', 'env']);
        const key = str(ctx, `${at}.key`, item.key);
        const file = item.file ?? item.path;
        const data = file !== undefined ? new Uint8Array(readRelative(ctx, `${at}.file`, file)) : Buffer.from(str(ctx, `${at}.data`, item.data));
        entries[key] = { data, metadata: item.metadata === undefined ? undefined : str(ctx, `${at}.metadata`, item.metadata) };
      }
    } else if (isTable(raw)) {
      checkKeys(ctx, where, raw, ['file', 'format']);
      if (raw.format !== undefined && raw.format !== 'json') fail(ctx, where, `unknown format ${String(raw.format)}`);
      const json = readJson(ctx, `${where}.file`, raw.file);
      if (!isTable(json)) fail(ctx, where, 'the JSON file must hold an object');
      for (const [key, value] of Object.entries(json)) {
        if (typeof value === 'string') entries[key] = { data: Buffer.from(value) };
        else if (isTable(value) && typeof value.data === 'string') entries[key] = { data: Buffer.from(value.data), metadata: typeof value.metadata === 'string' ? value.metadata : undefined };
        else fail(ctx, `${where}.${key}`, 'expected a string or { data, metadata }');
      }
    } else fail(ctx, where, 'expected an array of entries or a table with `file`');
    out[name] = entries;
  }
  return out;
}

function geolocation(ctx: Context, table: Table): HostConfig['geolocation'] {
  const where = 'local_server.geolocation';
  checkKeys(ctx, where, table, ['format', 'file', 'addresses', 'default', 'use_default_loopback']);
  const addresses = table.format === 'json' || table.file !== undefined ? readJson(ctx, `${where}.file`, table.file) : (table.addresses ?? {});
  if (!isTable(addresses)) fail(ctx, where, 'addresses must be a table keyed by IP address');
  const fallback = table.default === undefined ? undefined : isTable(table.default) ? table.default : fail(ctx, `${where}.default`, 'expected a table');
  return { addresses: addresses as Record<string, Table>, fallback };
}

function deviceDetection(ctx: Context, table: Table): HostConfig['deviceDetection'] {
  const where = 'local_server.device_detection';
  checkKeys(ctx, where, table, ['format', 'file', 'user_agents']);
  const agents = table.format === 'json' || table.file !== undefined ? readJson(ctx, `${where}.file`, table.file) : (table.user_agents ?? {});
  if (!isTable(agents)) fail(ctx, where, 'user_agents must be a table keyed by user agent');
  return agents as Record<string, Table>;
}

function acls(ctx: Context, table: Table): Record<string, AclEntry[]> {
  const out: Record<string, AclEntry[]> = {};
  for (const [name, raw] of Object.entries(table)) {
    const where = `local_server.acls.${name}`;
    const file = isTable(raw) ? raw.file : raw;
    const json = readJson(ctx, where, file);
    const entries = isTable(json) && Array.isArray(json.entries) ? json.entries : fail(ctx, where, 'the ACL file must hold { "entries": [...] }');
    out[name] = entries.map((entry, index) => {
      if (!isTable(entry)) fail(ctx, `${where}.entries[${index}]`, 'expected { prefix, action }');
      return { prefix: str(ctx, `${where}.entries[${index}].prefix`, entry.prefix), action: str(ctx, `${where}.entries[${index}].action`, entry.action) };
    });
  }
  return out;
}

/** Viceroy's forms: `name = "local"` (the POP we run on), or `{ unencrypted, encrypted }` URLs and nothing else. */
function shieldingSites(ctx: Context, table: Table): Record<string, ShieldingSite> {
  const out: Record<string, ShieldingSite> = {};
  for (const [name, raw] of Object.entries(table)) {
    const where = `local_server.shielding_sites.${name}`;
    if (typeof raw === 'string') {
      if (raw.toLowerCase() !== 'local') fail(ctx, where, `a site given as a string must be "local", got ${raw}`);
      out[name] = 'local';
      continue;
    }
    if (!isTable(raw) || Object.keys(raw).length !== 2 || raw.encrypted === undefined || raw.unencrypted === undefined) {
      fail(ctx, where, 'expected "local" or a table with exactly `unencrypted` and `encrypted`');
    }
    const url = (key: 'encrypted' | 'unencrypted'): string => {
      const text = str(ctx, `${where}.${key}`, raw[key]);
      if (!URL.canParse(text)) fail(ctx, `${where}.${key}`, `invalid URL ${text}`);
      return new URL(text).href;
    };
    out[name] = { unencrypted: url('unencrypted'), encrypted: url('encrypted') };
  }
  return out;
}

const SECTIONS = ['backends', 'dictionaries', 'config_stores', 'secret_stores', 'kv_stores', 'object_stores', 'geolocation', 'device_detection', 'acls', 'shielding_sites'];

/** Reads the `[local_server]` part of a fastly.toml into what the host serves. */
export function parseFastlyToml(text: string, file: string, warn: (message: string) => void): HostConfig {
  let document: Table;
  try {
    document = parse(text) as Table;
  } catch (err) {
    if (err instanceof TomlError) throw new ConfigError(`${file}:${err.line}:${err.column}: ${err.message.split('\n')[0]}`);
    throw err;
  }
  const config = localServerConfig(document.local_server, { file, dir: dirname(resolve(file)), warn });
  if (typeof document.service_id === 'string') config.runtime.serviceId = document.service_id;
  return config;
}

/**
 * The `[local_server]` table (as parsed from TOML, or given as an object by an API user) into
 * what the host serves. `file` labels messages; relative `file` entries resolve against `dir`.
 */
export function localServerConfig(local: unknown, source: { file: string; dir: string; warn: (message: string) => void }): HostConfig {
  const ctx: Context = source;
  const config = emptyHostConfig();
  if (local === undefined) {
    config.geolocation.addresses = { '127.0.0.1': LOOPBACK_GEO, '::1': LOOPBACK_GEO };
    return config;
  }
  if (!isTable(local)) fail(ctx, 'local_server', 'expected a table');
  checkKeys(ctx, 'local_server', local, SECTIONS);
  const section = (name: string): Table => {
    const value = local[name] ?? {};
    if (!isTable(value)) fail(ctx, `local_server.${name}`, 'expected a table');
    return value;
  };
  config.backends = backends(ctx, section('backends'));
  config.dictionaries = stringStores(ctx, 'dictionaries', section('dictionaries'));
  config.configStores = stringStores(ctx, 'config_stores', section('config_stores'));
  const secrets = entryStores(ctx, 'secret_stores', section('secret_stores'));
  config.secretStores = Object.fromEntries(Object.entries(secrets).map(([name, entries]) => [name, Object.fromEntries(Object.entries(entries).map(([key, entry]) => [key, entry.data]))]));
  config.kvStores = { ...entryStores(ctx, 'object_stores', section('object_stores')), ...entryStores(ctx, 'kv_stores', section('kv_stores')) };
  const geo = section('geolocation');
  config.geolocation = geolocation(ctx, geo);
  if (geo.use_default_loopback !== false) config.geolocation.addresses = { '127.0.0.1': LOOPBACK_GEO, '::1': LOOPBACK_GEO, ...config.geolocation.addresses };
  config.deviceDetection = deviceDetection(ctx, section('device_detection'));
  config.acls = acls(ctx, section('acls'));
  config.shieldingSites = shieldingSites(ctx, section('shielding_sites'));
  return config;
}

export function loadFastlyToml(path: string, warn: (message: string) => void): HostConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read ${path}: ${(err as Error).message}`);
  }
  return parseFastlyToml(text, path, warn);
}
