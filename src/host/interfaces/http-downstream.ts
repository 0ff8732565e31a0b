import { BOT_HEADERS, botCategoryKind, headerIsTrue, headerString } from '../bot.js';
import { fail, fitBytes, fitString, utf8 } from '../errors.js';
import { Body } from '../body.js';
import { Request, toIpAddress } from '../messages.js';
import { dispose, Pollable, type Readiness, type Waiter } from '../pollable.js';
import type { DownstreamRequest, DownstreamTls } from '../protocol.js';
import type { Session } from '../session.js';
import type { HostInterface } from '../host-types.js';
import type { BotCategory } from '../wit-types/interfaces/fastly-compute-http-downstream.js';

class ExtraNextRequestOptions {}
class ExtraBotCategory {
  constructor(private readonly raw: number) {}
  asRaw(): number {
    return this.raw;
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

/** Viceroy's longest wait for a further request: a longer timeout is cut to it, none given means it. */
const NEXT_REQUEST_TIMEOUT_MS = 10_000;

/**
 * `next-request`'s pending request. The server registers the sandbox as waiting when it is made
 * and may hand it the next downstream request at any time; it is ready once it has one, or will
 * get none (its deadline passed, or the server retired the sandbox). Without a server that hands
 * out requests (`witshim run`) it is ready at its deadline and `await-request` answers `none`.
 */
export class PendingDownstreamRequest extends Pollable {
  constructor(
    private readonly session: Session,
    readonly deadline: number,
  ) {
    super();
  }

  override readiness(): Readiness {
    return { nextRequest: this.deadline };
  }

  protected override waiter(): Waiter {
    return this.session;
  }

  /** `next_request_abandon` (dropping the handle): the sandbox no longer takes a request. */
  [dispose](): void {
    if (this.session.pendingDownstream !== this) return;
    this.session.pendingDownstream = undefined;
    this.session.channel.notify({ op: 'next-request-abandon' });
  }
}

/** The compliance region of every downstream request, as Viceroy names it. */
const COMPLIANCE_REGION_NONE = 'none';

/** Proxy and TLS signals: a plain-HTTP dev server has none to report. */
const none = () => undefined;

/** A bot header's text; longer than the guest's buffer is `buffer-len(needed)`, as legacy callers saw it. */
function botText(request: Request, header: string, maxLen: bigint): string | undefined {
  const text = headerString(info(request).headers, header);
  return text === undefined ? undefined : fitString(text, maxLen);
}

/**
 * A TLS fact as bytes that must fit the guest's buffer, `none` without TLS or without the fact.
 * Raw ClientHello, JA3 and JA4 stay `none`: Node's TLS does not expose the ClientHello.
 */
function tlsBytes(request: Request, maxLen: bigint, fact: (tls: DownstreamTls) => string | undefined): Uint8Array | undefined {
  const tls = info(request).tls;
  const value = tls && fact(tls);
  return value === undefined ? undefined : fitBytes(utf8.encode(value), maxLen);
}

export function httpDownstream(session: Session) {
  return {
    ExtraNextRequestOptions,
    ExtraBotCategory,
    nextRequest(options: { timeoutMs?: bigint }): PendingDownstreamRequest {
      if (session.pendingDownstream !== undefined) fail('limit-exceeded');
      const requested = options.timeoutMs === undefined ? NEXT_REQUEST_TIMEOUT_MS : Number(options.timeoutMs);
      const timeoutMs = Math.min(requested, NEXT_REQUEST_TIMEOUT_MS);
      const pending = new PendingDownstreamRequest(session, Date.now() + timeoutMs);
      session.pendingDownstream = pending;
      session.channel.notify({ op: 'next-request', timeoutMs, served: session.served, ageMs: session.served === 0 ? 0 : Date.now() - session.firstBegunAt, memoryBytes: session.memoryBytes() });
      return pending;
    },
    awaitRequest(pending: Pollable): [Request, Body] | undefined {
      if (!(pending instanceof PendingDownstreamRequest) || session.pendingDownstream !== pending) fail('invalid-argument');
      // As Viceroy: no further request before the current one is answered. The WIT passes the
      // pending request as `own`, so the guest no longer holds it even when this call fails:
      // it is abandoned here, or the sandbox could never ask for a next request again.
      if (session.downstream !== undefined && !session.responded) {
        pending[dispose]();
        fail('unsupported');
      }
      session.pendingDownstream = undefined;
      // One round trip: the main thread answers once the request is handed over or none will come.
      const { next } = session.channel.call({ op: 'await-request', deadline: pending.deadline });
      if (!next) return undefined;
      session.rebind?.(next.request, next.env);
      return [Request.fromDownstream(next.request), Body.fromSource(session.channel, next.request.body, next.request.knownLength)];
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
    // Viceroy has no fingerprints and reports their absence as missing metadata (`generic-error`;
    // its legacy side, which the adapter keeps, answers `none`).
    downstreamClientH2Fingerprint(request: Request): never {
      info(request);
      fail('generic-error');
    },
    downstreamClientOhFingerprint(request: Request): never {
      info(request);
      fail('generic-error');
    },
    downstreamClientRequestId: (request: Request, maxLen: bigint) => fitString(info(request).id, maxLen),
    downstreamClientDdosDetected: () => false,
    downstreamTlsCipherOpensslName: (request: Request, maxLen: bigint) => tlsBytes(request, maxLen, (tls) => tls.cipherOpensslName),
    downstreamTlsProtocol: (request: Request, maxLen: bigint) => tlsBytes(request, maxLen, (tls) => tls.protocol),
    downstreamTlsClientHello: none,
    // PEM, as the platform gives it; empty over TLS without a client certificate.
    downstreamTlsRawClientCertificate: (request: Request, maxLen: bigint) => tlsBytes(request, maxLen, (tls) => tls.clientCertificate ?? ''),
    downstreamTlsClientCertVerifyResult: (request: Request) => info(request).tls?.clientCertVerifyResult,
    downstreamTlsClientServername: (request: Request, maxLen: bigint) => {
      const name = info(request).tls?.servername;
      return name === undefined ? undefined : fitString(name, maxLen);
    },
    downstreamTlsJa3Md5: none,
    downstreamTlsJa4: none,
    // Viceroy's downstream metadata names the region `none` (a string, not an absent value):
    // a guest reads the four letters, or `buffer-len` when it gave less room.
    downstreamComplianceRegion: (request: Request, maxLen: bigint) => {
      info(request);
      return fitString(COMPLIANCE_REGION_NONE, maxLen);
    },
    fastlyKeyIsValid: () => false,
    downstreamBotAnalyzed: (request: Request) => headerIsTrue(info(request).headers, BOT_HEADERS.analyzed) ?? false,
    downstreamBotDetected: (request: Request) => headerIsTrue(info(request).headers, BOT_HEADERS.detected) ?? false,
    downstreamBotName: (request: Request, maxLen: bigint) => botText(request, BOT_HEADERS.name, maxLen),
    downstreamBotCategory: (request: Request, maxLen: bigint) => botText(request, BOT_HEADERS.category, maxLen),
    downstreamBotCategoryKind(request: Request): BotCategory | undefined {
      const kind = botCategoryKind(headerString(info(request).headers, BOT_HEADERS.category));
      // As Viceroy: a value that is neither a category nor a number is an error (legacy: `none`).
      if (kind === null) fail('generic-error');
      if (kind === undefined) return undefined;
      return kind.kind === 'case' ? ({ tag: kind.tag } as BotCategory) : { tag: 'extra', val: new ExtraBotCategory(kind.raw) };
    },
    downstreamBotVerified: (request: Request) => headerIsTrue(info(request).headers, BOT_HEADERS.verified),
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
    // Viceroy answers `unsupported` for both: visit counts exist only on the platform.
    downstreamVisitsThisService(): never {
      fail('unsupported');
    },
    downstreamVisitsThisPop(): never {
      fail('unsupported');
    },
  };
}

// Checked against the WIT (see ../host-types.ts).
httpDownstream satisfies (session: Session) => HostInterface<'fastly:compute/http-downstream'>;
