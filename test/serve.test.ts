import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApp, compileSources, startServe, type ServeProcess } from './fixtures/components/harness.js';
import { closedPort as findClosedPort, getWithTrailers, writeFastlyToml } from './support/serve-harness.js';

let origin: http.Server;
let originPort: number;
let closedPort: number;
let serve: ServeProcess;
const backendSockets: Duplex[] = [];
/** Origin responses to `/held`, waiting until the test releases them. */
const held: http.ServerResponse[] = [];

/** A client's WebSocket handshake (RFC 6455's sample key); resolves with the connection once switched, or the plain response. */
function upgradeTo(path: string): Promise<{ res: http.IncomingMessage; socket?: Duplex }> {
  return new Promise((resolve, reject) => {
    const headers = { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==', 'sec-websocket-version': '13' };
    http
      .request(`${serve.url}${path}`, { headers })
      .on('upgrade', (res, socket) => resolve({ res, socket }))
      .on('response', (res) => resolve({ res }))
      .on('error', reject)
      .end();
  });
}

/** Polls `done` until it holds (the test's own timeout bounds it). */
async function until(done: () => boolean): Promise<void> {
  while (!done()) await new Promise((resolve) => setTimeout(resolve, 20));
}

const closed = (socket: Duplex) => new Promise<void>((resolve) => (socket.destroyed ? resolve() : socket.once('close', () => resolve())));

function startOrigin(): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    if (req.url === '/slow') {
      setTimeout(() => res.end('slow'), 3000);
      return;
    }
    if (req.url === '/hang') return;
    if (req.url === '/held') {
      held.push(res);
      return;
    }
    res.writeHead(203, { 'x-origin': '1', 'x-forward-seen': String(req.headers['x-forward'] ?? ''), 'content-type': 'text/plain' });
    res.end(`origin saw ${req.url} host=${req.headers.host}`);
  });
  // A WebSocket backend stand-in: it accepts any upgrade, then echoes bytes until it gets `close`.
  server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    backendSockets.push(socket);
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nx-seen: ${req.url} ${req.headers['sec-websocket-key']}\r\n\r\n`);
    const echo = (data: Buffer) => (data.toString() === 'close' ? socket.end() : socket.write(data));
    if (head.length > 0) echo(head);
    socket.on('data', echo);
    socket.on('end', () => socket.end());
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

beforeAll(async () => {
  const [app, dist] = await Promise.all([buildTestApp(), compileSources()]);
  origin = await startOrigin();
  originPort = (origin.address() as AddressInfo).port;
  closedPort = await findClosedPort();
  // `/stream` spins 1.5 s of CPU between its writes, past the default --cpu-limit (1000 ms).
  serve = await startServe(dist, app, ['-C', writeFastlyToml(originPort, closedPort), '--cpu-limit', '10000']);
});

afterAll(async () => {
  await serve?.stop();
  origin?.close();
});

describe('witshim serve with a component', () => {
  it('answers hello world with request and response headers', async () => {
    const res = await fetch(`${serve.url}/hello?x=1`, { headers: { 'x-test': 'abc' } });
    expect(res.status).toBe(201);
    expect(res.headers.get('x-hello')).toBe('world');
    expect(res.headers.get('x-echo')).toBe('abc');
    expect(res.headers.get('x-method')).toBe('GET');
    expect(await res.text()).toBe(`hello ${serve.url}/hello?x=1`);
  });

  it('streams a 1 MiB request body back', async () => {
    const payload = Buffer.alloc(1 << 20);
    for (let i = 0; i < payload.length; i++) payload[i] = (i * 31) & 0xff;
    const res = await fetch(`${serve.url}/echo`, { method: 'POST', body: payload });
    expect(res.status).toBe(200);
    expect(Buffer.from(await res.arrayBuffer()).equals(payload)).toBe(true);
  });

  it('proxies to a configured backend', async () => {
    const res = await fetch(`${serve.url}/proxy?path=/a/b%3Fc`, { headers: { 'x-forward': 'fwd' } });
    expect(res.status).toBe(203);
    expect(res.headers.get('x-origin')).toBe('1');
    expect(res.headers.get('x-forward-seen')).toBe('fwd');
    expect(res.headers.get('x-proxied')).toBe('yes');
    expect(await res.text()).toBe(`origin saw /a/b?c host=127.0.0.1:${originPort}`);
  });

  it('reports an unknown backend as not-found', async () => {
    const res = await fetch(`${serve.url}/missing-backend`);
    expect(res.status).toBe(404);
    expect(await res.text()).toContain('not-found');
  });

  it('sends through a dynamic backend', async () => {
    const res = await fetch(`${serve.url}/dynamic?target=127.0.0.1:${originPort}&path=/dyn`);
    expect(res.status).toBe(203);
    expect(await res.text()).toBe(`origin saw /dyn host=127.0.0.1:${originPort}`);
  });

  it('turns a refused connection into send-error-detail', async () => {
    const res = await fetch(`${serve.url}/dynamic?target=127.0.0.1:${closedPort}`);
    expect(res.status).toBe(502);
    expect(await res.text()).toContain('connection-refused');
  });

  it('honours the first-byte timeout', async () => {
    const started = Date.now();
    const res = await fetch(`${serve.url}/dynamic?target=127.0.0.1:${originPort}&path=/hang&fbt=300`);
    expect(res.status).toBe(502);
    expect(await res.text()).toContain('http-response-timeout');
    expect(Date.now() - started).toBeLessThan(2500);
  });

  it('reads config stores and secrets from fastly.toml', async () => {
    const res = await fetch(`${serve.url}/config`);
    expect(await res.json()).toEqual({ greeting: 'hi there', secret: 's3cret', missing: '"not-found"' });
  });

  it('prints log endpoint lines, guest output and an access log line', async () => {
    const res = await fetch(`${serve.url}/log`);
    const info = (await res.json()) as { id: string; ip: unknown };
    expect(info.ip).toEqual({ tag: 'ipv4', val: [127, 0, 0, 1] });
    await serve.waitForLine(/^my-endpoint :: hello from the guest$/);
    await serve.waitForLine(new RegExp(`^\\[${info.id}\\] plain stdout line$`));
    await serve.waitForLine(new RegExp(`^${info.id} "GET /log" 200 `));
  });

  it('answers 500 and logs when the guest sends no response', async () => {
    const res = await fetch(`${serve.url}/silent`);
    expect(res.status).toBe(500);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(serve.stderr.some((line) => /guest finished without sending a response/.test(line))).toBe(true);
  });

  it('keeps serving while guests wait on a slow backend, from the first burst on', async () => {
    // The first burst on a fresh server: workers start in the background, not one per request.
    const burst = await Promise.all(Array.from({ length: 20 }, () => fetch(`${serve.url}/hello`).then((res) => res.status)));
    expect(burst).toEqual(Array(20).fill(201));
    // 10 guests park on a backend that answers only when released below.
    let slowDone = 0;
    const slow = Array.from({ length: 10 }, () =>
      fetch(`${serve.url}/proxy?path=/held`).then(async (res) => {
        await res.text();
        slowDone++;
        return res.status;
      }),
    );
    await until(() => held.length === 10);
    // With 10 guests parked, 10 more requests are served: no wall-clock, the slow ones cannot finish before release.
    const fast = await Promise.all(Array.from({ length: 10 }, () => fetch(`${serve.url}/hello`).then((res) => res.status)));
    expect(fast).toEqual(Array(10).fill(201));
    expect(slowDone).toBe(0);
    for (const res of held.splice(0)) res.end('slow');
    expect(await Promise.all(slow)).toEqual(Array(10).fill(200));
  }, 60_000);

  it('delivers streamed bytes before the guest finishes', async () => {
    const timings = await new Promise<{ first: number; end: number; text: string }>((resolve, reject) => {
      const started = Date.now();
      http.get(`${serve.url}/stream?ms=1500`, (res) => {
        let first = 0;
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          if (!first) first = Date.now() - started;
          text += chunk;
        });
        res.on('end', () => resolve({ first, end: Date.now() - started, text }));
        res.on('error', reject);
      });
    });
    expect(timings.text).toBe('first\nsecond\n');
    expect(timings.end - timings.first).toBeGreaterThan(1000);
  });

  it('sends the trailers the guest appends to a whole or a streamed body', async () => {
    const whole = await getWithTrailers(`${serve.url}/trailers`);
    expect(whole.headers.trailer).toBe('x-sum');
    expect(whole.text).toBe('with trailers');
    expect(whole.trailers).toEqual({ 'x-sum': '1' });
    const streamed = await getWithTrailers(`${serve.url}/trailers?stream=1`);
    expect(streamed.text).toBe('with trailers, streamed');
    expect(streamed.trailers).toEqual({ 'x-sum': '1', 'x-late': '2' });
  });
});

describe('WebSocket handoff (redirect-to-websocket-proxy)', () => {
  it("joins the client's upgrade to the backend's 101: bytes flow both ways, and the backend closing closes the client", async () => {
    const { res, socket } = await upgradeTo('/ws?room=1');
    expect(res.statusCode).toBe(101);
    expect(res.headers.upgrade).toBe('websocket');
    expect(res.headers['x-seen']).toBe('/ws?room=1 dGhlIHNhbXBsZSBub25jZQ==');
    const next = () => new Promise<string>((resolve) => socket!.once('data', (data: Buffer) => resolve(data.toString())));
    socket!.write('ping');
    expect(await next()).toBe('ping');
    socket!.write(Buffer.alloc(100_000, 'x'));
    let echoed = 0;
    await new Promise<void>((resolve) => socket!.on('data', (data: Buffer) => (echoed += data.length) === 100_000 && resolve()));
    socket!.removeAllListeners('data');
    socket!.write('close');
    await closed(socket!);
    await closed(backendSockets.at(-1)!);
    await serve.waitForLine(/"GET \/ws\?room=1" 101 /);
  });

  it('the client closing closes the backend connection', async () => {
    const { socket } = await upgradeTo('/ws');
    socket!.write('ping');
    await new Promise((resolve) => socket!.once('data', resolve));
    socket!.destroy();
    await closed(backendSockets.at(-1)!);
  });

  it('an upgrade request the guest answers itself gets that response, and the connection ends', async () => {
    const { res, socket } = await upgradeTo('/hello');
    expect(socket).toBeUndefined();
    expect(res.statusCode).toBe(201);
    expect(res.headers.connection).toBe('close');
    res.resume();
    await new Promise((resolve) => res.on('end', resolve));
    await closed(res.socket);
  });
});
