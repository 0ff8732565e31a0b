import { createPrivateKey, X509Certificate } from 'node:crypto';
import { DEFAULT_TIMEOUTS, type BackendHealth, type BackendSpec } from '../config.js';
import { checkOpenName, fail, failOpen, fitBytes, fitString, fromUtf8, utf8 } from '../errors.js';
import type { Request } from '../messages.js';
import type { HeaderList } from '../protocol.js';
import type { Session } from '../session.js';
import type { HostInterface } from '../host-types.js';
import { sessionView } from '../session-view.js';

/** A `backend.backend` handle: a named origin the guest may send requests to. */
export class BackendHandle {
  constructor(readonly spec: BackendSpec) {}

  getName(): string {
    return this.spec.name;
  }
  isHealthy(): BackendHealth {
    return this.spec.health ?? 'unknown';
  }
  isDynamic(): boolean {
    return this.spec.dynamic;
  }
  getHost(maxLen: bigint): string {
    return fitString(new URL(this.spec.url).hostname, maxLen);
  }
  getOverrideHost(maxLen: bigint): Uint8Array | undefined {
    return this.spec.overrideHost === undefined ? undefined : fitBytes(utf8.encode(this.spec.overrideHost), maxLen);
  }
  getPort(): number {
    const url = new URL(this.spec.url);
    return url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
  }
  getConnectTimeoutMs(): number {
    return this.spec.connectTimeoutMs;
  }
  getFirstByteTimeoutMs(): number {
    return this.spec.firstByteTimeoutMs;
  }
  getBetweenBytesTimeoutMs(): number {
    return this.spec.betweenBytesTimeoutMs;
  }
  isTls(): boolean {
    return this.spec.url.startsWith('https:');
  }
  getTlsMinVersion(): undefined {
    return undefined;
  }
  getTlsMaxVersion(): undefined {
    return undefined;
  }
  getHttpKeepaliveTime(): number {
    return 0;
  }
  getTcpKeepaliveEnable(): boolean {
    return false;
  }
  getTcpKeepaliveInterval(): number {
    return 0;
  }
  getTcpKeepaliveProbes(): number {
    return 0;
  }
  getTcpKeepaliveTime(): number {
    return 0;
  }
}

/** Options collected before `register-dynamic-backend`; only those the dev server honours matter. */
class DynamicBackendOptions {
  overrideHostValue: string | undefined;
  connectTimeoutMs = DEFAULT_TIMEOUTS.connectTimeoutMs;
  firstByteTimeoutMs = DEFAULT_TIMEOUTS.firstByteTimeoutMs;
  betweenBytesTimeoutMs = DEFAULT_TIMEOUTS.betweenBytesTimeoutMs;
  tls = false;
  certHost: string | undefined;
  sniHost: string | undefined;
  caCertificateValue: string | undefined;
  clientCertValue: { cert: string; key: Uint8Array } | undefined;

  overrideHost(value: string): void {
    this.overrideHostValue = value;
  }
  connectTimeout(value: number): void {
    this.connectTimeoutMs = value;
  }
  firstByteTimeout(value: number): void {
    this.firstByteTimeoutMs = value;
  }
  betweenBytesTimeout(value: number): void {
    this.betweenBytesTimeoutMs = value;
  }
  useTls(value: boolean): void {
    this.tls = value;
  }
  tlsMinVersion(): void {}
  tlsMaxVersion(): void {}
  certHostname(value: string): void {
    this.certHost = value;
  }
  caCertificate(value: string): void {
    this.caCertificateValue = value;
  }
  tlsCiphers(): void {}
  sniHostname(value: string): void {
    this.sniHost = value;
  }
  clientCert(cert: string, key: { plaintext(maxLen: bigint): Uint8Array }): void {
    this.clientCertValue = { cert, key: key.plaintext(BigInt(Number.MAX_SAFE_INTEGER)) };
  }
  httpKeepaliveTimeMs(): void {}
  tcpKeepaliveEnable(): void {}
  tcpKeepaliveIntervalSecs(): void {}
  tcpKeepaliveProbes(): void {}
  tcpKeepaliveTimeSecs(): void {}
  maxConnections(): void {}
  maxUse(): void {}
  maxLifetimeMs(): void {}
  pooling(): void {}
  grpc(): void {}
  preferIpv6(): void {}
  healthcheck(): void {}
}

/** Health checks are accepted and ignored: the dev server reports every backend's health as unknown. */
class HealthcheckOptions {
  static new(): HealthcheckOptions {
    return new HealthcheckOptions();
  }
  host(): void {}
  method(): void {}
  path(): void {}
  expectedStatus(): void {}
  window(): void {}
  threshold(): void {}
  initial(): void {}
  intervalMs(): void {}
  timeoutMs(): void {}
}

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----[^-]*-----END \1-----/g;
const KEY_LABELS = new Set(['RSA PRIVATE KEY', 'PRIVATE KEY', 'EC PRIVATE KEY']);

/**
 * Like Viceroy, certificates and keys may sit in either PEM text; there must be a certificate
 * and exactly one private key, else registering fails with `generic-error`.
 */
function clientCertificate(value: { cert: string; key: Uint8Array }): { cert: string; key: string } {
  const blocks = [...`${value.cert}\n${fromUtf8.decode(value.key)}`.matchAll(PEM_BLOCK)];
  const certs = blocks.filter((block) => block[1] === 'CERTIFICATE').map((block) => block[0]);
  const keys = blocks.filter((block) => KEY_LABELS.has(block[1]!)).map((block) => block[0]);
  if (certs.length === 0 || keys.length !== 1) fail('generic-error');
  try {
    for (const cert of certs) new X509Certificate(cert);
    createPrivateKey(keys[0]!);
  } catch {
    fail('generic-error');
  }
  return { cert: certs.join('\n'), key: keys[0]! };
}

/** Request headers a handoff keeps from the original downstream request, whatever the guest set (Viceroy's list). */
const PROTECTED_HANDOFF_HEADERS = new Set([
  'host', 'connection', 'sec-websocket-version', 'sec-websocket-key', 'upgrade', 'pushpin-route', 'content-length', 'content-range',
  'expect', 'fastly-ff', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'cdn-loop',
]);

const TARGET = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(:\d{1,5})?$/;

/**
 * A backend as the guest holds it. The glue sees this class through each session's view
 * (`sessionView`), and `shielding` hands out backends of it too, so that `instanceof` holds.
 */
export class Backend extends BackendHandle {
  constructor(
    private readonly session: Session,
    spec: BackendSpec,
  ) {
    super(spec);
  }

  static open(session: Session, name: string): Backend {
    checkOpenName(name);
    const spec = session.backend(name);
    if (!spec) failOpen('not-found');
    return new Backend(session, spec);
  }

  /** `redirect-to-websocket-proxy` / `redirect-to-grip-proxy`: the downstream response comes from elsewhere. */
  handOff(kind: 'websocket' | 'grip', request: Request): void {
    const { session } = this;
    // Viceroy: a response already sent is `DownstreamRespSending`, which components see as `generic-error`.
    if (session.responded) fail('generic-error');
    session.responded = true;
    if (kind === 'grip') return session.channel.notify({ op: 'handoff-grip', backend: this.spec.name });
    const original = session.downstream;
    const head = request.head();
    const kept: HeaderList = head.headers.filter(([name]) => !PROTECTED_HANDOFF_HEADERS.has(name));
    for (const entry of original?.headers ?? []) if (PROTECTED_HANDOFF_HEADERS.has(entry[0]) && entry[0] !== 'host') kept.push(entry);
    // The original request's body goes along, as much of it as the guest has not read.
    const body = original ? { segments: [{ source: original.body }], knownLength: original.knownLength } : { segments: [] };
    session.channel.notify({ op: 'handoff', backend: this.spec, method: request.method, uri: request.uri, head: { ...head, headers: kept, manualFraming: false }, body });
  }
}

export function backendInterface(session: Session) {
  return {
    Backend: sessionView(Backend, session, ['open']),
    DynamicBackendOptions,
    HealthcheckOptions,
    registerDynamicBackend(prefix: string, target: string, options: DynamicBackendOptions): Backend {
      if (!TARGET.test(target) || prefix.length === 0) fail('invalid-argument');
      if (session.backend(prefix)) fail('invalid-argument');
      const spec: BackendSpec = {
        name: prefix,
        url: `${options.tls ? 'https' : 'http'}://${target}`,
        overrideHost: options.overrideHostValue,
        certHost: options.certHost,
        sniHostname: options.sniHost,
        useSni: true,
        dynamic: true,
        connectTimeoutMs: options.connectTimeoutMs,
        firstByteTimeoutMs: options.firstByteTimeoutMs,
        betweenBytesTimeoutMs: options.betweenBytesTimeoutMs,
        caCertificate: options.caCertificateValue,
        clientCert: options.clientCertValue && clientCertificate(options.clientCertValue),
      };
      session.dynamicBackends.set(prefix, spec);
      return new Backend(session, spec);
    },
  };
}

// Checked against the WIT (see ../host-types.ts).
backendInterface satisfies (session: Session) => HostInterface<'fastly:compute/backend'>;
