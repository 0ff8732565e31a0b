import { INVALID_HANDLE, type CallMapping, type Mapping, type Source } from '../mapping.js';

const BACKEND = { open: 'backend/backend.open', name: 'backend' } as const;
const backendCall = (fn: string): Mapping => ({ call: `backend/backend.${fn}`, args: [BACKEND] });
/** The WIT reports TLS protocol numbers; the legacy out is the `tls_version` enum (TLS 1.0 = 0). */
const tlsVersionCall = (fn: string) => ({
  call: `backend/backend.${fn}`,
  args: [BACKEND],
  out: [{ noneStatus: 'none' as const }, { out: 'tls_version_out', table: [0x0301, 0x0302, 0x0303, 0x0304] }],
});

export const abi: Record<string, Mapping> = {
  // The component ABI has no version handshake; SDKs call this first and need it to succeed.
  init: { calls: [], body: (b) => b.emit('(i32.const 0)') },
};

export const uap: Record<string, Mapping> = {
  parse: { unsupported: 'the WIT has no user-agent parser' },
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
  // Opening is the only test the WIT offers: a backend that does not open does not exist.
  exists: {
    call: 'backend/backend.open',
    out: [{ drop: true }],
    initially: [{ out: 'backend_exists_out', value: 0 }],
    also: [{ out: 'backend_exists_out', value: 1 }],
    okOnError: ['not-found'],
  },
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
  get_ssl_min_version: tlsVersionCall('get-tls-min-version'),
  get_ssl_max_version: tlsVersionCall('get-tls-max-version'),
};

const PURGE_OPTIONS: Source = { fields: { 'soft-purge': { flag: { mask: 'options_mask', flag: 'soft_purge' } } } };
const purgePlain: CallMapping = { call: 'purge/purge-surrogate-key', args: ['surrogate_key', PURGE_OPTIONS] };
/** `ret_buf`: the purge API's JSON answer goes into the buffer the options struct names. */
const purgeVerbose: CallMapping = {
  call: 'purge/purge-surrogate-key-verbose',
  args: ['surrogate_key', PURGE_OPTIONS, { field: 'options.ret_buf_len' }],
  out: [{ buf: 'options.ret_buf', nwritten: 'options.ret_buf_nwritten_out' }],
};

export const purge: Record<string, Mapping> = {
  // By mask value: 0 / 1 plain (hard / soft), 2 / 3 verbose (hard / soft).
  purge_surrogate_key: { branch: 'options_mask', cases: [purgePlain, purgePlain, purgeVerbose, purgeVerbose] },
};

export const computeRuntime: Record<string, Mapping> = {
  get_vcpu_ms: 'compute-runtime/get-vcpu-ms',
  get_heap_mib: 'compute-runtime/get-heap-mib',
};

export const acl: Record<string, Mapping> = {
  open: 'acl/acl.open',
  lookup: {
    call: 'acl/acl.lookup',
    args: ['acl', { ip: 'ip_octets' }],
    errorOut: 'acl_error_out',
    initially: [{ out: 'body_handle_out', value: INVALID_HANDLE }],
    out: [{ noneCase: 'no_content' }, 'body_handle_out'],
  },
};

const shieldSetter = (flag: string, method: string, field: string) => ({ flag, call: `shielding/shield-backend-options.${method}`, args: [{ field }] });

export const shielding: Record<string, Mapping> = {
  shield_info: 'shielding/shield-info',
  // The legacy call names the new backend; the WIT hands over a resource, so ask it its name.
  backend_for_shield: {
    call: 'shielding/backend-for-shield',
    args: [
      'shield_name',
      {
        some: {
          build: {
            ctor: 'shielding/shield-backend-options.new',
            mask: 'backend_config_mask',
            struct: 'backend_configuration',
            set: [
              shieldSetter('use_cache_key', 'set-cache-key', 'cache_key'),
              shieldSetter('first_byte_timeout', 'set-first-byte-timeout', 'first_byte_timeout_ms'),
              shieldSetter('between_bytes_timeout', 'set-between-bytes-timeout', 'between_bytes_timeout_ms'),
            ],
          },
        },
      },
    ],
    out: [{ then: [{ call: 'backend/backend.get-name', out: [{ buf: 'backend_name_out', nwritten: 'num_bytes_out' }] }] }],
  },
};

export const imageOptimizer: Record<string, Mapping> = {
  // The borrowing form: legacy guests still own (and close) the request afterwards.
  transform_image_optimizer_request: {
    call: 'image-optimizer/transform-image-optimizer-request',
    args: [
      'origin_image_request',
      { handleOrNone: 'origin_image_request_body' },
      { open: 'backend/backend.open', name: 'origin_image_request_backend' },
      { options: { mask: 'io_transform_config_mask', struct: 'io_transform_configuration' } },
    ],
    initially: [
      { out: 'io_error_detail.tag', value: 0 },
      { out: 'response_handle_out', value: INVALID_HANDLE },
      { out: 'body_handle_out', value: INVALID_HANDLE },
    ],
    also: [{ out: 'io_error_detail.tag', value: 1 }],
    out: ['response_handle_out', 'body_handle_out'],
  },
};
