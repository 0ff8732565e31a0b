import { INVALID_HANDLE, type Mapping } from '../mapping.js';
import { dynamicBackendOptions } from './backend-options.js';

const DOWNSTREAM = { downstream: 'request' } as const;

/** Hostcalls whose WIT counterpart takes the implicit downstream request as its first param. */
const downstreamCalls = (names: string[]): Record<string, Mapping> =>
  Object.fromEntries(names.map((n) => [n, { call: `http-downstream/${n.replace(/_/g, '-')}`, args: [DOWNSTREAM] }]));

/** Explicit-request forms in `fastly_http_downstream`: same names, the request passed in. */
const explicitCalls = (names: string[]): Record<string, Mapping> =>
  Object.fromEntries(names.map((n) => [n, `http-downstream/${n.replace(/_/g, '-')}`]));

/**
 * Where the legacy ABI answered differently from the component interface, the adapter answers as
 * the legacy ABI did (README, *Legacy answers the adapter keeps*); the forms below say how.
 * An absent fingerprint is a value the platform does not have (`none`), not a failure.
 */
const ABSENT_AS_NONE = { errorAs: { 'generic-error': 'none' } } as const;
/** A header (or trailer) that is not there was `inval` to legacy callers (the Rust SDK reads it as `None`). */
const headerValueGet = (ref: string): Mapping => ({ call: ref, out: [{ noneStatus: 'inval' }, { buf: 'value', nwritten: 'nwritten_out' }] });

const IP_OUT = [{ noneStatus: 'none' as const }, { ipInto: 'addr_octets_out', nwritten: 'num_bytes_out' }];
/** The legacy JA3 output is a bare pointer to the 16-byte MD5 digest. */
const JA3_OUT = [{ noneStatus: 'none' as const }, { buf: 'cja3_md5_out', nwritten: 'num_bytes_out', cap: 16 }];

export const httpBody: Record<string, Mapping> = {
  append: 'http-body/append',
  new: 'http-body/new',
  read: 'http-body/read',
  write: {
    branch: 'end',
    cases: ['http-body/write', { call: 'http-body/write-front', also: [{ out: 'num_bytes_out', lenOf: 'buf' }] }],
  },
  close: 'http-body/close',
  // Dropping a body without closing it is how the component ABI abandons a stream.
  abandon: 'async-io/[resource-drop]pollable',
  trailer_append: 'http-body/append-trailer',
  trailer_names_get: 'http-body/get-trailer-names',
  trailer_value_get: headerValueGet('http-body/get-trailer-value'),
  trailer_values_get: 'http-body/get-trailer-values',
  known_length: 'http-body/get-known-length',
};

export const log: Record<string, Mapping> = {
  endpoint_get: 'log/endpoint.open',
  write: { call: 'log/endpoint.write', also: [{ out: 'num_bytes_out', lenOf: 'msg' }] },
};

const headerCalls = (resource: 'request' | 'response'): Record<string, Mapping> => ({
  new: `http-${resource === 'request' ? 'req' : 'resp'}/${resource}.new`,
  header_names_get: `${iface(resource)}/${resource}.get-header-names`,
  header_value_get: headerValueGet(`${iface(resource)}/${resource}.get-header-value`),
  header_values_get: `${iface(resource)}/${resource}.get-header-values`,
  header_values_set: `${iface(resource)}/${resource}.set-header-values`,
  header_insert: `${iface(resource)}/${resource}.insert-header`,
  header_append: `${iface(resource)}/${resource}.append-header`,
  header_remove: `${iface(resource)}/${resource}.remove-header`,
  version_get: `${iface(resource)}/${resource}.get-version`,
  version_set: `${iface(resource)}/${resource}.set-version`,
  close: `${iface(resource)}/close`,
  framing_headers_mode_set: `${iface(resource)}/${resource}.set-framing-headers-mode`,
});

function iface(resource: 'request' | 'response'): string {
  return resource === 'request' ? 'http-req' : 'http-resp';
}

const BACKEND = (param: string) => ({ open: 'backend/backend.open', name: param });
const SEND_OUT = ['response_handle_out', 'body_handle_out'];
const SEND_FAILED = SEND_OUT.map((out) => ({ out, value: INVALID_HANDLE }));
const TAG = (flag: string) => ({ mask: 'tag', flag });

/** Legacy tag flags: `pass` wins, no flag keeps the origin's caching, anything else overrides. */
const cacheOverride = (surrogateKey?: string) => ({
  cases: [
    { case: 'pass', if: { flag: TAG('pass') } },
    // Viceroy: no flag and no surrogate key is no override; a surrogate key alone is an override carrying it.
    { case: 'none', if: { zero: surrogateKey ? ['tag', surrogateKey] : 'tag' } },
    {
      case: 'override',
      value: {
        fields: {
          ttl: { when: TAG('ttl'), value: 'ttl' },
          'stale-while-revalidate': { when: TAG('stale_while_revalidate'), value: 'stale_while_revalidate' },
          pci: { flag: TAG('pci') },
          ...(surrogateKey ? { 'surrogate-key': { some: surrogateKey } } : {}),
        },
      },
    },
  ],
});

/** A finished pending request: the legacy select answers `ok` with invalid handles on failure. */
const selectPending = (detail?: string): Mapping => ({
  call: 'http-req/await-response',
  args: [{ select: 'hs', index: 'done_idx_out' }],
  out: SEND_OUT,
  initially: SEND_FAILED,
  okOnError: true,
  ...(detail ? { detail } : {}),
});

const pollPending = (detail?: string): Mapping => ({
  call: 'http-req/await-response',
  args: ['h'],
  out: SEND_OUT,
  initially: SEND_FAILED,
  whenReady: { handle: 'h', done: 'is_done_out' },
  ...(detail ? { detail } : {}),
});


export const httpReq: Record<string, Mapping> = {
  ...headerCalls('request'),
  body_downstream_get: {
    calls: [],
    body: (b) =>
      b.emit(
        '(i32.store (local.get $request_handle_out) (global.get $downstream_request))',
        '(i32.store (local.get $body_handle_out) (global.get $downstream_body))',
        '(i32.const 0)',
      ),
  },
  cache_override_set: { call: 'http-req/request.set-cache-override', args: ['h', cacheOverride()] },
  cache_override_v2_set: { call: 'http-req/request.set-cache-override', args: ['h', cacheOverride('sk')] },
  downstream_client_ip_addr: { call: 'http-downstream/downstream-client-ip-addr', args: [DOWNSTREAM], out: IP_OUT },
  downstream_server_ip_addr: { call: 'http-downstream/downstream-server-ip-addr', args: [DOWNSTREAM], out: IP_OUT },
  downstream_client_h2_fingerprint: { call: 'http-downstream/downstream-client-h2-fingerprint', args: [DOWNSTREAM], ...ABSENT_AS_NONE },
  downstream_client_oh_fingerprint: { call: 'http-downstream/downstream-client-oh-fingerprint', args: [DOWNSTREAM], ...ABSENT_AS_NONE },
  ...downstreamCalls([
    'downstream_client_request_id',
    'downstream_client_ddos_detected',
    'downstream_tls_client_hello',
    'downstream_tls_client_cert_verify_result',
    'downstream_tls_ja4',
    'downstream_compliance_region',
  ]),
  downstream_tls_ja3_md5: { call: 'http-downstream/downstream-tls-ja3-md5', args: [DOWNSTREAM], out: JA3_OUT },
  downstream_tls_cipher_openssl_name: 'adapter:adapter-http-req/downstream-tls-cipher-openssl-name',
  downstream_tls_protocol: 'adapter:adapter-http-req/downstream-tls-protocol',
  downstream_tls_raw_client_certificate: 'adapter:adapter-http-req/downstream-tls-raw-client-certificate-deprecated',
  original_header_names_get: 'adapter:adapter-http-req/get-original-header-names',
  original_header_count: 'adapter:adapter-http-req/original-header-count',
  method_get: 'http-req/request.get-method',
  method_set: 'http-req/request.set-method',
  uri_get: 'http-req/request.get-uri',
  uri_set: 'http-req/request.set-uri',
  send: { call: 'http-req/send', args: ['h', 'b', BACKEND('backend')], out: SEND_OUT },
  send_v2: { call: 'http-req/send', args: ['h', 'b', BACKEND('backend')], out: SEND_OUT, initially: SEND_FAILED, detail: 'error_detail' },
  send_v3: { call: 'http-req/send-uncached', args: ['h', 'b', BACKEND('backend')], out: SEND_OUT, initially: SEND_FAILED, detail: 'error_detail' },
  send_async: { call: 'http-req/send-async', args: ['h', 'b', BACKEND('backend')] },
  send_async_v2: {
    branch: 'streaming',
    cases: [
      { call: 'http-req/send-async-uncached', args: ['h', 'b', BACKEND('backend')] },
      { call: 'http-req/send-async-uncached-streaming', args: ['h', 'b', BACKEND('backend')] },
    ],
  },
  send_async_streaming: { call: 'http-req/send-async-streaming', args: ['h', 'b', BACKEND('backend')] },
  pending_req_header_insert: 'http-resp/insert-header-pending',
  pending_req_header_append: 'http-resp/append-header-pending',
  pending_req_header_remove: 'http-resp/remove-header-pending',
  pending_req_poll: pollPending(),
  pending_req_poll_v2: pollPending('error_detail'),
  pending_req_wait: { call: 'http-req/await-response', out: SEND_OUT, initially: SEND_FAILED },
  pending_req_wait_v2: { call: 'http-req/await-response', args: ['h'], out: SEND_OUT, initially: SEND_FAILED, detail: 'error_detail' },
  pending_req_select: selectPending(),
  pending_req_select_v2: selectPending('error_detail'),
  fastly_key_is_valid: { call: 'http-downstream/fastly-key-is-valid', args: [DOWNSTREAM] },
  auto_decompress_response_set: 'http-req/request.set-auto-decompress-response',
  // Not available outside the platform: legacy hosts say `unsupported`, the component `generic-error`.
  upgrade_websocket: { call: 'http-req/upgrade-websocket', args: [BACKEND('backend_name')], errorAs: { 'generic-error': 'unsupported' } },
  // The implicit-request forms hand off the downstream request.
  redirect_to_websocket_proxy: { call: 'http-req/request.redirect-to-websocket-proxy', args: [DOWNSTREAM, BACKEND('backend_name')] },
  redirect_to_grip_proxy: { call: 'http-req/request.redirect-to-grip-proxy', args: [DOWNSTREAM, BACKEND('backend_name')] },
  redirect_to_websocket_proxy_v2: { call: 'http-req/request.redirect-to-websocket-proxy', args: ['h', BACKEND('backend_name')] },
  redirect_to_grip_proxy_v2: { call: 'http-req/request.redirect-to-grip-proxy', args: ['h', BACKEND('backend_name')] },
  register_dynamic_backend: { call: 'backend/register-dynamic-backend', args: ['name_prefix', 'target', dynamicBackendOptions], out: [{ drop: true }] },
  inspect: 'security/inspect',
  on_behalf_of: { unsupported: 'the WIT has no on-behalf-of call' },
};

export const httpDownstream: Record<string, Mapping> = {
  // The mask flag is `timeout`, the struct field `timeout_ms`, the WIT field `timeout-ms`.
  next_request: { call: 'http-downstream/next-request', args: [{ options: { mask: 'options_mask', struct: 'options', rename: { 'timeout-ms': 'timeout' } } }] },
  next_request_wait: { call: 'http-downstream/await-request', out: [{ noneStatus: 'none' }, 'request_handle_out', 'body_handle_out'] },
  next_request_abandon: 'async-io/[resource-drop]pollable',
  downstream_client_ip_addr: { call: 'http-downstream/downstream-client-ip-addr', out: IP_OUT },
  downstream_server_ip_addr: { call: 'http-downstream/downstream-server-ip-addr', out: IP_OUT },
  ...explicitCalls([
    'downstream_original_header_names',
    'downstream_original_header_count',
    'downstream_client_request_id',
    'downstream_client_ddos_detected',
    'downstream_tls_cipher_openssl_name',
    'downstream_tls_protocol',
    'downstream_tls_client_hello',
    'downstream_tls_raw_client_certificate',
    'downstream_tls_client_cert_verify_result',
    'downstream_tls_client_servername',
    'downstream_tls_ja4',
    'downstream_compliance_region',
    'fastly_key_is_valid',
    'downstream_bot_analyzed',
    'downstream_bot_detected',
    'downstream_bot_name',
    'downstream_bot_category',
    'downstream_bot_verified',
    'downstream_resvpnproxy_is_anonymous',
    'downstream_resvpnproxy_is_anonymous_vpn',
    'downstream_resvpnproxy_is_hosting_provider',
    'downstream_resvpnproxy_is_proxy_over_vpn',
    'downstream_resvpnproxy_is_public_proxy',
    'downstream_resvpnproxy_is_relay_proxy',
    'downstream_resvpnproxy_is_residential_proxy',
    'downstream_resvpnproxy_is_smart_dns_proxy',
    'downstream_resvpnproxy_is_tor_exit_node',
    'downstream_resvpnproxy_is_vpn_datacenter',
    'downstream_resvpnproxy_vpn_service_name',
    'downstream_visits_this_service',
    'downstream_visits_this_pop',
  ]),
  downstream_client_h2_fingerprint: { call: 'http-downstream/downstream-client-h2-fingerprint', ...ABSENT_AS_NONE },
  downstream_client_oh_fingerprint: { call: 'http-downstream/downstream-client-oh-fingerprint', ...ABSENT_AS_NONE },
  downstream_tls_ja3_md5: { call: 'http-downstream/downstream-tls-ja3-md5', out: JA3_OUT },
  // A category the host cannot name is, to legacy callers, no category (`none`).
  downstream_bot_category_kind: {
    call: 'http-downstream/downstream-bot-category-kind',
    ...ABSENT_AS_NONE,
    out: [{ noneStatus: 'none' }, { caseIndex: 'bot_category_kind_out', method: 'http-downstream/extra-bot-category.as-raw' }],
  },
};

export const httpResp: Record<string, Mapping> = {
  ...headerCalls('response'),
  send_downstream: {
    branch: 'streaming',
    cases: ['http-resp/send-downstream', 'http-resp/send-downstream-streaming'],
  },
  send_downstream_pending: 'http-resp/send-downstream-pending',
  status_get: 'http-resp/response.get-status',
  status_set: 'http-resp/response.set-status',
  http_keepalive_mode_set: 'http-resp/response.set-http-keepalive-mode',
  get_addr_dest_ip: { call: 'http-resp/response.get-remote-ip-addr', out: IP_OUT },
  get_addr_dest_port: 'http-resp/response.get-remote-port',
};
