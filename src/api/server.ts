import { isDeepStrictEqual } from 'node:util';
import type { HostConfig } from '../host/config.js';
import type { BackendDispatch } from '../server/backend-client.js';
import { serveInProcess, type InProcessExchange } from '../server/in-process.js';
import { consoleLogger, type Logger } from '../server/logger.js';
import { WorkerPool, type GuestArtifacts } from '../server/pool.js';
import { RequestHost } from '../server/request-host.js';
import { guestEnvironment, requestId, startDevServer, type DevServer, type ServerStats } from '../server/server.js';
import { Services } from '../server/services/index.js';
import { createRetirer } from '../server/retire.js';
import { selfSignedLocalhost, type TlsIdentity } from '../server/tls.js';
import { loadApp, loadAppQuickly, type AppSource, type LoadOptions, type QuickLoad } from './app.js';
import type { AdapterTarget } from '../adapter/target.js';
import type { SandboxLimits } from '../server/sandboxes.js';
import type { HostcallTrace } from '../server/hostcall-trace.js';
import { PLATFORM_GUEST_LIMITS, PLATFORM_REQUEST_LIMITS, RUN_LIMITS, type GuestLimits, type RequestLimits } from '../server/limits.js';
import { resolveConfig, type ConfigOptions, type ConfigSource } from './config.js';

export type { HostcallTrace, Logger, TlsIdentity };


export interface ServerOptions extends ConfigOptions {
  /** Backends and stores: a `fastly.toml` path, or its `[local_server]` content as an object. */
  config?: ConfigSource;
  /** Guest workers at most (default 32); each serves one request at a time. */
  maxWorkers?: number;
  /**
   * Where lines go: access lines and log endpoint lines (`info`, `endpoint`), problems (`error`),
   * guest stdout / stderr (`guestOutput`). Missing members print as `witshim serve` does.
   */
  logger?: Partial<Logger>;
  /** Treat guest stdout / stderr as log endpoints named `stdout` / `stderr`. */
  logStdout?: boolean;
  logStderr?: boolean;
  /**
   * The WIT a legacy module's adapter speaks: `subscribe` (default: this project's, which
   * witshim serves) or `published` (`fastly:compute@0.1.0` as published: `step`, no `subscribe`).
   */
  target?: AdapterTarget;
  /**
   * Reusable sandboxes over HTTP (guests that ask for a further request, as js-compute's
   * `setReusableSandboxOptions` makes them): `maxWaiting` 0 turns reuse off.
   */
  sandboxLimits?: Partial<SandboxLimits>;
  /**
   * Per-request limits of a guest (wall-clock ms, CPU ms; linear memory bytes per instance); a guest past one is
   * killed and its worker replaced. Default: the platform's, see `src/server/limits.ts`.
   */
  limits?: Partial<GuestLimits>;
  /** Header, URL and body sizes refused (431 / 414 / 413) before the guest runs; default the platform's. */
  requestLimits?: Partial<RequestLimits>;
  /** Started, idle guest workers kept ahead of demand (default: one per core). */
  spareWorkers?: number;
  /**
   * Record the hostcall trace: a legacy module is adapted with a traced adapter, and each
   * request's legacy hostcalls (in order, with their statuses) are handed here when it ends.
   * Off, the adapter has no trace at all. Components made elsewhere are not traced.
   */
  traceHostcalls?: (trace: HostcallTrace) => void;
  /**
   * Start a legacy module of a shape never seen on the stand-in glue (src/server/stand-in.ts):
   * served within a second instead of after seconds of wit-component and jco, while its own
   * glue is built in a low-priority process; the server then switches to it as a reload does
   * (requests in flight finish, waiting reusable sandboxes end). Default off; `witshim serve`
   * turns it on.
   */
  standIn?: boolean;
}

export interface ListenOptions {
  /** Default `127.0.0.1`. */
  host?: string;
  /** Default 7676; 0 picks a free port. */
  port?: number;
  /**
   * Serve HTTPS: a certificate and key (PEM text; `ca` verifies client certificates), or
   * `'self-signed'` for one made for localhost (kept in the cache directory).
   */
  tls?: TlsIdentity | 'self-signed';
}

export interface Server {
  /** `http://host:port` once listening. */
  readonly url: string | undefined;
  /** Starts the HTTP listener; resolves with its URL. */
  listen(options?: ListenOptions): Promise<string>;
  /** Serves one request in process, without a socket; the response body streams as the guest writes it. */
  fetch(input: Request | string | URL, init?: RequestInit): Promise<Response>;
  /** Swaps in a new app and/or config; requests in flight finish on the old ones. */
  reload(app?: AppSource, config?: ConfigSource): Promise<void>;
  /** Live counts: workers, requests in flight, open client connections, memory. */
  stats(): ServerStats;
  /** Stops listening and stops the workers. */
  close(): Promise<void>;
}

/** What `createServer` builds on: also used by the test harness (`witshim/test`). */
export interface ServerCore {
  /** May still be loading: the workers boot meanwhile. */
  artifacts: GuestArtifacts | Promise<GuestArtifacts>;
  config: HostConfig;
  logger: Logger;
  maxWorkers?: number;
  dispatch?: BackendDispatch;
  /** The adapter target legacy modules are adapted for, on load and on reload. */
  target?: AdapterTarget;
  /** Legacy modules are adapted with the hostcall trace (which `logger.hostcalls` receives). */
  trace?: boolean;
  sandboxLimits?: Partial<SandboxLimits>;
  limits?: GuestLimits;
  requestLimits?: RequestLimits;
  spareWorkers?: number;
  /** Load apps with `loadAppQuickly` (see `ServerOptions.standIn`). */
  standIn?: boolean;
  /** The app's own glue being built while `artifacts` are a stand-in's. */
  own?: QuickLoad['own'] | Promise<QuickLoad['own']>;
}

/** A server with the in-process exchange exposed: the harness gives each request a logger of its own. */
export interface CoreServer extends Server {
  exchange(request: Request, logger?: Logger): InProcessExchange;
  /** The stateful services new requests use now (a reload that changed the config swaps them). */
  readonly services: Services;
}

export function fullLogger(options: Pick<ServerOptions, 'logger' | 'logStdout' | 'logStderr'>): Logger {
  return { ...consoleLogger({ logStdout: options.logStdout, logStderr: options.logStderr }), ...options.logger };
}

/**
 * `logger` handing each request's hostcall trace, named, to `traceHostcalls`. The naming needs
 * `witx/` and the adapter's modules, so it is loaded only when tracing: not on every start.
 */
async function withTrace(logger: Logger, traceHostcalls: ServerOptions['traceHostcalls']): Promise<Logger> {
  if (!traceHostcalls) return logger;
  const { describeTrace } = await import('../server/hostcall-trace.js');
  return { ...logger, hostcalls: (request, reports) => traceHostcalls(describeTrace(request, reports)) };
}

/** An app to serve: on a stand-in while its own glue is built when `standIn` (see `loadAppQuickly`). */
function loadForServing(app: AppSource, options: LoadOptions, standIn = false): Promise<QuickLoad> {
  return standIn ? loadAppQuickly(app, options) : loadApp(app, options).then((artifacts) => ({ artifacts }));
}

/**
 * Loads an app (a legacy core module is adapted on the fly) and starts its workers. Throws
 * `AppError` for an app that cannot be read or loaded, `ConfigError` for a bad config.
 */
export async function createServer(app: AppSource, options: ServerOptions = {}): Promise<Server> {
  const config = resolveConfig(options.config, { ...options, appPath: typeof app === 'string' ? app : undefined });
  const limits = { ...PLATFORM_GUEST_LIMITS, ...options.limits };
  const requestLimits = { ...PLATFORM_REQUEST_LIMITS, ...options.requestLimits };
  const load = { target: options.target, memoryBytes: limits.memoryBytes, trace: options.traceHostcalls !== undefined };
  // Not awaited: the workers boot while the app loads (startServerCore waits for both).
  const loading = loadForServing(app, load, options.standIn);
  const core: ServerCore = {
    artifacts: loading.then((loaded) => loaded.artifacts),
    // A failed load is reported through `artifacts`.
    own: loading.then((loaded) => loaded.own, () => undefined),
    standIn: options.standIn,
    config,
    logger: await withTrace(fullLogger(options), options.traceHostcalls),
    maxWorkers: options.maxWorkers,
    target: options.target,
    trace: options.traceHostcalls !== undefined,
    sandboxLimits: options.sandboxLimits,
    limits,
    requestLimits,
    spareWorkers: options.spareWorkers,
  };
  return startServerCore(core, options);
}

export async function startServerCore(core: ServerCore, options: ConfigOptions = {}): Promise<CoreServer> {
  const poolOptions = { maxWorkers: core.maxWorkers, spareWorkers: core.spareWorkers, limits: core.limits ?? PLATFORM_GUEST_LIMITS };
  let pool = new WorkerPool(core.artifacts, core.config, poolOptions);
  try {
    await pool.warm();
  } catch (err) {
    // The app did not load, or no worker could start it: nothing may keep running, a
    // background build of its own glue included.
    await pool.close();
    (await core.own)?.cancel();
    throw err;
  }
  let artifacts = await core.artifacts;
  let { config } = core;
  // One set of stores for HTTP and in-process requests alike; a reload keeps it unless the config changed.
  let services = new Services(config);
  let http: DevServer | undefined;
  let closed = false;
  const { retire, stopAll: stopRetired } = createRetirer();
  /** Serves new requests with these artifacts and config; requests in flight finish on the old ones. */
  const swap = async (nextArtifacts: GuestArtifacts, nextConfig: HostConfig) => {
    const next = new WorkerPool(nextArtifacts, nextConfig, poolOptions);
    await next.warm();
    if (closed) return next.close();
    const old = pool;
    const oldServices = services;
    // A changed config starts the stores afresh (seeded from it); requests in flight keep the old ones.
    if (!isDeepStrictEqual(config, nextConfig)) services = new Services(nextConfig);
    [pool, artifacts, config] = [next, nextArtifacts, nextConfig];
    if (http) await http.reload(nextArtifacts, nextConfig, next, services);
    // Requests in flight on the old guest finish before its workers stop.
    else retire(() => old.close());
    if (oldServices !== services) retire(() => oldServices.close());
  };
  /** The own glue being built for the app now served through a stand-in; a newer app's replaces it. */
  let own: QuickLoad['own'];
  const switchWhenBuilt = (build: QuickLoad['own']) => {
    own?.cancel();
    own = build;
    if (!build) return;
    core.logger.info("Serving through the stand-in glue while the app's own is built in the background");
    const started = performance.now();
    build.artifacts.then(
      async (built) => {
        if (closed || own !== build) return;
        own = undefined;
        try {
          await swap(built, config);
          core.logger.info(`Switched from the stand-in glue to the app's own (built in the background in ${(performance.now() - started).toFixed(0)}ms)`);
        } catch (err) {
          core.logger.error(`switching to the app's own glue failed, still serving through the stand-in glue: ${(err as Error).message}`);
        }
      },
      (err: Error) => {
        if (closed || own !== build) return;
        own = undefined;
        core.logger.error(`building the app's own glue failed, still serving through the stand-in glue: ${err.message}`);
      },
    );
  };
  const server: CoreServer = {
    get url() {
      return http?.url;
    },
    stats: () => http?.stats() ?? { ...pool.stats(), inflight: 0, connections: 0 },
    get services() {
      return services;
    },
    async listen(listen = {}) {
      if (closed) throw new Error('the server is closed');
      if (http) return http.url;
      const tls = listen.tls === 'self-signed' ? await selfSignedLocalhost() : listen.tls;
      http = await startDevServer({ artifacts, config, pool, host: listen.host ?? '127.0.0.1', port: listen.port ?? 7676, logger: core.logger, maxWorkers: core.maxWorkers, tls, dispatch: core.dispatch, services, sandboxLimits: core.sandboxLimits, requestLimits: core.requestLimits });
      return http.url;
    },
    exchange(request, logger = core.logger) {
      if (closed) throw new Error('the server is closed');
      return serveInProcess(request, { pool, config, logger, dispatch: core.dispatch, services });
    },
    async fetch(input, init) {
      // A bare path is taken as on `http://localhost`, as a browser resolves it against the page.
      const target = typeof input === 'string' && input.startsWith('/') ? new URL(input, 'http://localhost') : input;
      return server.exchange(new Request(target, init)).response;
    },
    async reload(app, source) {
      const load = { target: core.target, memoryBytes: poolOptions.limits.memoryBytes, trace: core.trace };
      const loaded = app === undefined ? undefined : await loadForServing(app, load, core.standIn);
      const nextConfig = source === undefined ? config : resolveConfig(source, { ...options, appPath: typeof app === 'string' ? app : undefined });
      await swap(loaded?.artifacts ?? artifacts, nextConfig);
      if (loaded) switchWhenBuilt(loaded.own);
    },
    async close() {
      closed = true;
      own?.cancel();
      if (http) await http.close();
      else await pool.close();
      await stopRetired();
      services.close();
    },
  };
  switchWhenBuilt(await core.own);
  return server;
}

export interface RunOptions extends ServerOptions {
  /** `argv[0]` the guest sees (default: the app's path, or `app.wasm`). */
  argv0?: string;
  /** Where guest stdout / stderr go (default: this process's, as written). */
  stdout?: (text: string) => void;
  stderr?: (text: string) => void;
}

export interface RunResult {
  /** The guest's exit code: its `proc_exit(n)` for a legacy module, else 0 / 1. */
  exitCode: number;
  outcome: 'ok' | 'guest-error' | 'trap';
  message?: string;
}

/**
 * Runs an app once as a command (`wasi:cli/run`; an adapted legacy module's `_start` runs on an
 * empty `GET http://localhost/`), with `args`, and resolves with its exit code.
 */
export async function runOnce(app: AppSource, args: string[] = [], options: RunOptions = {}): Promise<RunResult> {
  const config = resolveConfig(options.config, { ...options, appPath: typeof app === 'string' ? app : undefined });
  // A command may compute as long as it likes unless told otherwise.
  const limits = { ...RUN_LIMITS, ...options.limits };
  const pool = new WorkerPool(await loadApp(app, { target: options.target, memoryBytes: limits.memoryBytes, trace: options.traceHostcalls !== undefined }), config, { maxWorkers: 1, spareWorkers: 0, limits });
  const services = new Services(config);
  const logger = await withTrace(fullLogger(options), options.traceHostcalls);
  const out = { stdout: options.stdout ?? ((text: string) => void process.stdout.write(text)), stderr: options.stderr ?? ((text: string) => void process.stderr.write(text)) };
  logger.guestOutput = (_id, stream, text) => out[stream](text);
  try {
    // A run has a request id like any request (32 hex digits): a legacy module's `_start` may ask for it.
    const id = requestId();
    const { finished } = await pool.run((reply) => ({
      host: new RequestHost(id, undefined, reply, logger, undefined, undefined, services),
      message: { kind: 'command', args: [options.argv0 ?? (typeof app === 'string' ? app : 'app.wasm'), ...args], env: guestEnvironment(config, id) },
    }));
    return { exitCode: finished.exitCode ?? (finished.outcome === 'ok' ? 0 : 1), outcome: finished.outcome, message: finished.message };
  } finally {
    await pool.close();
    services.close();
  }
}
