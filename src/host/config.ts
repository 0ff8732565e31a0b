/** What the host reads at run time: plain data, so it can be handed to workers as is. */

export interface BackendSpec {
  name: string;
  /** Origin the backend is reached at, e.g. `http://127.0.0.1:8080`; a path is prepended to request paths. */
  url: string;
  overrideHost?: string;
  certHost?: string;
  sniHostname?: string;
  useSni: boolean;
  dynamic: boolean;
  connectTimeoutMs: number;
  firstByteTimeoutMs: number;
  betweenBytesTimeoutMs: number;
  caCertificate?: string;
  /** PEM certificate chain and private key presented to the backend (mutual TLS). */
  clientCert?: { cert: string; key: string };
  /** What `is-healthy` reports: fastly.toml's `health`, else unknown (no health checks run locally). */
  health?: BackendHealth;
}

export type BackendHealth = 'healthy' | 'unhealthy' | 'unknown';

/** `[local_server.shielding_sites]`: the POP we pretend to run on (`local`), or where other shields answer. */
export type ShieldingSite = 'local' | { unencrypted: string; encrypted: string };

export interface AclEntry {
  prefix: string;
  action: string;
}

export interface GeoConfig {
  /** Answer for addresses not listed. */
  fallback?: Record<string, unknown>;
  addresses: Record<string, Record<string, unknown>>;
}

export interface KvEntry {
  data: Uint8Array;
  metadata?: string;
}

export interface RuntimeIdentity {
  hostname: string;
  pop: string;
  region: string;
  serviceId: string;
  serviceVersion: bigint;
  customerId: string;
  namespaceId: string;
  isStaging: boolean;
}

export interface HostConfig {
  backends: Record<string, BackendSpec>;
  dictionaries: Record<string, Record<string, string>>;
  configStores: Record<string, Record<string, string>>;
  secretStores: Record<string, Record<string, Uint8Array>>;
  kvStores: Record<string, Record<string, KvEntry>>;
  geolocation: GeoConfig;
  deviceDetection: Record<string, Record<string, unknown>>;
  acls: Record<string, AclEntry[]>;
  shieldingSites: Record<string, ShieldingSite>;
  runtime: RuntimeIdentity;
}

export const DEFAULT_TIMEOUTS = { connectTimeoutMs: 1_000, firstByteTimeoutMs: 15_000, betweenBytesTimeoutMs: 10_000 };

/** The answer Fastly's local tooling gives for loopback addresses when no geolocation is configured. */
export const LOOPBACK_GEO: Record<string, unknown> = {
  as_name: 'Fastly, Inc',
  as_number: 54113,
  area_code: 415,
  city: 'San Francisco',
  conn_speed: 'broadband',
  conn_type: 'wired',
  continent: 'NA',
  country_code: 'US',
  country_code3: 'USA',
  country_name: 'United States of America',
  latitude: 37.77869,
  longitude: -122.39557,
  metro_code: 0,
  postal_code: '94107',
  proxy_description: '?',
  proxy_type: '?',
  region: 'CA',
  utc_offset: -700,
};

export function emptyHostConfig(): HostConfig {
  return {
    backends: {},
    dictionaries: {},
    configStores: {},
    secretStores: {},
    kvStores: {},
    geolocation: { addresses: {} },
    deviceDetection: {},
    acls: {},
    shieldingSites: {},
    runtime: {
      hostname: 'localhost',
      pop: 'XXX',
      region: 'local',
      serviceId: '0000000000000000000000',
      serviceVersion: 0n,
      customerId: '0000000000000000000000',
      namespaceId: '',
      isStaging: false,
    },
  };
}
