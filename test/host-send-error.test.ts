import { describe, expect, it } from 'vitest';
import type { MainChannel } from '../src/host/channel.js';
import { emptyHostConfig, DEFAULT_TIMEOUTS, type BackendSpec } from '../src/host/config.js';
import { HostError } from '../src/host/errors.js';
import { httpReq } from '../src/host/interfaces/http-req.js';
import { Request } from '../src/host/messages.js';
import { Body } from '../src/host/body.js';
import { BackendHandle } from '../src/host/interfaces/backend.js';
import type { AwaitedResponse, Notice, SendErrorTag, SyncCall } from '../src/host/protocol.js';
import { Session } from '../src/host/session.js';
import { backendTarget, classify, SendFailure } from '../src/server/backend-client.js';

const spec: BackendSpec = { name: 'origin', url: 'http://127.0.0.1:9/base/', useSni: true, dynamic: false, ...DEFAULT_TIMEOUTS };

function errno(code: string | undefined, message = 'boom'): NodeJS.ErrnoException {
  return Object.assign(new Error(message), code === undefined ? {} : { code });
}

describe('backend failures → send-error-detail', () => {
  it.each<[string | undefined, SendErrorTag]>([
    ['ECONNREFUSED', 'connection-refused'],
    ['ENOTFOUND', 'dns-error'],
    ['EAI_AGAIN', 'dns-error'],
    ['ETIMEDOUT', 'connection-timeout'],
    ['ECONNRESET', 'connection-terminated'],
    ['EPIPE', 'connection-terminated'],
    ['EHOSTUNREACH', 'destination-unavailable'],
    ['ENETUNREACH', 'destination-unavailable'],
    ['HPE_HEADER_OVERFLOW', 'http-response-header-section-too-large'],
    ['HPE_INVALID_CONSTANT', 'http-protocol-error'],
    ['DEPTH_ZERO_SELF_SIGNED_CERT', 'tls-certificate-error'],
    ['UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'tls-certificate-error'],
    ['ERR_TLS_CERT_ALTNAME_INVALID', 'tls-certificate-error'],
    ['EWHATEVER', 'internal-error'],
    [undefined, 'internal-error'],
  ])('%s is %s', (code, tag) => {
    const failure = classify(errno(code));
    expect(failure.tag).toBe(tag);
    expect(failure.message).toContain('boom');
  });

  it('keeps a failure already classified (timeouts the client raised itself)', () => {
    const timeout = new SendFailure('http-response-timeout', 'no response within 10 ms');
    expect(classify(timeout)).toBe(timeout);
  });

  it('sends to the backend origin with its path as a prefix, rejecting URIs it cannot send', () => {
    expect(backendTarget(spec, 'http://guest.example/a/b?c=1').href).toBe('http://127.0.0.1:9/base/a/b?c=1');
    expect(backendTarget(spec, '/x').href).toBe('http://127.0.0.1:9/base/x');
    expect(() => backendTarget(spec, 'not a uri')).toThrow(SendFailure);
  });
});

describe('send as the guest sees it', () => {
  function host(result: AwaitedResponse) {
    const notices: Notice[] = [];
    const channel = {
      call: (call: SyncCall) => ({ op: call.op, result }),
      notify: (notice: Notice) => notices.push(notice),
    } as unknown as MainChannel;
    const session = new Session(channel, emptyHostConfig(), undefined);
    return { notices, req: httpReq(session), channel };
  }

  function sendPayload(result: AwaitedResponse): unknown {
    const { req, channel } = host(result);
    try {
      req.send(Request.new(), Body.fromBytes(channel, new Uint8Array()), new BackendHandle(spec));
    } catch (err) {
      if (err instanceof HostError) return err.payload;
      throw err;
    }
    throw new Error('send succeeded');
  }

  it('reports a failed exchange as error-with-detail: the detail case and generic-error', () => {
    expect(sendPayload({ err: 'connection-refused', message: 'ECONNREFUSED' })).toEqual({ detail: { tag: 'connection-refused' }, error: { tag: 'generic-error' } });
    expect(sendPayload({ err: 'http-response-timeout', message: 'slow' })).toEqual({ detail: { tag: 'http-response-timeout' }, error: { tag: 'generic-error' } });
  });

  it('gives dns-error its (empty) record payload', () => {
    expect(sendPayload({ err: 'dns-error', message: 'ENOTFOUND' })).toEqual({ detail: { tag: 'dns-error', val: { rcode: undefined, infoCode: undefined } }, error: { tag: 'generic-error' } });
  });

  it('returns the response and its body when the backend answered', () => {
    const { req, channel, notices } = host({ ok: { status: 203, version: 'http11', headers: [['x-a', new TextEncoder().encode('1')]], body: 9, knownLength: 4n } });
    const request = Request.new();
    request.method = 'POST';
    request.uri = 'http://example.com/path';
    const [response, body] = req.send(request, Body.fromBytes(channel, new TextEncoder().encode('data')), new BackendHandle(spec));
    expect(response.status).toBe(203);
    expect(response.headers.values('x-a')).toHaveLength(1);
    expect(body.readiness()).toEqual({ source: 9 });
    expect(body.knownLength()).toBe(4n);
    expect(notices).toHaveLength(1);
    expect(notices[0]).toMatchObject({ op: 'send-request', method: 'POST', uri: 'http://example.com/path', backend: spec });
  });
});
