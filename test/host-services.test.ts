import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Body } from '../src/host/body.js';
import type { MainChannel } from '../src/host/channel.js';
import { emptyHostConfig, type HostConfig } from '../src/host/config.js';
import { Backend, backendInterface } from '../src/host/interfaces/backend.js';
import { httpBody } from '../src/host/interfaces/http-body.js';
import { httpDownstream, PendingDownstreamRequest } from '../src/host/interfaces/http-downstream.js';
import { dispose } from '../src/host/pollable.js';
import { httpReq } from '../src/host/interfaces/http-req.js';
import { httpResp } from '../src/host/interfaces/http-resp.js';
import { imageOptimizer } from '../src/host/interfaces/image-optimizer.js';
import { security } from '../src/host/interfaces/security.js';
import { shielding } from '../src/host/interfaces/shielding.js';
import { Request, Response } from '../src/host/messages.js';
import type { AwaitedResponse, DownstreamRequest, Notice, SyncCall, SyncReply } from '../src/host/protocol.js';
import { Session } from '../src/host/session.js';
import { parseFastlyToml } from '../src/server/config.js';
import { payload } from './support/host-error.js';

const tls = join(import.meta.dirname, 'fixtures/tls');
const enc = new TextEncoder();
const dec = new TextDecoder();

const downstream: DownstreamRequest = {
  id: 'req1',
  method: 'GET',
  uri: 'http://localhost/ws',
  version: 'http11',
  headers: [
    ['host', enc.encode('localhost')],
    ['upgrade', enc.encode('websocket')],
    ['x-client', enc.encode('original')],
  ],
  originalHeaderNames: ['Host', 'Upgrade', 'X-Client'],
  body: 7,
  knownLength: 0n,
};

/** A session whose main thread is simulated: calls answer from `answer`, notices are kept. */
function fakeSession(config: HostConfig = emptyHostConfig(), answer: (call: SyncCall) => SyncReply = (call) => ({ op: 'wait', index: call.op === 'wait' ? 0 : null }) as SyncReply) {
  const notices: Notice[] = [];
  const calls: SyncCall[] = [];
  const channel = {
    call: (call: SyncCall) => (calls.push(call), answer(call)),
    notify: (notice: Notice) => notices.push(notice),
  } as unknown as MainChannel;
  return { session: new Session(channel, config, downstream), notices, calls, channel };
}

/** A backend handle of the session (the class handoffs go through). */
function backendFor(session: Session, name = 'o') {
  return new Backend(session, { name, url: 'http://127.0.0.1:9', useSni: true, dynamic: false, connectTimeoutMs: 1, firstByteTimeoutMs: 1, betweenBytesTimeoutMs: 1 });
}

describe('http-downstream.next-request / await-request', () => {
  it('registers with the main thread (timeout capped at 10 s), then waits for and takes none in one call', () => {
    const { session, calls, notices } = fakeSession(emptyHostConfig(), (call) => (call.op === 'wait' ? { op: 'wait', index: 0 } : { op: 'await-request' }) as SyncReply);
    const api = httpDownstream(session);
    const before = Date.now();
    const pending = api.nextRequest({ timeoutMs: 60_000n });
    expect(pending.deadline - before).toBeGreaterThanOrEqual(10_000);
    expect(pending.deadline - before).toBeLessThan(10_100);
    expect(notices).toEqual([{ op: 'next-request', timeoutMs: 10_000, served: 0, ageMs: 0, memoryBytes: 0 }]);
    expect(pending.readiness()).toEqual({ nextRequest: pending.deadline });
    expect(payload(() => api.nextRequest({}))).toEqual({ tag: 'limit-exceeded' });
    // Viceroy refuses to accept another request before this one is answered; the pending
    // request, which the guest gave away (own), is abandoned so that it may ask again.
    expect(payload(() => api.awaitRequest(pending))).toEqual({ tag: 'unsupported' });
    expect(notices.map((notice) => notice.op)).toEqual(['next-request', 'next-request-abandon']);
    expect(session.pendingDownstream).toBeUndefined();
    expect(payload(() => api.awaitRequest(pending))).toEqual({ tag: 'invalid-argument' });
    const again = api.nextRequest({ timeoutMs: 60_000n });
    session.responded = true;
    expect(api.awaitRequest(again)).toBeUndefined();
    expect(calls).toEqual([{ op: 'await-request', deadline: again.deadline }]);
    expect(payload(() => api.awaitRequest(again))).toEqual({ tag: 'invalid-argument' });
  });

  it('binds the request the main thread hands over to the same session: a fresh response, counted', () => {
    const next: DownstreamRequest = { ...downstream, id: 'second', uri: 'http://example.com/next' };
    const { session } = fakeSession(emptyHostConfig(), (call) => (call.op === 'wait' ? { op: 'wait', index: 0 } : { op: 'await-request', next: { request: next, env: { FASTLY_TRACE_ID: 'second' } } }) as SyncReply);
    const bound: Array<[string, string | undefined]> = [];
    session.rebind = (request, env) => {
      session.begin(request);
      bound.push([request.id, env.FASTLY_TRACE_ID]);
    };
    session.begin(downstream);
    session.responded = true;
    const api = httpDownstream(session);
    const taken = api.awaitRequest(api.nextRequest({ timeoutMs: 5n }));
    expect(taken).toBeDefined();
    const [request, body] = taken!;
    expect(request).toBeInstanceOf(Request);
    expect(body).toBeInstanceOf(Body);
    expect(request.downstream?.uri).toBe('http://example.com/next');
    expect(bound).toEqual([['second', 'second']]);
    expect(session.downstream?.id).toBe('second');
    expect(session.responded).toBe(false);
    expect(session.served).toBe(2);
  });

  it('dropping the pending request abandons it (a notice); a taken one is not abandoned', () => {
    const { session, notices } = fakeSession(emptyHostConfig(), (call) => (call.op === 'wait' ? { op: 'wait', index: 0 } : { op: 'await-request' }) as SyncReply);
    const api = httpDownstream(session);
    const pending = api.nextRequest({});
    pending[dispose]();
    expect(notices.map((notice) => notice.op)).toEqual(['next-request', 'next-request-abandon']);
    expect(session.pendingDownstream).toBeUndefined();
    session.responded = true;
    const taken = api.nextRequest({});
    api.awaitRequest(taken);
    taken[dispose]();
    expect(notices.map((notice) => notice.op)).toEqual(['next-request', 'next-request-abandon', 'next-request']);
    expect(taken).toBeInstanceOf(PendingDownstreamRequest);
  });

  it('answers as Viceroy where it has nothing: fingerprints are missing metadata, visit counts unsupported', () => {
    const { session } = fakeSession();
    const api = httpDownstream(session);
    const request = Request.fromDownstream(downstream);
    expect(payload(() => api.downstreamClientH2Fingerprint(request))).toEqual({ tag: 'generic-error' });
    expect(payload(() => api.downstreamClientOhFingerprint(request))).toEqual({ tag: 'generic-error' });
    expect(payload(() => api.downstreamVisitsThisService())).toEqual({ tag: 'unsupported' });
  });
});

describe('http-resp pending responses', () => {
  const ok: AwaitedResponse = { ok: { status: 200, version: 'http11', headers: [['x-origin', enc.encode('1')], ['x-drop', enc.encode('a')]], body: 3 } };

  it('applies response edits to the response the guest awaits, error edits only to the error response', () => {
    const { session, channel } = fakeSession(emptyHostConfig(), () => ({ op: 'await-response', result: ok }) as SyncReply);
    const req = httpReq(session);
    const resp = httpResp(session);
    const pending = req.sendAsync(Request.new(), Body.fromBytes(channel, new Uint8Array()), backendFor(session));
    resp.insertHeaderPending(pending, 'x-added', enc.encode('yes'), 'any');
    resp.appendHeaderPending(pending, 'x-origin', enc.encode('2'), 'response');
    resp.removeHeaderPending(pending, 'x-drop', 'response');
    resp.insertHeaderPending(pending, 'x-error-only', enc.encode('e'), 'error');
    expect(payload(() => resp.insertHeaderPending(pending, 'bad name', enc.encode('v'), 'any'))).toEqual({ tag: 'invalid-argument' });
    const [response] = req.awaitResponse(pending);
    expect(response.headers.list().map(([name, value]) => `${name}=${dec.decode(value)}`)).toEqual(['x-origin=1', 'x-added=yes', 'x-origin=2']);
  });

  it('send-downstream-pending hands the pending response and both edit lists to the main thread, once', () => {
    const { session, notices, channel } = fakeSession();
    const req = httpReq(session);
    const resp = httpResp(session);
    const backend = backendFor(session);
    const pending = req.sendAsync(Request.new(), Body.fromBytes(channel, new Uint8Array()), backend);
    resp.removeHeaderPending(pending, 'x-a', 'error');
    resp.sendDownstreamPending(pending);
    expect(notices.at(-1)).toEqual({ op: 'respond-pending', pending: 1, responseEdits: [], errorEdits: [{ op: 'remove', name: 'x-a' }] });
    expect(payload(() => resp.sendDownstream(Response.new(), Body.fromBytes(channel, new Uint8Array())))).toEqual({ tag: 'http-user' });
    expect(payload(() => req.awaitResponse(pending))).toEqual({ detail: undefined, error: { tag: 'invalid-argument' } });
  });

  it('asks for gzip decoding only when the guest set auto-decompress', () => {
    const { session, notices, channel } = fakeSession();
    const req = httpReq(session);
    const backend = backendFor(session);
    const request = Request.new();
    req.sendAsync(request, Body.fromBytes(channel, new Uint8Array()), backend);
    request.setAutoDecompressResponse({ gzip: true });
    req.sendAsync(request, Body.fromBytes(channel, new Uint8Array()), backend);
    expect(notices.map((notice) => notice.op === 'send-request' && notice.decompressGzip)).toEqual([false, true]);
  });
});

describe('handoffs (redirect-to-websocket-proxy / grip) and upgrade-websocket', () => {
  it('hands the guest request off with the protected headers of the original and its body', () => {
    const { session, notices } = fakeSession();
    const backend = backendFor(session, 'ws');
    const request = Request.fromDownstream(downstream);
    request.setUri('/socket?x=1');
    request.insertHeader('upgrade', enc.encode('guest-changed'));
    request.insertHeader('x-client', enc.encode('guest'));
    request.redirectToWebsocketProxy(backend);
    const notice = notices.at(-1) as Extract<Notice, { op: 'handoff' }>;
    expect(notice.uri).toBe('/socket?x=1');
    expect(notice.head.headers.map(([name, value]) => `${name}=${dec.decode(value)}`)).toEqual(['x-client=guest', 'upgrade=websocket']);
    expect(notice.body).toEqual({ segments: [{ source: 7 }], knownLength: 0n });
    expect(payload(() => request.redirectToGripProxy(backend))).toEqual({ tag: 'generic-error' });
    expect(payload(() => httpReq(session).upgradeWebsocket())).toEqual({ tag: 'generic-error' });
  });

  it('grip proxying becomes a notice naming the backend', () => {
    const { session, notices } = fakeSession();
    Request.new().redirectToGripProxy(backendFor(session, 'pushpin'));
    expect(notices).toEqual([{ op: 'handoff-grip', backend: 'pushpin' }]);
    expect(payload(() => Request.new().redirectToGripProxy({} as never))).toEqual({ tag: 'invalid-argument' });
  });
});

describe('security.inspect', () => {
  const { session, channel } = fakeSession();
  const body = Body.fromBytes(channel, new Uint8Array());
  const request = Request.fromDownstream(session.downstream!);

  it("answers Viceroy's mock verdict, within the buffer", () => {
    const verdict = security().inspect(request, body, { corp: 'c', workspace: 'w' }, 1024n);
    expect(JSON.parse(verdict)).toEqual({ waf_response: 200, redirect_url: '', tags: [], verdict: 'allow', decision_ms: 0 });
    expect(payload(() => security().inspect(request, body, { corp: 'c', workspace: 'w' }, 10n))).toEqual({ tag: 'buffer-len', val: BigInt(verdict.length) });
  });

  it('needs a corp and a workspace', () => {
    expect(payload(() => security().inspect(request, body, { workspace: 'w' }, 1024n))).toEqual({ tag: 'invalid-argument' });
    expect(payload(() => security().inspect(request, body, { corp: '', workspace: 'w' }, 1024n))).toEqual({ tag: 'invalid-argument' });
  });
});

describe('shielding', () => {
  const config = parseFastlyToml(
    `[local_server.shielding_sites]
pdx-or-us = "Local"
[local_server.shielding_sites.bfi-wa-us]
unencrypted = "http://127.0.0.1:8081"
encrypted = "https://127.0.0.1:8443/"
`,
    'fastly.toml',
    () => {},
  );

  it('reads the sites as Viceroy does and rejects other forms', () => {
    expect(config.shieldingSites).toEqual({ 'pdx-or-us': 'local', 'bfi-wa-us': { unencrypted: 'http://127.0.0.1:8081/', encrypted: 'https://127.0.0.1:8443/' } });
    expect(() => parseFastlyToml('[local_server.shielding_sites]\na = "remote"\n', 'f.toml', () => {})).toThrow(/must be "local"/);
    expect(() => parseFastlyToml('[local_server.shielding_sites.a]\nunencrypted = "http://x"\n', 'f.toml', () => {})).toThrow(/exactly/);
    expect(() => parseFastlyToml('[local_server.shielding_sites.a]\nunencrypted = "http://x"\nencrypted = "nope"\n', 'f.toml', () => {})).toThrow(/invalid URL/);
  });

  it('shield-info: running-on flag, then both URLs NUL-terminated', () => {
    const api = shielding(fakeSession(config).session);
    expect(api.shieldInfo('pdx-or-us', 64n)).toBe('\x01\0\0');
    expect(api.shieldInfo('bfi-wa-us', 256n)).toBe('\0http://127.0.0.1:8081/\0https://127.0.0.1:8443/\0');
    expect(payload(() => api.shieldInfo('nowhere', 64n))).toEqual({ tag: 'invalid-argument' });
    expect(payload(() => api.shieldInfo('bfi-wa-us', 8n))).toEqual({ tag: 'buffer-len', val: 48n });
  });

  it('backend-for-shield registers a backend for the shield URL, of the class jco checks against', () => {
    const { session } = fakeSession(config);
    const api = shielding(session);
    const options = new api.ShieldBackendOptions();
    options.setFirstByteTimeout(1234);
    const backend = api.backendForShield('http://127.0.0.1:8081/', options);
    // What the glue checks: `instanceof` the class it was given for `backend`.
    expect(backend instanceof (backendInterface(session).Backend as unknown as typeof Backend)).toBe(true);
    expect(backend.getName()).toBe('******http://127.0.0.1:8081/*****');
    expect(backend.spec).toMatchObject({ url: 'http://127.0.0.1:8081/', useSni: false, firstByteTimeoutMs: 1234, betweenBytesTimeoutMs: 10_000 });
    expect(backendInterface(session).Backend.open(backend.getName()).spec).toBe(backend.spec);
    // Viceroy registers the name once per sandbox.
    expect(payload(() => api.backendForShield('http://127.0.0.1:8081/', undefined))).toEqual({ tag: 'generic-error' });
    expect(payload(() => api.backendForShield('not a url', undefined))).toEqual({ tag: 'invalid-argument' });
  });
});

describe('dynamic backend client certificates', () => {
  const cert = readFileSync(join(tls, 'client.crt'), 'utf8');
  const key = readFileSync(join(tls, 'client.key'));
  const secret = (bytes: Uint8Array) => ({ plaintext: () => bytes });

  function register(certText: string, keyBytes: Uint8Array) {
    const { session } = fakeSession();
    const api = backendInterface(session);
    const options = new api.DynamicBackendOptions();
    options.useTls(true);
    options.clientCert(certText, secret(keyBytes));
    return () => api.registerDynamicBackend('mtls', '127.0.0.1:8443', options);
  }

  it('takes the certificate and the key from a secret', () => {
    const backend = register(cert, key)();
    expect(backend.spec.clientCert?.cert).toContain('BEGIN CERTIFICATE');
    expect(backend.spec.clientCert?.key).toContain('PRIVATE KEY');
  });

  it('refuses registration without a certificate or with no single private key', () => {
    expect(payload(register('not pem', key))).toEqual({ tag: 'generic-error' });
    expect(payload(register(cert, enc.encode('nothing')))).toEqual({ tag: 'generic-error' });
    expect(payload(register(`${cert}\n${key}`, key))).toEqual({ tag: 'generic-error' });
  });
});

describe('image optimizer and trailers', () => {
  it('image optimizer answers unsupported, as Viceroy', () => {
    expect(payload(() => imageOptimizer().sendToImageOptimizer())).toEqual({ tag: 'unsupported' });
  });

  it('incoming trailers: not available until the body is read, then those the stream ended with', () => {
    const replies: SyncReply[] = [
      { op: 'read', bytes: enc.encode('abc') },
      { op: 'read', end: true, trailers: [['x-checksum', enc.encode('42')]] },
    ];
    const { session, channel } = fakeSession(emptyHostConfig(), () => replies.shift()!);
    const api = httpBody(session);
    const body = Body.fromSource(channel, 3, 3n);
    expect(payload(() => api.getTrailerNames(body, 100n, 0))).toEqual({ tag: 'not-available-yet' });
    expect(dec.decode(api.read(body, 10))).toBe('abc');
    expect(body.knownLength()).toBe(0n);
    expect(api.read(body, 10)).toHaveLength(0);
    expect(api.getTrailerNames(body, 100n, 0)).toEqual(['x-checksum\0', undefined]);
    expect(dec.decode(api.getTrailerValue(body, 'X-Checksum', 100n)!)).toBe('42');
  });

  it('appending a body that holds a main-side stream to a streaming body pipes the stream after the bytes', () => {
    const { channel, notices } = fakeSession();
    const streaming = Body.fromBytes(channel, enc.encode('a'));
    streaming.startStreaming();
    const src = Body.fromBytes(channel, enc.encode('b'));
    src.append(Body.fromSource(channel, 4, undefined));
    streaming.append(src);
    expect(notices.map((notice) => notice.op)).toEqual(['sink-write', 'sink-pipe']);
    expect(notices[1]).toEqual({ op: 'sink-pipe', sink: expect.any(Number), source: 4 });
  });

  it('a body transferred whole keeps the length its origin promised', () => {
    const { channel } = fakeSession();
    expect(Body.fromSource(channel, 3, 99n).transfer()).toEqual({ segments: [{ source: 3 }], knownLength: 99n });
  });
});
