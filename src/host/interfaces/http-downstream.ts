import { fail, fitBytes, fitString, utf8 } from '../errors.js';
import { toIpAddress, type Request } from '../messages.js';
import type { DownstreamRequest } from '../protocol.js';

class ExtraNextRequestOptions {}
class ExtraBotCategory {
  asRaw(): number {
    return 0;
  }
}

/** The downstream request info behind a request handle; handles the guest built have none. */
function info(request: Request): DownstreamRequest {
  if (request.downstream === undefined) fail('invalid-argument');
  return request.downstream;
}

export function originalHeaderNames(downstream: DownstreamRequest, maxLen: bigint, cursor: number): [string, number | undefined] {
  const names = downstream.originalHeaderNames;
  const parts: string[] = [];
  let used = 0;
  for (let index = cursor; index < names.length; index++) {
    const length = utf8.encode(names[index]!).length + 1;
    if (BigInt(used + length) > maxLen) {
      if (parts.length === 0) fitBytes(new Uint8Array(length), maxLen);
      return [parts.join(''), index];
    }
    parts.push(`${names[index]}\0`);
    used += length;
  }
  return [parts.join(''), undefined];
}

/** Bot, proxy and TLS signals: a plain-HTTP dev server has none to report. */
const none = () => undefined;

export function httpDownstream() {
  return {
    ExtraNextRequestOptions,
    ExtraBotCategory,
    // Each instance serves exactly one request here.
    nextRequest(): never {
      fail('unsupported');
    },
    awaitRequest(): never {
      fail('unsupported');
    },
    downstreamOriginalHeaderNames: (request: Request, maxLen: bigint, cursor: number) => originalHeaderNames(info(request), maxLen, cursor),
    downstreamOriginalHeaderCount: (request: Request) => info(request).originalHeaderNames.length,
    downstreamClientIpAddr: (request: Request) => {
      const address = info(request).clientAddress;
      return address === undefined ? undefined : toIpAddress(address);
    },
    downstreamServerIpAddr: (request: Request) => {
      const address = info(request).serverAddress;
      return address === undefined ? undefined : toIpAddress(address);
    },
    downstreamClientH2Fingerprint(): never {
      fail('unsupported');
    },
    downstreamClientOhFingerprint(): never {
      fail('unsupported');
    },
    downstreamClientRequestId: (request: Request, maxLen: bigint) => fitString(info(request).id, maxLen),
    downstreamClientDdosDetected: () => false,
    downstreamTlsCipherOpensslName: none,
    downstreamTlsProtocol: none,
    downstreamTlsClientHello: none,
    downstreamTlsRawClientCertificate: none,
    downstreamTlsClientCertVerifyResult: none,
    downstreamTlsClientServername: none,
    downstreamTlsJa3Md5: none,
    downstreamTlsJa4: none,
    downstreamComplianceRegion: none,
    fastlyKeyIsValid: () => false,
    downstreamBotAnalyzed: () => false,
    downstreamBotDetected: () => false,
    downstreamBotName: none,
    downstreamBotCategory: none,
    downstreamBotCategoryKind: none,
    downstreamBotVerified: none,
    downstreamResvpnproxyIsAnonymous: none,
    downstreamResvpnproxyIsAnonymousVpn: none,
    downstreamResvpnproxyIsHostingProvider: none,
    downstreamResvpnproxyIsProxyOverVpn: none,
    downstreamResvpnproxyIsPublicProxy: none,
    downstreamResvpnproxyIsRelayProxy: none,
    downstreamResvpnproxyIsResidentialProxy: none,
    downstreamResvpnproxyIsSmartDnsProxy: none,
    downstreamResvpnproxyIsTorExitNode: none,
    downstreamResvpnproxyIsVpnDatacenter: none,
    downstreamResvpnproxyVpnServiceName: none,
    downstreamVisitsThisService(): never {
      fail('unsupported');
    },
    downstreamVisitsThisPop(): never {
      fail('unsupported');
    },
  };
}
