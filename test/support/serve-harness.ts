import { mkdtempSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * The backend the compatibility suites proxy to, on loopback:
 * - `/delay?ms=N` answers 200 `delayed N` after N ms;
 * - `/hang` never answers;
 * - `/held` answers 200 `released` once the test calls `releaseHeld()`;
 * - anything else answers 203 with `x-origin: 1`, what it saw in `x-seen-method` and
 *   `x-seen-forward` (the `x-forward` request header), and a body naming the method, URL, Host
 *   header and the request body's length.
 */
/** Responses to `/held`, parked until `releaseHeld()`. */
const held: http.ServerResponse[] = [];

export function heldCount(): number {
  return held.length;
}

export function releaseHeld(): void {
  for (const res of held.splice(0)) res.end('released');
}

export async function startOrigin(): Promise<{ server: http.Server; port: number }> {
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://origin');
    if (url.pathname === '/hang') return;
    if (url.pathname === '/held') {
      held.push(res);
      return;
    }
    if (url.pathname === '/delay') {
      const ms = Number(url.searchParams.get('ms') ?? 0);
      const timer = setTimeout(() => res.end(`delayed ${ms}`), ms);
      res.on('close', () => clearTimeout(timer));
      return;
    }
    let length = 0;
    req.on('data', (chunk: Buffer) => (length += chunk.length));
    req.on('end', () => {
      res.writeHead(203, {
        'x-origin': '1',
        'x-seen-method': req.method ?? '',
        'x-seen-forward': String(req.headers['x-forward'] ?? ''),
        'content-type': 'text/plain',
      });
      res.end(`origin saw ${req.method} ${req.url} host=${req.headers.host} body=${length}`);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return { server, port: (server.address() as AddressInfo).port };
}

/** Closes the origin, cutting requests it left hanging. */
export function stopOrigin(server: http.Server | undefined): void {
  server?.closeAllConnections();
  server?.close();
}

/** A loopback port nothing listens on (bound, then released). */
export async function closedPort(): Promise<number> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * A fastly.toml in a fresh temp dir: backends `origin` and `closed` (a refused port), a
 * dictionary `dict` (colour = blue), a config store `settings` (greeting = hi there) and a
 * secret store `secrets` (token = s3cret). Returns its path.
 */
export function writeFastlyToml(originPort: number, refusedPort: number): string {
  const dir = mkdtempSync(join(tmpdir(), 'witshim-compat-'));
  const path = join(dir, 'fastly.toml');
  writeFileSync(
    path,
    `manifest_version = 3
[local_server.backends.origin]
url = "http://127.0.0.1:${originPort}"
[local_server.backends.closed]
url = "http://127.0.0.1:${refusedPort}"
[local_server.dictionaries.dict]
format = "inline-toml"
[local_server.dictionaries.dict.contents]
colour = "blue"
[local_server.config_stores.settings]
format = "inline-toml"
[local_server.config_stores.settings.contents]
greeting = "hi there"
[[local_server.secret_stores.secrets]]
key = "token"
data = "s3cret"
`,
  );
  return path;
}

/** A GET the way a client that reads trailers sees the answer. */
export function getWithTrailers(url: string): Promise<{ status: number; headers: http.IncomingHttpHeaders; text: string; trailers: NodeJS.Dict<string> }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, text, trailers: res.trailers }));
      })
      .on('error', reject);
  });
}

/** Streams a GET and times the first byte and the end from when the request started. */
export function timedGet(url: string): Promise<{ status: number; first: number; end: number; chunks: string[] }> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    http
      .get(url, (res) => {
        let first = 0;
        const chunks: string[] = [];
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          if (!first) first = Date.now() - started;
          chunks.push(chunk);
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, first, end: Date.now() - started, chunks }));
        res.on('error', reject);
      })
      .on('error', reject);
  });
}

/**
 * Parks `slow` requests on the origin's `/held` (all of them at once), then runs `fast` ones to
 * completion while those stay parked, then releases them. No clock is involved: a server that
 * could not serve while guests wait would never finish the fast ones, and the test times out.
 */
export async function fastWhileParked(slow: string[], fast: string[]): Promise<{ fast: number[]; slow: number[]; parkedAfterFast: number }> {
  const slowDone = Promise.all(slow.map((url) => fetch(url).then(async (res) => (await res.text(), res.status))));
  while (heldCount() < slow.length) await new Promise((resolve) => setTimeout(resolve, 20));
  const fastStatuses = await Promise.all(fast.map((url) => fetch(url).then(async (res) => (await res.text(), res.status))));
  const parkedAfterFast = heldCount();
  releaseHeld();
  return { fast: fastStatuses, slow: await slowDone, parkedAfterFast };
}
