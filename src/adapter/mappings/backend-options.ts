/**
 * `register_dynamic_backend`'s options: the legacy mask + struct become a
 * `dynamic-backend-options` resource configured one setter per flag (`keepalive` and
 * `pooling_limits` each set a group), with a nested `healthcheck-options` resource.
 */

/** WITX `tls_version` cases in order, as the TLS protocol numbers the WIT takes. */
const TLS_VERSIONS = [0x0301, 0x0302, 0x0303, 0x0304];

const setter = (flag: string, method: string, ...fields: string[]) => ({
  flag,
  call: `backend/dynamic-backend-options.${method}`,
  args: fields.map((field) => ({ field })),
});
const constSetter = (flag: string, method: string, value: number) => ({
  flag,
  call: `backend/dynamic-backend-options.${method}`,
  args: [{ const: value }],
});
const tlsSetter = (flag: string, method: string) => ({
  flag,
  call: `backend/dynamic-backend-options.${method}`,
  args: [{ field: flag, table: TLS_VERSIONS }],
});
const healthcheckSetter = (method: string, field: string) => ({ call: `backend/healthcheck-options.${method}`, args: [{ field }] });

export const dynamicBackendOptions = {
  build: {
    ctor: 'backend/dynamic-backend-options.new',
    mask: 'backend_config_mask',
    struct: 'backend_configuration',
    set: [
      setter('host_override', 'override-host', 'host_override'),
      setter('connect_timeout', 'connect-timeout', 'connect_timeout_ms'),
      setter('first_byte_timeout', 'first-byte-timeout', 'first_byte_timeout_ms'),
      setter('between_bytes_timeout', 'between-bytes-timeout', 'between_bytes_timeout_ms'),
      constSetter('use_ssl', 'use-tls', 1),
      tlsSetter('ssl_min_version', 'tls-min-version'),
      tlsSetter('ssl_max_version', 'tls-max-version'),
      setter('cert_hostname', 'cert-hostname', 'cert_hostname'),
      setter('ca_cert', 'ca-certificate', 'ca_cert'),
      setter('ciphers', 'tls-ciphers', 'ciphers'),
      setter('sni_hostname', 'sni-hostname', 'sni_hostname'),
      setter('client_cert', 'client-cert', 'client_certificate', 'client_key'),
      setter('keepalive', 'http-keepalive-time-ms', 'http_keepalive_time_ms'),
      setter('keepalive', 'tcp-keepalive-enable', 'tcp_keepalive_enable'),
      setter('keepalive', 'tcp-keepalive-interval-secs', 'tcp_keepalive_interval_secs'),
      setter('keepalive', 'tcp-keepalive-probes', 'tcp_keepalive_probes'),
      setter('keepalive', 'tcp-keepalive-time-secs', 'tcp_keepalive_time_secs'),
      setter('pooling_limits', 'max-connections', 'max_connections'),
      setter('pooling_limits', 'max-use', 'max_use'),
      setter('pooling_limits', 'max-lifetime-ms', 'max_lifetime_ms'),
      constSetter('dont_pool', 'pooling', 0),
      constSetter('prefer_ipv4', 'prefer-ipv6', 0),
      constSetter('grpc', 'grpc', 1),
      {
        flag: 'healthcheck',
        call: 'backend/dynamic-backend-options.healthcheck',
        args: [
          {
            build: {
              ctor: 'backend/healthcheck-options.new',
              args: [{ field: 'host' }],
              struct: { field: 'healthcheck' },
              set: [
                healthcheckSetter('method', 'method'),
                healthcheckSetter('path', 'path'),
                healthcheckSetter('expected-status', 'expected_status'),
                healthcheckSetter('window', 'window'),
                healthcheckSetter('threshold', 'threshold'),
                healthcheckSetter('initial', 'initial'),
                healthcheckSetter('interval-ms', 'interval_ms'),
                healthcheckSetter('timeout-ms', 'timeout_ms'),
              ],
            },
          },
        ],
      },
    ],
  },
};
