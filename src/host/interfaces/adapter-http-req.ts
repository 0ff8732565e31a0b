import { fail, fitBytes, utf8 } from '../errors.js';
import type { DownstreamRequest, DownstreamTls } from '../protocol.js';
import type { Session } from '../session.js';
import { originalHeaderNames } from './http-downstream.js';
import type { HostInterface } from '../host-types.js';

/** `fastly:adapter/adapter-http-req`: the deprecated calls that mean "the downstream request". */
export function adapterHttpReq(session: Session) {
  const downstream = (): DownstreamRequest => session.downstream ?? fail('invalid-argument');
  /** A TLS fact of the downstream connection, `none` over plain HTTP. */
  const tls = (maxLen: bigint, fact: (tls: DownstreamTls) => string | undefined): Uint8Array | undefined => {
    const found = session.downstream?.tls;
    const value = found && fact(found);
    return value === undefined ? undefined : fitBytes(utf8.encode(value), maxLen);
  };
  return {
    downstreamTlsCipherOpensslName: (maxLen: bigint) => tls(maxLen, (found) => found.cipherOpensslName),
    downstreamTlsProtocol: (maxLen: bigint) => tls(maxLen, (found) => found.protocol),
    downstreamTlsRawClientCertificateDeprecated: (maxLen: bigint) => tls(maxLen, (found) => found.clientCertificate ?? ''),
    getOriginalHeaderNames: (maxLen: bigint, cursor: number) => originalHeaderNames(downstream(), maxLen, cursor),
    originalHeaderCount: () => downstream().originalHeaderNames.length,
  };
}

// Checked against the WIT (see ../host-types.ts).
adapterHttpReq satisfies (session: Session) => HostInterface<'fastly:adapter/adapter-http-req'>;
