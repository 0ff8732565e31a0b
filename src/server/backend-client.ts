import http from 'node:http';
import https from 'node:https';
import { isIP, type Socket } from 'node:net';
import type { Duplex, Readable } from 'node:stream';
import type { BackendSpec } from '../host/config.js';
import type { AwaitedResponse, HeaderList, HttpVersion, MessageHead, SendErrorTag } from '../host/protocol.js';
import { settleTrailerHeader, type BodyTarget } from './outbound.js';

/** Why a backend exchange failed, in the ABI's `send-error-detail` terms. */
export class SendFailure extends Error {
  constructor(
    readonly tag: SendErrorTag,
    message: string,
  ) {
    super(message);
  }
}

const latin1 = new TextDecoder('latin1');

export function headerText(value: Uint8Array): string {
  return latin1.decode(value);
}

/** Where the request goes: the backend's origin, its path as a prefix, then the guest URI's path. */
export function backendTarget(spec: BackendSpec, uri: string): URL {
  const base = new URL(spec.url);
  let path: string;
  if (uri.startsWith('/')) path = uri;
  else {
    const parsed = URL.canParse(uri) ? new URL(uri) : undefined;
    if (!parsed) throw new SendFailure('http-request-uri-invalid', `invalid request URI ${uri}`);
    path = parsed.pathname + parsed.search;
  }
  const prefix = base.pathname.replace(/\/$/, '');
  return new URL(prefix + path, base.origin);
}

export function classify(err: NodeJS.ErrnoException): SendFailure {
  if (err instanceof SendFailure) return err;
  const code = err.code ?? '';
  const tag: SendErrorTag =
    code === 'ECONNREFUSED'
      ? 'connection-refused'
      : code === 'ENOTFOUND' || code === 'EAI_AGAIN'
        ? 'dns-error'
        : code === 'ETIMEDOUT'
          ? 'connection-timeout'
          : code === 'ECONNRESET' || code === 'EPIPE' || code === 'ECONNABORTED'
            ? 'connection-terminated'
            : code === 'EHOSTUNREACH' || code === 'ENETUNREACH'
              ? 'destination-unavailable'
              : code === 'HPE_HEADER_OVERFLOW'
                ? 'http-response-header-section-too-large'
                : code.startsWith('HPE_')
                  ? 'http-protocol-error'
                  : /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS/.test(code)
                    ? 'tls-certificate-error'
                    : // OpenSSL's handshake failures (a backend that does not speak TLS: wrong version number).
                      code.startsWith('ERR_SSL_') || code === 'EPROTO'
                      ? 'tls-protocol-error'
                      : 'internal-error';
  return new SendFailure(tag, `${code || 'error'}: ${err.message}`);
}

/** A connection past an HTTP upgrade (a backend's `101`, or a client's request to switch), and the bytes its peer sent right after the head. */
export interface Upgraded {
  socket: Duplex;
  head: Buffer;
}

export type BackendAnswer = AwaitedResponse & { stream?: Readable; upgraded?: Upgraded };

export interface BackendExchange {
  /** Where the request body goes (a `ClientRequest` for network backends). */
  request: BodyTarget;
  response: Promise<BackendAnswer>;
}

/** Starts a backend exchange: `startBackendRequest` over the network, or a stand-in (JavaScript-function backends). */
export type BackendDispatch = (spec: BackendSpec, method: string, uri: string, head: MessageHead, knownLength: number | undefined, trailers?: HeaderList) => BackendExchange;

/**
 * Starts a request to `spec`. The caller writes the body into `request`; the returned promise
 * settles with the response head (its body is the `stream`) or the classified failure.
 * `trailers` are those known before the body, to be declared. Throws a `SendFailure` when the
 * URI cannot be sent at all.
 */
export function startBackendRequest(spec: BackendSpec, method: string, uri: string, head: MessageHead, knownLength: number | undefined, trailers?: HeaderList): BackendExchange {
  const target = backendTarget(spec, uri);
  const headers: string[] = [];
  let host: string | undefined = spec.overrideHost;
  for (const [name, value] of head.headers) {
    if (name === 'host') {
      host ??= headerText(value);
      continue;
    }
    if (!head.manualFraming && (name === 'content-length' || name === 'transfer-encoding')) continue;
    headers.push(name, headerText(value));
  }
  headers.unshift('host', host ?? target.host);
  // Chunks whatever the method: Node would send a GET's body unframed, and trailers need them.
  if (!head.manualFraming) headers.push(...(knownLength !== undefined ? ['content-length', String(knownLength)] : ['transfer-encoding', 'chunked']));
  const tls = target.protocol === 'https:';
  const servername = spec.sniHostname ?? spec.certHost ?? spec.overrideHost ?? target.hostname;
  const options: https.RequestOptions = {
    method,
    host: target.hostname.replace(/^\[|\]$/g, ''),
    port: target.port || (tls ? 443 : 80),
    path: target.pathname + target.search,
    headers: settleTrailerHeader(headers, false, trailers) as unknown as http.OutgoingHttpHeaders,
    setHost: false,
    // SNI cannot name an IP address (RFC 6066), and an explicit `undefined` trips Node's TLS option checks.
    ...(tls ? { ...(spec.useSni && !isIP(servername) ? { servername } : {}), ca: spec.caCertificate, ...spec.clientCert } : {}),
  };
  const request = (tls ? https : http).request(options);
  const response = new Promise<BackendAnswer>((resolve) => {
    const timers: NodeJS.Timeout[] = [];
    const clear = () => timers.forEach(clearTimeout);
    const failWith = (failure: SendFailure) => {
      clear();
      request.destroy(failure);
    };
    request.on('socket', (socket: Socket) => {
      if (socket.connecting) {
        timers.push(setTimeout(() => failWith(new SendFailure('connection-timeout', `connect timeout after ${spec.connectTimeoutMs} ms`)), spec.connectTimeoutMs));
        socket.once('connect', clear);
      }
    });
    request.on('finish', () => {
      timers.push(setTimeout(() => failWith(new SendFailure('http-response-timeout', `no response within ${spec.firstByteTimeoutMs} ms`)), spec.firstByteTimeoutMs));
    });
    request.on('error', (err) => {
      clear();
      const failure = classify(err);
      resolve({ err: failure.tag, message: failure.message });
    });
    request.on('response', (res) => {
      clear();
      const length = res.headers['content-length'];
      resolve({ ok: responseHead(res, length !== undefined && /^\d+$/.test(length) ? BigInt(length) : undefined), stream: res });
    });
    // Without a listener Node destroys a connection that switched protocols; the caller decides.
    request.on('upgrade', (res: http.IncomingMessage, socket: Duplex, head: Buffer) => {
      clear();
      // Node hands the socket over without an error listener of its own.
      socket.on('error', () => socket.destroy());
      resolve({ ok: responseHead(res, 0n), upgraded: { socket, head } });
    });
  });
  return { request, response };
}

function responseHead(res: http.IncomingMessage, knownLength: bigint | undefined): Extract<AwaitedResponse, { ok: unknown }>['ok'] {
  const headers: HeaderList = [];
  for (let index = 0; index < res.rawHeaders.length; index += 2) {
    headers.push([res.rawHeaders[index]!.toLowerCase(), Buffer.from(res.rawHeaders[index + 1]!, 'latin1')]);
  }
  return {
    status: res.statusCode ?? 502,
    version: versionOf(res.httpVersion),
    headers,
    body: 0,
    knownLength,
    remoteAddress: res.socket.remoteAddress,
    remotePort: res.socket.remotePort,
  };
}

export function versionOf(text: string): HttpVersion {
  return text === '1.0' ? 'http10' : text === '2.0' ? 'h2' : 'http11';
}
