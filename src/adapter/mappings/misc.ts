import type { Mapping } from '../mapping.js';

const BACKEND = { open: 'backend/backend.open', name: 'backend' } as const;
const backendCall = (fn: string): Mapping => ({ call: `backend/backend.${fn}`, args: [BACKEND] });

export const abi: Record<string, Mapping> = {
  // The component ABI has no version handshake; SDKs call this first and need it to succeed.
  init: { calls: [], body: (b) => b.emit('(i32.const 0)') },
};

export const uap: Record<string, Mapping> = {
  parse: { unsupported: 'user-agent parsing is not part of fastly:compute' },
};

export const dictionary: Record<string, Mapping> = {
  open: 'dictionary/dictionary.open',
  get: 'dictionary/dictionary.lookup',
};

export const configStore: Record<string, Mapping> = {
  open: 'config-store/store.open',
  get: 'config-store/store.get',
};

export const geo: Record<string, Mapping> = {
  lookup: { call: 'geo/lookup', args: [{ ip: 'addr_octets' }, undefined] },
};

export const deviceDetection: Record<string, Mapping> = {
  lookup: 'device-detection/lookup',
};

export const erl: Record<string, Mapping> = {
  check_rate: {
    call: 'erl/rate-counter.check-rate',
    args: [{ open: 'erl/rate-counter.open', name: 'rc' }, 'entry', 'delta', 'window', 'limit', { open: 'erl/penalty-box.open', name: 'pb' }, 'ttl'],
  },
  ratecounter_increment: { call: 'erl/rate-counter.increment', args: [{ open: 'erl/rate-counter.open', name: 'rc' }, 'entry', 'delta'] },
  ratecounter_lookup_rate: { call: 'erl/rate-counter.lookup-rate', args: [{ open: 'erl/rate-counter.open', name: 'rc' }, 'entry', 'window'] },
  ratecounter_lookup_count: {
    call: 'erl/rate-counter.lookup-count',
    args: [{ open: 'erl/rate-counter.open', name: 'rc' }, 'entry', 'duration'],
  },
  penaltybox_add: { call: 'erl/penalty-box.add', args: [{ open: 'erl/penalty-box.open', name: 'pb' }, 'entry', 'ttl'] },
  penaltybox_has: { call: 'erl/penalty-box.has', args: [{ open: 'erl/penalty-box.open', name: 'pb' }, 'entry'] },
};

export const secretStore: Record<string, Mapping> = {
  open: 'secret-store/store.open',
  get: { call: 'secret-store/store.get', out: [{ noneStatus: 'none' }, 'secret_handle_out'] },
  plaintext: 'secret-store/secret.plaintext',
  from_bytes: 'secret-store/secret.from-bytes',
};

export const backend: Record<string, Mapping> = {
  exists: { unsupported: 'see custom' },
  is_healthy: backendCall('is-healthy'),
  is_dynamic: backendCall('is-dynamic'),
  get_host: { call: 'backend/backend.get-host', args: [BACKEND, undefined] },
  get_override_host: { call: 'backend/backend.get-override-host', args: [BACKEND, undefined] },
  get_port: backendCall('get-port'),
  get_connect_timeout_ms: backendCall('get-connect-timeout-ms'),
  get_first_byte_timeout_ms: backendCall('get-first-byte-timeout-ms'),
  get_between_bytes_timeout_ms: backendCall('get-between-bytes-timeout-ms'),
  get_http_keepalive_time: backendCall('get-http-keepalive-time'),
  get_tcp_keepalive_enable: backendCall('get-tcp-keepalive-enable'),
  get_tcp_keepalive_interval: backendCall('get-tcp-keepalive-interval'),
  get_tcp_keepalive_probes: backendCall('get-tcp-keepalive-probes'),
  get_tcp_keepalive_time: backendCall('get-tcp-keepalive-time'),
  is_ssl: backendCall('is-tls'),
  get_ssl_min_version: backendCall('get-tls-min-version'),
  get_ssl_max_version: backendCall('get-tls-max-version'),
};

export const purge: Record<string, Mapping> = {
  purge_surrogate_key: 'purge/purge-surrogate-key',
};

export const computeRuntime: Record<string, Mapping> = {
  get_vcpu_ms: 'compute-runtime/get-vcpu-ms',
  get_heap_mib: 'compute-runtime/get-heap-mib',
};

export const acl: Record<string, Mapping> = {
  open: 'acl/acl.open',
  lookup: { unsupported: 'acl-error out-param mapping not yet written' },
};

export const shielding: Record<string, Mapping> = {
  shield_info: { unsupported: 'not yet mapped' },
  backend_for_shield: { unsupported: 'not yet mapped' },
};

export const imageOptimizer: Record<string, Mapping> = {
  transform_image_optimizer_request: { unsupported: 'image optimizer options not yet mapped' },
};
