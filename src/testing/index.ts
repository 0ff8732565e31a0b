/**
 * `witshim/test`: a harness for testing Fastly Compute apps from any test runner. Each server
 * runs the app in worker threads of this process; `fetch` serves a request without a socket,
 * backends can be JavaScript functions, stores are given as objects, the KV stores' and caches'
 * live contents are readable after a request, and each request's log endpoint lines and guest
 * output are captured.
 */
import { DEFAULT_TIMEOUTS, type AclEntry, type BackendSpec, type HostConfig } from '../host/config.js';
import { loadApp, type AppSource } from '../api/app.js';
import { resolveConfig, type ConfigSource } from '../api/config.js';
import { startServerCore, type CoreServer, type Server } from '../api/server.js';
import { functionBackends, type BackendFunction } from '../server/function-backend.js';
import { consoleLogger, type Logger } from '../server/logger.js';
import type { BodyView, CacheObjectView, CoreCacheObjectView, HttpCacheObjectView, KvEntryView } from '../server/services/view.js';

export type { BackendFunction, BodyView, CacheObjectView, CoreCacheObjectView, HttpCacheObjectView, KvEntryView };

/** A backend reached over the network: its URL (as `url` in `fastly.toml`), or that and its options. */
export type UrlBackend = string | { url: string; overrideHost?: string; caCertificate?: string };

/** A KV value: text or bytes, optionally with metadata. */
export type KvValue = string | Uint8Array | { data: string | Uint8Array; metadata?: string };

export interface TestServerOptions {
  /** A `fastly.toml` path or `[local_server]` object to start from; the options below add to it. */
  config?: ConfigSource;
  /** Backends by name: a function answers in process, a URL goes to the network. */
  backends?: Record<string, BackendFunction | UrlBackend>;
  dictionaries?: Record<string, Record<string, string>>;
  configStores?: Record<string, Record<string, string>>;
  secretStores?: Record<string, Record<string, string | Uint8Array>>;
  kvStores?: Record<string, Record<string, KvValue>>;
  /** Geolocation answers by client IP address (`clientAddress` is the one requests come from). */
  geolocation?: Record<string, Record<string, unknown>>;
  acls?: Record<string, AclEntry[]>;
  /** The client address the guest sees (default `127.0.0.1`). */
  clientAddress?: string;
  /** Guest workers (default 1: requests are served one at a time, in order). */
  maxWorkers?: number;
  /** Also print every line as `witshim serve` would (default: captured only). */
  echo?: boolean;
}

/** What one request did, captured while it ran. */
export interface TestRequest {
  id: string;
  method: string;
  url: string;
  /** The response status, once the guest responded. */
  status?: number;
  /** Lines written to log endpoints, in order. */
  logs: Array<{ endpoint: string; line: string }>;
  stdout: string[];
  stderr: string[];
  /** Host problems: traps, backend failures, a missing response. */
  errors: string[];
  /** Settles when the guest is done, which may be after its response was sent. */
  finished: Promise<{ outcome: 'ok' | 'guest-error' | 'trap'; message?: string }>;
}

/**
 * The server's stores: the read-only ones as the objects the host serves from; KV stores as
 * their live contents (what guests inserted, deleted or let expire), copied out on each call.
 */
export interface TestStores {
  dictionary(name: string): Record<string, string> | undefined;
  configStore(name: string): Record<string, string> | undefined;
  secretStore(name: string): Record<string, Uint8Array> | undefined;
  /** The live entries of a KV store, key → entry (in key order); `undefined` when there is no such store. */
  kv(name: string): Record<string, KvEntryView> | undefined;
  geolocation: HostConfig['geolocation'];
  acl(name: string): AclEntry[] | undefined;
}

export interface TestServer extends Server {
  /** Every request served in process, in the order they came. */
  readonly requests: readonly TestRequest[];
  /** The last request served in process. */
  readonly lastRequest: TestRequest | undefined;
  /** Log endpoint lines of all requests so far (of one endpoint when named). */
  logs(endpoint?: string): string[];
  stores: TestStores;
  /** Shorthand for `stores.kv(name)`. */
  kv(name: string): Record<string, KvEntryView> | undefined;
  /** The live contents of the core cache and the HTTP cache. */
  cache: TestCache;
  /** Purges a surrogate key from both caches as the purge API does (soft: marks stale); how many objects it reached. */
  purge(surrogateKey: string, options?: { soft?: boolean }): number;
  /** Resolves once every request so far has finished (guest done, lines captured). */
  settled(): Promise<void>;
}

/**
 * The caches as they stand, copied out on each call. Reading counts no hit and drops nothing,
 * so asserting does not change what the next request finds.
 */
export interface TestCache {
  /** Keys of the live core-cache objects, as UTF-8 text, sorted, each once. */
  keys(): string[];
  /** The core-cache object a lookup for `key` tries first (its newest Vary rule), if any is live. */
  get(key: string | Uint8Array): CoreCacheObjectView | undefined;
  /** Every live core-cache object, each variant separately. */
  objects(): CoreCacheObjectView[];
  /** Every live object of the HTTP cache (responses a readthrough `send` or the guest's HTTP cache calls stored). */
  http(): HttpCacheObjectView[];
}

const bytes = (value: string | Uint8Array) => (typeof value === 'string' ? new TextEncoder().encode(value) : value);

/** The URL a function backend reports (its host is what `backend.get-host` answers). */
function functionBackendUrl(name: string): string {
  return URL.canParse(`http://${name}/`) ? `http://${name}/` : 'http://function-backend.invalid/';
}

function backendSpec(name: string, url: string, extra: Partial<BackendSpec> = {}): BackendSpec {
  if (!URL.canParse(url) || !/^https?:$/.test(new URL(url).protocol)) throw new TypeError(`backend ${name}: url must be an http(s) URL, got ${url}`);
  return { name, url, useSni: true, dynamic: false, ...DEFAULT_TIMEOUTS, ...extra };
}

function buildConfig(options: TestServerOptions): { config: HostConfig; functions: Record<string, BackendFunction> } {
  // A fresh config per server: stores are never shared between servers.
  const config = resolveConfig(options.config ?? {});
  const functions: Record<string, BackendFunction> = {};
  for (const [name, backend] of Object.entries(options.backends ?? {})) {
    if (typeof backend === 'function') {
      functions[name] = backend;
      config.backends[name] = backendSpec(name, functionBackendUrl(name));
    } else if (typeof backend === 'string') config.backends[name] = backendSpec(name, backend);
    else config.backends[name] = backendSpec(name, backend.url, { overrideHost: backend.overrideHost, caCertificate: backend.caCertificate });
  }
  Object.assign(config.dictionaries, structuredClone(options.dictionaries ?? {}));
  Object.assign(config.configStores, structuredClone(options.configStores ?? {}));
  for (const [name, entries] of Object.entries(options.secretStores ?? {})) {
    config.secretStores[name] = Object.fromEntries(Object.entries(entries).map(([key, value]) => [key, bytes(value)]));
  }
  for (const [name, entries] of Object.entries(options.kvStores ?? {})) {
    config.kvStores[name] = Object.fromEntries(
      Object.entries(entries).map(([key, value]) => [key, typeof value === 'object' && !(value instanceof Uint8Array) ? { data: bytes(value.data), metadata: value.metadata } : { data: bytes(value) }]),
    );
  }
  Object.assign(config.geolocation.addresses, options.geolocation ?? {});
  Object.assign(config.acls, structuredClone(options.acls ?? {}));
  return { config, functions };
}

/**
 * Starts a server for an app (bytes or a path to a `.wasm`) with the given backends and stores.
 * A legacy module is adapted on the fly; the adapted component and its compiled modules are
 * cached, so a fresh server per test costs about a worker start.
 */
export async function createTestServer(app: AppSource, options: TestServerOptions = {}): Promise<TestServer> {
  const { config, functions } = buildConfig(options);
  const quiet = (): Logger => ({ info() {}, error() {}, guestOutput() {}, endpoint() {} });
  const echo = options.echo ? consoleLogger() : quiet();
  const core: CoreServer = await startServerCore({ artifacts: await loadApp(app), config, logger: echo, maxWorkers: options.maxWorkers ?? 1, dispatch: functionBackends(functions) });
  const requests: TestRequest[] = [];

  const fetchInProcess = async (input: Request | string | URL, init?: RequestInit): Promise<Response> => {
    // A bare path is taken as on `http://localhost`, as a browser resolves it against the page.
    const request = new Request(typeof input === 'string' && input.startsWith('/') ? new URL(input, 'http://localhost') : input, init);
    const record: Omit<TestRequest, 'id' | 'finished'> = { method: request.method, url: request.url, logs: [], stdout: [], stderr: [], errors: [] };
    const logger: Logger = {
      info: (line) => echo.info(line),
      error: (line) => (record.errors.push(line), echo.error(line)),
      guestOutput: (id, stream, line) => (record[stream].push(line), echo.guestOutput(id, stream, line)),
      endpoint: (endpoint, line) => (record.logs.push({ endpoint, line }), echo.endpoint(endpoint, line)),
    };
    const exchange = core.exchange(request, logger);
    const entry: TestRequest = Object.assign(record, { id: exchange.id, finished: exchange.finished.then(({ outcome, message }) => ({ outcome, message })) });
    requests.push(entry);
    const response = await exchange.response;
    entry.status = response.status;
    return response;
  };

  const stores: TestStores = {
    dictionary: (name) => config.dictionaries[name],
    configStore: (name) => config.configStores[name],
    secretStore: (name) => config.secretStores[name],
    // The server's current services: a reload that changed the config swaps them.
    kv: (name) => core.services.view().kv.entries(name),
    geolocation: config.geolocation,
    acl: (name) => config.acls[name],
  };

  const sameBytes = (a: Uint8Array, b: Uint8Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(b);
  const cache: TestCache = {
    keys: () => [...new Set(core.services.view().cache.core().map((object) => object.key))].sort(),
    get: (key) => {
      const wanted = bytes(key);
      return core.services.view().cache.core().find((object) => sameBytes(object.keyBytes, wanted));
    },
    objects: () => core.services.view().cache.core(),
    http: () => core.services.view().cache.http(),
  };

  return {
    get url() {
      return core.url;
    },
    listen: (listen) => core.listen(listen),
    stats: () => core.stats(),
    reload: (next, source) => core.reload(next, source),
    close: () => core.close(),
    fetch: fetchInProcess,
    get requests() {
      return requests;
    },
    get lastRequest() {
      return requests.at(-1);
    },
    logs: (endpoint) => requests.flatMap((request) => request.logs.filter((entry) => endpoint === undefined || entry.endpoint === endpoint).map((entry) => entry.line)),
    stores,
    kv: (name) => stores.kv(name),
    cache,
    purge: (surrogateKey, options) => core.services.purge(surrogateKey, options),
    settled: async () => {
      await Promise.all(requests.map((request) => request.finished));
    },
  };
}
