/**
 * Security defaults (issue 11): serve listens on loopback unless told otherwise; a guest sees no
 * host files and no host environment beyond the platform's FASTLY_* variables; requests over the
 * platform's header / URL sizes, or over the body limit, are refused with 431 / 414 / 413.
 * (Unconfigured backends: compat-c's "an unknown backend is an invalid argument".)
 */
import http from 'node:http';
import net from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildProgram } from '../src/cli/main.js';
import { PLATFORM_REQUEST_LIMITS } from '../src/server/limits.js';
import { compileSources, startServe, type ServeProcess } from './fixtures/components/harness.js';

const sandbox = join(import.meta.dirname, 'fixtures/c/sandbox.wasm');
const BODY_LIMIT = 4096;
let serve: ServeProcess;

beforeAll(async () => {
  serve = await startServe(await compileSources(), sandbox, ['--max-body', String(BODY_LIMIT)], { WITSHIM_TEST_SECRET: 'hunter2' });
}, 180_000);

afterAll(async () => {
  await serve?.stop();
});

/** A raw request, so sizes and framing are exactly as written; resolves with the status line's code. */
function rawStatus(head: string, body = ''): Promise<number> {
  const { port } = new URL(serve.url);
  return new Promise((resolve, reject) => {
    // Written, not ended: the server closes the connection once it answered (connection: close, or a refusal).
    const socket = net.connect(Number(port), '127.0.0.1', () => socket.write(head + body));
    let answer = '';
    socket.on('data', (chunk) => (answer += chunk.toString('latin1')));
    socket.on('error', () => {});
    socket.on('close', () => {
      const match = /^HTTP\/1\.1 (\d{3})/.exec(answer);
      match ? resolve(Number(match[1])) : reject(new Error(`no status line in ${JSON.stringify(answer.slice(0, 200))}`));
    });
  });
}

describe('security defaults', () => {
  it('serve listens on 127.0.0.1 unless told otherwise', () => {
    const serveCommand = buildProgram().commands.find((command) => command.name() === 'serve')!;
    expect(serveCommand.options.find((option) => option.long === '--addr')!.defaultValue).toBe('127.0.0.1:7676');
    expect(serve.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });

  it('a guest sees only the FASTLY_* environment, not the host one', async () => {
    const text = await (await fetch(`${serve.url}/env`)).text();
    const lines = text.trim().split('\n');
    expect(lines.length).toBeGreaterThan(3);
    for (const line of lines) expect(line).toMatch(/^FASTLY_[A-Z_]+=/);
    expect(text).not.toContain('hunter2');
    expect(text).not.toContain(process.env.HOME ?? '/root');
  });

  it('a guest opens no host file or directory', async () => {
    const lines = (await (await fetch(`${serve.url}/files`)).text()).trim().split('\n');
    expect(lines).toHaveLength(6);
    for (const line of lines) expect(line).not.toMatch(/: opened$/);
  });

  it(`a header over ${PLATFORM_REQUEST_LIMITS.headerBytes} bytes is 431, one just under is served`, async () => {
    const near = PLATFORM_REQUEST_LIMITS.headerBytes - 'x-big'.length;
    expect(await rawStatus(`GET /env HTTP/1.1\r\nhost: a\r\nx-big: ${'a'.repeat(near)}\r\nconnection: close\r\n\r\n`)).toBe(200);
    expect(await rawStatus(`GET /env HTTP/1.1\r\nhost: a\r\nx-big: ${'a'.repeat(near + 1)}\r\nconnection: close\r\n\r\n`)).toBe(431);
    await serve.waitForLine(/"GET \/env" 431 \(header x-big is longer than/);
  });

  it("a head beyond Node's parser limit is 431 too, not a reset connection", async () => {
    const many = Array.from({ length: 40 }, (_, i) => `x-h${i}: ${'b'.repeat(8000)}\r\n`).join('');
    expect(await rawStatus(`GET /env HTTP/1.1\r\nhost: a\r\n${many}\r\n`)).toBe(431);
  });

  it(`a request target over ${PLATFORM_REQUEST_LIMITS.urlBytes} bytes is 414`, async () => {
    expect(await rawStatus(`GET /env?${'q'.repeat(PLATFORM_REQUEST_LIMITS.urlBytes)} HTTP/1.1\r\nhost: a\r\nconnection: close\r\n\r\n`)).toBe(414);
  });

  it('a body over --max-body is 413 when declared; read by the guest without a length, the read fails at the limit', async () => {
    expect(await rawStatus(`POST /read HTTP/1.1\r\nhost: a\r\ncontent-length: ${BODY_LIMIT + 1}\r\nconnection: close\r\n\r\n`, 'x'.repeat(BODY_LIMIT + 1))).toBe(413);
    const fits = await fetch(`${serve.url}/read`, { method: 'POST', body: 'x'.repeat(BODY_LIMIT) });
    expect(await fits.text()).toBe(`read ${BODY_LIMIT} bytes\n`);
    // Chunked: no length to refuse up front.
    const chunked = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = http.request(`${serve.url}/read`, { method: 'POST' }, (res) => {
        let text = '';
        res.on('data', (chunk) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode!, text }));
      });
      req.on('error', reject);
      for (let i = 0; i < 4; i++) req.write('y'.repeat(BODY_LIMIT / 2));
      req.end();
    });
    expect(chunked.status).toBe(400);
    expect(chunked.text).toMatch(/^read failed after \d+ bytes: status \d+\n$/);
    // And the server goes on.
    expect((await fetch(`${serve.url}/env`)).status).toBe(200);
  });
});
