/**
 * Failing backends (issue 11, item 5 of the issue): each failure reaches the guest as the ABI's
 * send error with its detail (test/fixtures/c/proxy.c reports `send_v2: status S detail T`, T the
 * WITX `send_error_detail_tag`), the server keeps serving, and no sockets are left open. Timeouts
 * come from fastly.toml's backend keys; no test waits on a wall clock, the origins never answer.
 */
import { readFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import tls from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseFastlyToml } from '../src/server/config.js';
import { compileSources, startServe, type ServeProcess } from './fixtures/components/harness.js';
import { closedPort } from './support/serve-harness.js';

/** WITX `send_error_detail_tag` values. */
const DETAIL = { connectionRefused: 7, connectionTerminated: 8, tlsCertificateError: 11, httpResponseTimeout: 16, httpProtocolError: 19, tlsProtocolError: 24 } as const;

const proxy = join(import.meta.dirname, 'fixtures/c/proxy.wasm');
const servers: Array<net.Server> = [];
/** Every socket the origins accepted, to check each was closed. */
const accepted: net.Socket[] = [];
let serve: ServeProcess;

function listen(server: net.Server): Promise<number> {
  servers.push(server);
  server.on('connection', (socket: net.Socket) => accepted.push(socket));
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as net.AddressInfo).port)));
}

/** A raw TCP origin: `onRequest` gets the socket once the request head arrived. */
const rawOrigin = (onRequest: (socket: net.Socket) => void) =>
  listen(
    net.createServer((socket) => {
      let head = '';
      socket.on('error', () => {});
      socket.on('data', (chunk) => {
        if (head.includes('\r\n\r\n')) return;
        head += chunk.toString('latin1');
        if (head.includes('\r\n\r\n')) onRequest(socket);
      });
    }),
  );

async function get(path: string): Promise<{ status: number; text: string; complete: boolean }> {
  return new Promise((resolve, reject) => {
    http
      // A connection per request (no keep-alive), so open sockets count only what the server holds.
      .get(`${serve.url}${path}`, { agent: false }, (res) => {
        let text = '';
        res.setEncoding('latin1');
        res.on('data', (chunk: string) => (text += chunk));
        const done = () => resolve({ status: res.statusCode!, text, complete: res.complete });
        res.on('end', done);
        res.on('error', done);
        res.on('aborted', done);
      })
      .on('error', reject);
  });
}

async function statsLine(): Promise<Record<string, number>> {
  const count = serve.stdout.filter((line) => line.startsWith('stats ')).length;
  while (serve.stdout.filter((line) => line.startsWith('stats ')).length <= count) await new Promise((resolve) => setTimeout(resolve, 50));
  const line = serve.stdout.filter((l) => l.startsWith('stats ')).at(-1)!;
  return Object.fromEntries(line.slice(6).split(' ').map((pair) => pair.split('=')).map(([name, value]) => [name!, Number(value)]));
}

beforeAll(async () => {
  const tlsDir = join(import.meta.dirname, 'fixtures/tls');
  const plain = await listen(http.createServer((req, res) => (req.url?.startsWith('/hang') ? undefined : res.end('fine'))));
  const stall = await rawOrigin((socket) => socket.write('HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nfirst bytes'));
  const resetMidBody = await rawOrigin((socket) => {
    socket.write('HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\npartial');
    setTimeout(() => socket.resetAndDestroy(), 50);
  });
  const resetEarly = await rawOrigin((socket) => socket.resetAndDestroy());
  const garbage = await rawOrigin((socket) => socket.end('SPAM SPAM SPAM\r\n\r\n'));
  const selfSigned = await listen(
    tls.createServer({ cert: readFileSync(join(tlsDir, 'server.crt')), key: readFileSync(join(tlsDir, 'server.key')) }, (socket) => socket.end('HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n')),
  );
  const toml = join(mkdtempSync(join(tmpdir(), 'witshim-backends-')), 'fastly.toml');
  const backend = (name: string, url: string, extra = '') => `[local_server.backends.${name}]\nurl = "${url}"\n${extra}`;
  writeFileSync(
    toml,
    [
      backend('refused', `http://127.0.0.1:${await closedPort()}`),
      backend('hang', `http://127.0.0.1:${plain}`, 'first_byte_timeout_ms = 300\n'),
      backend('stall', `http://127.0.0.1:${stall}`, 'between_bytes_timeout_ms = 300\n'),
      backend('reset_mid_body', `http://127.0.0.1:${resetMidBody}`),
      backend('reset_early', `http://127.0.0.1:${resetEarly}`),
      backend('garbage', `http://127.0.0.1:${garbage}`),
      backend('not_tls', `https://127.0.0.1:${plain}`),
      backend('untrusted', `https://127.0.0.1:${selfSigned}`),
      backend('fine', `http://127.0.0.1:${plain}`),
    ].join(''),
  );
  serve = await startServe(await compileSources(), proxy, ['-C', toml, '--stats', '1']);
}, 180_000);

afterAll(async () => {
  await serve?.stop();
  for (const server of servers) server.close();
});

describe('failing backends', () => {
  const cases: Array<[name: string, path: string, detail: number]> = [
    ['connection refused', '/?backend=refused&v2=1', DETAIL.connectionRefused],
    ['reset before the response', '/?backend=reset_early&v2=1', DETAIL.connectionTerminated],
    ['no first byte within first_byte_timeout_ms', '/hang?backend=hang&v2=1', DETAIL.httpResponseTimeout],
    ['invalid HTTP', '/?backend=garbage&v2=1', DETAIL.httpProtocolError],
    ['TLS to a backend that does not speak it', '/?backend=not_tls&v2=1', DETAIL.tlsProtocolError],
    ['a certificate no CA vouches for', '/?backend=untrusted&v2=1', DETAIL.tlsCertificateError],
  ];
  for (const [name, path, detail] of cases) {
    it(`${name}: the guest gets send_v2's error with detail ${detail}`, async () => {
      expect(await get(path)).toEqual({ status: 502, text: `send_v2: status 1 detail ${detail}\n`, complete: true });
      expect((await get('/?backend=fine')).text).toBe('fine');
    });
  }

  it('a body that stalls past between_bytes_timeout_ms, or is reset midway, ends the response incomplete', async () => {
    const stalled = await get('/?backend=stall');
    expect(stalled).toMatchObject({ status: 200, complete: false });
    expect(stalled.text).toBe('first bytes');
    const reset = await get('/?backend=reset_mid_body');
    expect(reset).toMatchObject({ status: 200, complete: false });
    expect((await get('/?backend=fine')).text).toBe('fine');
  });

  it('leaves no sockets open: twenty rounds of every failure later, the file descriptors are where they were', async () => {
    const round = () => Promise.all([...cases.map(([, path]) => get(path)), get('/?backend=stall'), get('/?backend=reset_mid_body')]);
    await round();
    const before = await statsLine();
    for (let index = 0; index < 20; index++) await round();
    // Every connection an origin accepted was closed by the server's side.
    const deadline = Date.now() + 20_000;
    while (accepted.some((socket) => !socket.destroyed) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
    expect(accepted.filter((socket) => !socket.destroyed).length).toBeLessThanOrEqual(1);
    const after = await statsLine();
    expect(after.inflight).toBe(0);
    // 160 failed exchanges; a leak of one socket each would show far beyond this slack.
    expect(after.sockets - before.sockets).toBeLessThan(5);
    // Descriptors grow only with the worker threads (event loop descriptors of their own), if at all.
    if (after.workers === before.workers) expect(after.fds - before.fds).toBeLessThan(5);
  }, 120_000);
});

describe('fastly.toml backend timeouts and health', () => {
  it('reads connect / first-byte / between-bytes timeouts and health; refuses bad values', () => {
    const config = parseFastlyToml(
      '[local_server.backends.a]\nurl = "http://x"\nconnect_timeout_ms = 50\nfirst_byte_timeout_ms = 60\nbetween_bytes_timeout_ms = 70\nhealth = "unhealthy"\n',
      'fastly.toml',
      (message) => expect.unreachable(message),
    );
    expect(config.backends.a).toMatchObject({ connectTimeoutMs: 50, firstByteTimeoutMs: 60, betweenBytesTimeoutMs: 70, health: 'unhealthy' });
    expect(() => parseFastlyToml('[local_server.backends.a]\nurl = "http://x"\nfirst_byte_timeout_ms = -1\n', 'fastly.toml', () => {})).toThrow(/first_byte_timeout_ms\] expected a positive whole number/);
    expect(() => parseFastlyToml('[local_server.backends.a]\nurl = "http://x"\nhealth = "fine"\n', 'fastly.toml', () => {})).toThrow(/health\] expected one of "healthy", "unhealthy", "unknown"/);
  });
});
