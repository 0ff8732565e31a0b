import { fail } from '../errors.js';
import type { DownstreamRequest } from '../protocol.js';
import type { Session } from '../session.js';
import { originalHeaderNames } from './http-downstream.js';
import type { HostInterface } from '../host-types.js';

/** `fastly:adapter/adapter-http-req`: the deprecated calls that mean "the downstream request". */
export function adapterHttpReq(session: Session) {
  const downstream = (): DownstreamRequest => session.downstream ?? fail('invalid-argument');
  return {
    downstreamTlsCipherOpensslName: () => undefined,
    downstreamTlsProtocol: () => undefined,
    downstreamTlsRawClientCertificateDeprecated: () => undefined,
    getOriginalHeaderNames: (maxLen: bigint, cursor: number) => originalHeaderNames(downstream(), maxLen, cursor),
    originalHeaderCount: () => downstream().originalHeaderNames.length,
  };
}

// Checked against the WIT (see ../host-types.ts).
adapterHttpReq satisfies (session: Session) => HostInterface<'fastly:adapter/adapter-http-req'>;
