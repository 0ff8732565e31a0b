import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { emptyHostConfig, LOOPBACK_GEO, type HostConfig } from '../host/config.js';
import { loadFastlyToml, localServerConfig } from '../server/config.js';

export { ConfigError } from '../server/config.js';

/**
 * The `[local_server]` table of a `fastly.toml` as an object, with the same keys as in TOML
 * (`backends`, `dictionaries`, `config_stores`, `secret_stores`, `kv_stores`, `geolocation`,
 * `device_detection`, `acls`, `shielding_sites`); see the README's *Serve* section.
 */
export type LocalServerConfig = Record<string, unknown>;

/** Where backends and stores come from: a `fastly.toml` path, or its `[local_server]` content as an object. */
export type ConfigSource = string | LocalServerConfig;

export interface ConfigOptions {
  /** Relative `file` entries of an object config resolve against this (default: the working directory). */
  baseDir?: string;
  /** Unknown keys are reported here (default: a line on stderr). */
  onWarning?: (message: string) => void;
}

const stderrWarning = (message: string) => void process.stderr.write(`witshim: warning: ${message}\n`);

/** Loopback clients get Fastly's default answer when no geolocation is configured. */
function defaultConfig(): HostConfig {
  const config = emptyHostConfig();
  config.geolocation.addresses = { '127.0.0.1': LOOPBACK_GEO, '::1': LOOPBACK_GEO };
  return config;
}

/**
 * Reads a config source into what the host serves. Throws `ConfigError` (with file and line)
 * for a malformed file. Without a source, `fastly.toml` in the working directory, then beside
 * `appPath`, is used when present.
 */
export function resolveConfig(source: ConfigSource | undefined, options: ConfigOptions & { appPath?: string } = {}): HostConfig {
  const warn = options.onWarning ?? stderrWarning;
  if (typeof source === 'object') return localServerConfig(source, { file: '[local_server]', dir: resolve(options.baseDir ?? '.'), warn });
  if (typeof source === 'string') return loadFastlyToml(source, warn);
  const path = findConfigFile(options.appPath);
  return path ? loadFastlyToml(path, warn) : defaultConfig();
}

/** The `fastly.toml` used when none is named: in the working directory, else beside the app. */
export function findConfigFile(appPath?: string): string | undefined {
  const candidates = [resolve('fastly.toml'), ...(appPath ? [resolve(dirname(appPath), 'fastly.toml')] : [])];
  return candidates.find((candidate) => existsSync(candidate));
}
