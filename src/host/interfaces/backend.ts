import { DEFAULT_TIMEOUTS, type BackendSpec } from '../config.js';
import { checkOpenName, fail, failOpen, fitBytes, fitString, utf8 } from '../errors.js';
import type { Session } from '../session.js';

/** A `backend.backend` handle: a named origin the guest may send requests to. */
export class BackendHandle {
  constructor(readonly spec: BackendSpec) {}

  getName(): string {
    return this.spec.name;
  }
  isHealthy(): 'unknown' {
    return 'unknown';
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
  clientCert(): void {
    fail('unsupported');
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

const TARGET = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(:\d{1,5})?$/;

export function backendInterface(session: Session) {
  class Backend extends BackendHandle {
    static open(name: string): Backend {
      checkOpenName(name);
      const spec = session.backend(name);
      if (!spec) failOpen('not-found');
      return new Backend(spec);
    }
  }
  return {
    Backend,
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
      };
      session.dynamicBackends.set(prefix, spec);
      return new Backend(spec);
    },
  };
}
