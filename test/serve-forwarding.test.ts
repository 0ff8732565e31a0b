import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { connect, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_TIMEOUTS, type BackendSpec } from '../src/host/config.js';
import type { AwaitedResponse, Notice, SyncCall, SyncReply } from '../src/host/protocol.js';
import { startBackendRequest } from '../src/server/backend-client.js';
import { parseFastlyToml } from '../src/server/config.js';
import type { Logger } from '../src/server/logger.js';
import { RequestHost } from '../src/server/request-host.js';
import { closedPort, getWithTrailers } from './support/serve-harness.js';

/**
 * The main-thread side of forwarding over real sockets: a downstream server whose requests are
 * driven by a script standing in for the guest's notices and calls, and a loopback origin.
 */
const tls = join(import.meta.dirname, 'fixtures/tls');
const enc = new TextEncoder();
const dec = new TextDecoder();
const errors: string[] = [];
const logger: Logger = { info() {}, error: (line) => errors.push(line), guestOutput() {}, endpoint() {} };

let origin: http.Server;
let secureOrigin: https.Server;
let downstream: http.Server;
let originSpec: BackendSpec;
let script: (guest: Guest) => Promise<void>;
/** Settles when the origin's last connection that switched protocols closed. */
let switchedOrigin: Promise<unknown> | undefined;

interface Guest {
  host: RequestHost;
  /** The downstream request body's source id. */
  source: number;
  call(call: SyncCall): Promise<SyncReply>;
  notify(notice: Notice): void;
}

function listen<T extends http.Server | https.Server>(server: T): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

beforeAll(async () => {
  origin = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      if (req.url === '/fixed') {
        res.writeHead(203, { 'content-length': '11', 'x-drop': 'a', 'x-origin': '1' });
        res.end('fixed reply');
      } else if (req.url === '/gzip') {
        const zipped = gzipSync('decoded text');
        res.writeHead(200, { 'content-encoding': 'gzip', 'content-length': String(zipped.length) });
        res.end(zipped);
      } else if (req.url === '/echo-trailers') {
        res.end(JSON.stringify({ body, trailers: req.trailers, declared: req.headers.trailer ?? null, encoding: req.headers['transfer-encoding'] ?? null }));
      } else if (req.url === '/trailers') {
        res.writeHead(200, { trailer: 'x-checksum' });
        res.write('with trailers');
        res.addTrailers({ 'x-checksum': '42' });
        res.end();
      } else {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end(`${req.method} ${req.url} host=${req.headers.host} upgrade=${req.headers.upgrade} x-client=${req.headers['x-client']} length=${req.headers['content-length']} body=${body}`);
      }
    });
  });
  origin.on('upgrade', (_req, socket: import('node:stream').Duplex) => {
    socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
    socket.on('end', () => socket.end());
    switchedOrigin = new Promise((resolve) => socket.once('close', resolve));
  });
  const key = readFileSync(join(tls, 'server.key'));
  const cert = readFileSync(join(tls, 'server.crt'));
  const ca = readFileSync(join(tls, 'ca.crt'));
  secureOrigin = https.createServer({ key, cert, ca, requestCert: true, rejectUnauthorized: true }, (req, res) => {
    const peer = (req.socket as import('node:tls').TLSSocket).getPeerCertificate();
    res.end(`client ${peer.subject?.CN}`);
  });
  downstream = http.createServer((req, res) => {
    const waiting: Array<(reply: SyncReply) => void> = [];
    const host = new RequestHost('t', res, (reply) => waiting.shift()!(reply), logger);
    const guest: Guest = {
      host,
      source: host.addSource(req),
      call: (call) => new Promise((resolve) => (waiting.push(resolve), host.handle({ kind: 'call', ...call }))),
      notify: (notice) => host.handle({ kind: 'notice', ...notice }),
    };
    void script(guest).finally(() => host.handle({ kind: 'finished', outcome: 'ok' }));
  });
  const [originPort] = await Promise.all([listen(origin), listen(secureOrigin), listen(downstream)]);
  originSpec = { name: 'origin', url: `http://127.0.0.1:${originPort}`, useSni: true, dynamic: false, ...DEFAULT_TIMEOUTS };
});

afterAll(() => {
  for (const server of [origin, secureOrigin, downstream]) {
    server?.closeAllConnections();
    server?.close();
  }
});

const downstreamUrl = (path: string) => `http://127.0.0.1:${(downstream.address() as AddressInfo).port}${path}`;

function send(guest: Guest, pending: number, uri: string, options: { backend?: BackendSpec; decompressGzip?: boolean } = {}): void {
  const head = { headers: [], version: 'http11' as const, manualFraming: false };
  guest.notify({ op: 'send-request', pending, method: 'GET', uri, head, backend: options.backend ?? originSpec, body: { segments: [] }, decompressGzip: options.decompressGzip ?? false });
}

/** Awaits the response and reads its body to the end, as a guest would. */
async function receive(guest: Guest, pending: number) {
  const { result } = (await guest.call({ op: 'await-response', pending })) as Extract<SyncReply, { op: 'await-response' }>;
  if (!('ok' in result)) throw new Error(result.message);
  let text = '';
  for (;;) {
    const reply = (await guest.call({ op: 'read', source: result.ok.body, max: 4096 })) as Extract<SyncReply, { op: 'read' }>;
    if (reply.end) return { response: result.ok, text, trailers: reply.trailers };
    text += dec.decode(reply.bytes);
  }
}

const headerMap = (result: Extract<AwaitedResponse, { ok: unknown }>) => Object.fromEntries(result.ok.headers.map(([name, value]) => [name, dec.decode(value)]));

describe('forwarding on the main thread', () => {
  it('send-downstream-pending: the origin response streams down with its length and the response edits', async () => {
    script = async (guest) => {
      send(guest, 1, '/fixed');
      guest.notify({
        op: 'respond-pending',
        pending: 1,
        responseEdits: [{ op: 'insert', name: 'x-added', value: enc.encode('yes') }, { op: 'remove', name: 'x-drop' }],
        errorEdits: [{ op: 'insert', name: 'x-error', value: enc.encode('1') }],
      });
    };
    // The guest finishes at once; the response still comes, not a 500.
    const res = await fetch(downstreamUrl('/'));
    expect(res.status).toBe(203);
    expect(res.headers.get('content-length')).toBe('11');
    expect(res.headers.get('x-added')).toBe('yes');
    expect(res.headers.get('x-drop')).toBeNull();
    expect(res.headers.get('x-error')).toBeNull();
    expect(await res.text()).toBe('fixed reply');
  });

  it('send-downstream-pending: a failed backend request becomes a 502 with the error edits', async () => {
    const port = await closedPort();
    script = async (guest) => {
      send(guest, 1, '/', { backend: { ...originSpec, url: `http://127.0.0.1:${port}` } });
      guest.notify({ op: 'respond-pending', pending: 1, responseEdits: [], errorEdits: [{ op: 'append', name: 'x-error', value: enc.encode('1') }] });
    };
    const res = await fetch(downstreamUrl('/'));
    expect(res.status).toBe(502);
    expect(res.headers.get('x-error')).toBe('1');
    expect(await res.text()).toMatch(/ECONNREFUSED/);
  });

  it('auto-decompress: gzip bodies are decoded and lose their encoding and length, only when asked', async () => {
    let decoded: Awaited<ReturnType<typeof receive>> | undefined;
    let raw: Awaited<ReturnType<typeof receive>> | undefined;
    script = async (guest) => {
      send(guest, 1, '/gzip', { decompressGzip: true });
      send(guest, 2, '/gzip');
      decoded = await receive(guest, 1);
      raw = await receive(guest, 2);
      guest.notify({ op: 'respond', status: 204, head: { headers: [], version: 'http11', manualFraming: false }, body: { segments: [] } });
    };
    await (await fetch(downstreamUrl('/'))).text();
    expect(decoded!.text).toBe('decoded text');
    expect(headerMap({ ok: decoded!.response })).not.toHaveProperty('content-encoding');
    expect(headerMap({ ok: decoded!.response })).not.toHaveProperty('content-length');
    expect(decoded!.response.knownLength).toBeUndefined();
    expect(headerMap({ ok: raw!.response })['content-encoding']).toBe('gzip');
    expect(raw!.response.knownLength).toBe(BigInt(gzipSync('decoded text').length));
  });

  it('relays the trailers of a backend response once its body has been read', async () => {
    let received: Awaited<ReturnType<typeof receive>> | undefined;
    script = async (guest) => {
      send(guest, 1, '/trailers');
      received = await receive(guest, 1);
      guest.notify({ op: 'respond', status: 204, head: { headers: [], version: 'http11', manualFraming: false }, body: { segments: [] } });
    };
    await (await fetch(downstreamUrl('/'))).text();
    expect(received!.text).toBe('with trailers');
    expect(received!.trailers?.map(([name, value]) => `${name}=${dec.decode(value)}`)).toEqual(['x-checksum=42']);
  });

  it('a proxied body keeps the length its origin promised', async () => {
    script = async (guest) => {
      send(guest, 1, '/fixed');
      const { result } = (await guest.call({ op: 'await-response', pending: 1 })) as Extract<SyncReply, { op: 'await-response' }>;
      if (!('ok' in result)) throw new Error(result.message);
      guest.notify({ op: 'respond', status: 200, head: { headers: [], version: 'http11', manualFraming: false }, body: { segments: [{ source: result.ok.body }], knownLength: result.ok.knownLength } });
    };
    const res = await fetch(downstreamUrl('/'));
    expect(res.headers.get('content-length')).toBe('11');
    expect(res.headers.get('transfer-encoding')).toBeNull();
    expect(await res.text()).toBe('fixed reply');
  });

  it('a backend body appended to a streaming response follows what was written before it', async () => {
    script = async (guest) => {
      send(guest, 1, '/fixed');
      const { result } = (await guest.call({ op: 'await-response', pending: 1 })) as Extract<SyncReply, { op: 'await-response' }>;
      if (!('ok' in result)) throw new Error(result.message);
      guest.notify({ op: 'respond', status: 200, head: { headers: [], version: 'http11', manualFraming: false }, body: { segments: [enc.encode('before: ')], sink: 9 } });
      guest.notify({ op: 'sink-pipe', sink: 9, source: result.ok.body });
      guest.notify({ op: 'sink-write', sink: 9, bytes: enc.encode(' :after') });
      guest.notify({ op: 'sink-close', sink: 9 });
    };
    expect(await (await fetch(downstreamUrl('/'))).text()).toBe('before: fixed reply :after');
  });

  it('redirect-to-websocket-proxy hands the request and its unread body to the backend, whose answer goes down', async () => {
    script = async (guest) => {
      const headers: Array<[string, Uint8Array]> = [['upgrade', enc.encode('websocket')], ['x-client', enc.encode('guest')]];
      guest.notify({ op: 'handoff', backend: originSpec, method: 'POST', uri: '/socket?x=1', head: { headers, version: 'http11', manualFraming: false }, body: { segments: [{ source: guest.source }], knownLength: 5n } });
    };
    const res = await fetch(downstreamUrl('/ws'), { method: 'POST', body: 'hello' });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe(`POST /socket?x=1 host=${new URL(originSpec.url).host} upgrade=websocket x-client=guest length=5 body=hello`);
  });

  it('a handoff whose backend switches protocols for a client that did not ask to upgrade answers 502 and drops the backend connection', async () => {
    script = async (guest) => {
      const headers: Array<[string, Uint8Array]> = [['connection', enc.encode('upgrade')], ['upgrade', enc.encode('websocket')]];
      guest.notify({ op: 'handoff', backend: originSpec, method: 'GET', uri: '/socket', head: { headers, version: 'http11', manualFraming: false }, body: { segments: [] } });
    };
    const res = await fetch(downstreamUrl('/ws'));
    expect(res.status).toBe(502);
    expect(await res.text()).toBe('The backend switched protocols, but the client did not ask to upgrade.\n');
    await switchedOrigin;
  });

  it('redirect-to-grip-proxy answers 500 as Viceroy does without Pushpin', async () => {
    script = async (guest) => guest.notify({ op: 'handoff-grip', backend: 'pushpin' });
    const res = await fetch(downstreamUrl('/'));
    expect(res.status).toBe(500);
    expect(await res.text()).toBe('Pushpin handoff signaled, but Pushpin mode not enabled.');
  });
});

/** Sends `request` as is on a fresh connection and returns all the server wrote until it closed. */
function rawExchange(request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect((downstream.address() as AddressInfo).port, '127.0.0.1', () => socket.write(request));
    let text = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => (text += chunk));
    socket.on('end', () => resolve(text));
    socket.on('error', reject);
  });
}

const head11 = (headers: Array<[string, Uint8Array]> = []) => ({ headers, version: 'http11' as const, manualFraming: false });

describe('outgoing trailers', () => {
  it('a whole body with trailers goes down chunked, declaring them, with the trailers after it', async () => {
    script = async (guest) => {
      guest.notify({ op: 'respond', status: 200, head: head11(), body: { segments: [enc.encode('whole')], trailers: [['x-sum', enc.encode('7')], ['x-sum', enc.encode('8')], ['x-other', enc.encode('o')]] } });
    };
    const res = await getWithTrailers(downstreamUrl('/'));
    expect(res.headers['content-length']).toBeUndefined();
    expect(res.headers['transfer-encoding']).toBe('chunked');
    expect(res.headers.trailer).toBe('x-sum, x-other');
    expect(res.text).toBe('whole');
    expect(res.trailers).toEqual({ 'x-sum': '7, 8', 'x-other': 'o' });
  });

  it('a streaming response ends with the trailers its sink-close brings', async () => {
    script = async (guest) => {
      guest.notify({ op: 'respond', status: 200, head: head11(), body: { segments: [enc.encode('first ')], sink: 3 } });
      guest.notify({ op: 'sink-write', sink: 3, bytes: enc.encode('second') });
      guest.notify({ op: 'sink-close', sink: 3, trailers: [['x-done', enc.encode('yes')]] });
    };
    const res = await getWithTrailers(downstreamUrl('/'));
    expect(res.text).toBe('first second');
    expect(res.headers.trailer).toBeUndefined();
    expect(res.trailers).toEqual({ 'x-done': 'yes' });
  });

  it('a backend request body carries the guest trailers, chunked whatever the method', async () => {
    let echoed: unknown;
    script = async (guest) => {
      guest.notify({ op: 'send-request', pending: 1, method: 'GET', uri: '/echo-trailers', head: head11(), backend: originSpec, body: { segments: [enc.encode('up')], trailers: [['x-req', enc.encode('1')]] }, decompressGzip: false });
      echoed = JSON.parse((await receive(guest, 1)).text);
      guest.notify({ op: 'send-request', pending: 2, method: 'GET', uri: '/echo-trailers', head: head11(), backend: originSpec, body: { segments: [], sink: 4 }, decompressGzip: false });
      guest.notify({ op: 'sink-write', sink: 4, bytes: enc.encode('streamed') });
      guest.notify({ op: 'sink-close', sink: 4, trailers: [['x-late', enc.encode('2')]] });
      const streamed = JSON.parse((await receive(guest, 2)).text);
      guest.notify({ op: 'respond', status: 200, head: head11(), body: { segments: [enc.encode(JSON.stringify([echoed, streamed]))] } });
    };
    const [whole, streamed] = JSON.parse((await getWithTrailers(downstreamUrl('/'))).text);
    expect(whole).toEqual({ body: 'up', trailers: { 'x-req': '1' }, declared: 'x-req', encoding: 'chunked' });
    expect(streamed).toEqual({ body: 'streamed', trailers: { 'x-late': '2' }, declared: null, encoding: 'chunked' });
  });

  it("a backend response's trailers follow its body downstream, before the guest's own", async () => {
    script = async (guest) => {
      send(guest, 1, '/trailers');
      const { result } = (await guest.call({ op: 'await-response', pending: 1 })) as Extract<SyncReply, { op: 'await-response' }>;
      if (!('ok' in result)) throw new Error(result.message);
      guest.notify({ op: 'respond', status: 200, head: head11(), body: { segments: [{ source: result.ok.body }], trailers: [['x-guest', enc.encode('g')]] } });
    };
    const res = await getWithTrailers(downstreamUrl('/'));
    expect(res.text).toBe('with trailers');
    expect(res.headers.trailer).toBe('x-guest');
    expect(res.trailers).toEqual({ 'x-checksum': '42', 'x-guest': 'g' });
  });

  it('send-downstream-pending relays the origin trailers and their declaration', async () => {
    script = async (guest) => {
      send(guest, 1, '/trailers');
      guest.notify({ op: 'respond-pending', pending: 1, responseEdits: [], errorEdits: [] });
    };
    const res = await getWithTrailers(downstreamUrl('/'));
    expect(res.headers.trailer).toBe('x-checksum');
    expect(res.trailers).toEqual({ 'x-checksum': '42' });
  });

  it('an HTTP/1.0 client gets the body without trailers or their declaration', async () => {
    script = async (guest) => {
      const headers: Array<[string, Uint8Array]> = [['trailer', enc.encode('x-sum')]];
      guest.notify({ op: 'respond', status: 200, head: head11(headers), body: { segments: [enc.encode('old client')], trailers: [['x-sum', enc.encode('7')]] } });
    };
    const text = await rawExchange('GET / HTTP/1.0\r\n\r\n');
    expect(text).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(text).not.toMatch(/trailer|x-sum|chunked/i);
    expect(text.endsWith('\r\n\r\nold client')).toBe(true);
  });
});

describe('client certificates', () => {
  const spec = (): BackendSpec => ({
    name: 'mtls',
    url: `https://127.0.0.1:${(secureOrigin.address() as AddressInfo).port}`,
    useSni: true,
    dynamic: true,
    caCertificate: readFileSync(join(tls, 'ca.crt'), 'utf8'),
    ...DEFAULT_TIMEOUTS,
  });
  const head = { headers: [], version: 'http11' as const, manualFraming: false };

  /** A GET to the backend and its whole body as text. */
  async function getText(backend: Parameters<typeof startBackendRequest>[0]): Promise<string> {
    const exchange = startBackendRequest(backend, 'GET', '/', head, 0);
    exchange.request.end();
    const result = await exchange.response;
    if (!('ok' in result)) throw new Error(result.message);
    const chunks: Buffer[] = [];
    for await (const chunk of result.stream!) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks).toString();
  }

  it('presents the certificate and key to a backend that requires one', async () => {
    const clientCert = { cert: readFileSync(join(tls, 'client.crt'), 'utf8'), key: readFileSync(join(tls, 'client.key'), 'utf8') };
    expect(await getText({ ...spec(), clientCert })).toBe('client witshim test client');
  });

  it("presents a static backend's fastly.toml client_certificate", async () => {
    const toml = `[local_server.backends.mtls]\nurl = "${spec().url}"\nca_certificate = '''\n${spec().caCertificate}'''\nclient_certificate = { certificate_file = "client.crt", key_file = "client.key" }\n`;
    const { mtls } = parseFastlyToml(toml, join(tls, 'fastly.toml'), () => {}).backends;
    expect(await getText(mtls!)).toBe('client witshim test client');
  });

  it('without one the backend refuses the handshake', async () => {
    const exchange = startBackendRequest(spec(), 'GET', '/', head, 0);
    exchange.request.end();
    expect(await exchange.response).toMatchObject({ err: expect.any(String) });
  });
});
