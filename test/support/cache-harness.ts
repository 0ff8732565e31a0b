import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { compileSources } from '../fixtures/components/harness.js';

/**
 * An origin whose answers the test controls: `/gate?id=X` is held until `open(X)`; `/signal?id=X`
 * answers at once. Both record their arrival, so a test learns where a guest is without sleeping.
 */
export class GateOrigin {
  private readonly opened = new Set<string>();
  private readonly held = new Map<string, http.ServerResponse[]>();
  private readonly arrivals = new Map<string, { seen: boolean; waiters: Array<() => void> }>();
  readonly server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://origin');
    const id = url.searchParams.get('id') ?? '';
    this.arrive(id);
    if (url.pathname === '/gate' && !this.opened.has(id)) {
      this.held.set(id, [...(this.held.get(id) ?? []), res]);
      return;
    }
    res.end(`${url.pathname} ${id}`);
  });
  port = 0;

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', () => resolve()));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  private record(id: string) {
    let record = this.arrivals.get(id);
    if (!record) this.arrivals.set(id, (record = { seen: false, waiters: [] }));
    return record;
  }

  private arrive(id: string): void {
    const record = this.record(id);
    record.seen = true;
    record.waiters.splice(0).forEach((wake) => wake());
  }

  /** Resolves once a request for gate or signal `id` came in. */
  arrived(id: string): Promise<void> {
    const record = this.record(id);
    return record.seen ? Promise.resolve() : new Promise((resolve) => record.waiters.push(resolve));
  }

  open(id: string): void {
    this.opened.add(id);
    for (const res of this.held.get(id) ?? []) res.end(`/gate ${id}`);
    this.held.delete(id);
  }

  stop(): void {
    this.server.closeAllConnections();
    this.server.close();
  }
}

type CacheStats = { handles: number; keys: number; objects: number; transactions: number; waiting: number; readers: number };

export interface InProcessServe {
  url: string;
  errors: string[];
  /** What the server's cache services hold right now. */
  cacheStats(): CacheStats;
  close(): Promise<void>;
}

/**
 * `witshim serve` in this process, from compiled sources (the workers cannot load TypeScript),
 * so a test can look at the main-side state after its requests.
 */
export async function serveInProcess(app: Uint8Array, fastlyToml: string): Promise<InProcessServe> {
  const dist = await compileSources();
  const load = <T>(path: string) => import(pathToFileURL(join(dist, path)).href) as Promise<T>;
  const [{ startDevServer }, { prepareGuest }, { parseFastlyToml }, { cacheServiceStats }] = await Promise.all([
    load<typeof import('../../src/server/server.js')>('server/server.js'),
    load<typeof import('../../src/server/artifacts.js')>('server/artifacts.js'),
    load<typeof import('../../src/server/config.js')>('server/config.js'),
    load<typeof import('../../src/server/services/cache.js')>('server/services/cache.js'),
  ]);
  const errors: string[] = [];
  const config = parseFastlyToml(fastlyToml, 'fastly.toml', (message) => errors.push(message));
  const artifacts = await prepareGuest(app, join(dist, '..', 'artifacts'));
  const server = await startDevServer({
    artifacts,
    config,
    host: '127.0.0.1',
    port: 0,
    logger: { info() {}, error: (line) => errors.push(line), guestOutput: (_id, _stream, line) => errors.push(line), endpoint() {} },
  });
  return { url: server.url, errors, cacheStats: cacheServiceStats, close: () => server.close() };
}

/** A `fastly.toml` whose backend `origin` is the gate origin. */
export const originToml = (port: number) => `manifest_version = 3
[local_server.backends.origin]
url = "http://127.0.0.1:${port}"
`;

/** Streams a GET: resolves at the first chunk with the rest still coming. */
export function streamGet(url: string): Promise<{ status: number; first: string; rest: Promise<string> }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, (res) => {
        res.setEncoding('utf8');
        let text = '';
        let resolved = false;
        const rest = new Promise<string>((done, fail) => {
          res.on('end', () => done(text));
          res.on('error', fail);
        });
        res.on('data', (chunk: string) => {
          text += chunk;
          if (!resolved) {
            resolved = true;
            resolve({ status: res.statusCode!, first: chunk, rest });
          }
        });
        res.on('end', () => {
          if (!resolved) resolve({ status: res.statusCode!, first: '', rest });
        });
      })
      .on('error', reject);
  });
}
