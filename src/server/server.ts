import { randomBytes } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import { TLSSocket } from 'node:tls';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { isDeepStrictEqual } from 'node:util';
import type { HostConfig } from '../host/config.js';
import type { DownstreamRequest, HeaderList } from '../host/protocol.js';
import { versionOf, type BackendDispatch } from './backend-client.js';
import { isReplayed, replayExtensionMethod, takeExtensionMethod } from './extension-methods.js';
import type { Logger } from './logger.js';
import { PLATFORM_GUEST_LIMITS, PLATFORM_REQUEST_LIMITS, type GuestLimits, type RequestLimits } from './limits.js';
import { WorkerPool, type GuestArtifacts, type PoolStats } from './pool.js';
import { RequestHost, type DownstreamUpgrade } from './request-host.js';
import { DEFAULT_SANDBOX_LIMITS, Sandboxes, type SandboxLimits } from './sandboxes.js';
import { Services } from './services/index.js';
import { createRetirer } from './retire.js';


/** A parse error from Node's HTTP server. */
interface ClientError extends Error {
  code?: string;
  reason?: string;
  rawPacket?: Buffer;
  bytesParsed?: number;
}

/** What Node itself answers a client error with (its default `clientError` behaviour); others are 400. */
const CLIENT_ERROR_STATUS: Readonly<Record<string, number>> = { HPE_HEADER_OVERFLOW: 431, ERR_HTTP_REQUEST_TIMEOUT: 408 };
import { MAX_HEADER_SECTION_BYTES, answer, refusal } from './request-limits.js';
import { downstreamTls, type TlsIdentity } from './tls.js';

export interface DevServerOptions {
  artifacts: GuestArtifacts;
  config: HostConfig;
  host: string;
  port: number;
  logger: Logger;
  maxWorkers?: number;
  /** A pool already started for `artifacts` and `config` (the API shares one with in-process requests). */
  pool?: WorkerPool;
  /** Starts backend requests (default: over the network; the test harness adds function backends). */
  dispatch?: BackendDispatch;
  /** Serve HTTPS with this certificate (client certificates are asked for, and verified against `ca` when given). */
  tls?: TlsIdentity;
  /** The stores, when their owner (the API, shared with in-process requests) made them; else the server makes its own. */
  services?: Services;
  /** Limits of reusable sandboxes (guests that ask for a further request), over the defaults. */
  sandboxLimits?: Partial<SandboxLimits>;
  /** Started, idle workers kept ahead of demand (default: one per core). */
  spareWorkers?: number;
  /** Per-request wall-clock and CPU limits, and the memory limit (default: the platform's, see `limits.ts`). */
  limits?: GuestLimits;
  /** Header, URL and body sizes refused before the guest runs (default: the platform's, see `limits.ts`). */
  requestLimits?: RequestLimits;
}

export interface DevServer {
  url: string;
  /**
   * Swaps in a new guest and config (or a pool started for them, and the stores for them when
   * their owner made those); requests in flight finish on the old ones.
   */
  reload(artifacts: GuestArtifacts, config: HostConfig, next?: WorkerPool, nextServices?: Services): Promise<void>;
  /** Live counts: workers, requests in flight, open client connections. */
  stats(): ServerStats;
  close(): Promise<void>;
}

export interface ServerStats extends PoolStats {
  /** Requests whose response has not closed yet. */
  inflight: number;
  /** Open client connections. */
  connections: number;
}

/** The FASTLY_* environment a guest sees, as on the platform. */
export function guestEnvironment(config: HostConfig, traceId: string): Record<string, string> {
  const { runtime } = config;
  return {
    FASTLY_CACHE_GENERATION: '0',
    FASTLY_CUSTOMER_ID: runtime.customerId,
    FASTLY_HOSTNAME: runtime.hostname,
    FASTLY_IS_STAGING: runtime.isStaging ? '1' : '0',
    FASTLY_POP: runtime.pop,
    FASTLY_REGION: runtime.region,
    FASTLY_SERVICE_ID: runtime.serviceId,
    FASTLY_SERVICE_VERSION: String(runtime.serviceVersion),
    FASTLY_TRACE_ID: traceId,
  };
}

/** Bytes in a request id: 32 hex digits, as the platform's and Viceroy's (a 128-bit id). */
const REQUEST_ID_BYTES = 16;
/** Request ids come from a batch of random bytes: a `randomBytes` call per request showed in profiles. */
let ids = Buffer.alloc(0);
let idOffset = 0;
export function requestId(): string {
  if (idOffset === ids.length) {
    ids = randomBytes(REQUEST_ID_BYTES * 256);
    idOffset = 0;
  }
  idOffset += REQUEST_ID_BYTES;
  return ids.toString('hex', idOffset - REQUEST_ID_BYTES, idOffset);
}

/**
 * The request as the worker gets it, and the buffer to transfer with it: every header value is a
 * view of one buffer of their own, since a value in Node's shared pool would be posted with the
 * whole 8 KiB slab around it.
 */
function downstreamOf(req: http.IncomingMessage, id: string, body: number): { request: DownstreamRequest; transfer: ArrayBuffer } {
  const raw = req.rawHeaders;
  let size = 0;
  // Node decodes header bytes as latin1: one character per byte.
  for (let index = 1; index < raw.length; index += 2) size += raw[index]!.length;
  const values = Buffer.allocUnsafeSlow(size);
  const headers: HeaderList = [];
  const originalHeaderNames: string[] = [];
  let offset = 0;
  for (let index = 0; index < raw.length; index += 2) {
    originalHeaderNames.push(raw[index]!);
    const end = offset + values.write(raw[index + 1]!, offset, 'latin1');
    headers.push([raw[index]!.toLowerCase(), values.subarray(offset, end)]);
    offset = end;
  }
  const length = req.headers['content-length'];
  const hasBody = length !== undefined || req.headers['transfer-encoding'] !== undefined;
  const tls = req.socket instanceof TLSSocket ? downstreamTls(req.socket) : undefined;
  const request: DownstreamRequest = {
    id,
    method: req.method ?? 'GET',
    uri: `${tls ? 'https' : 'http'}://${req.headers.host ?? 'localhost'}${req.url ?? '/'}`,
    version: versionOf(req.httpVersion),
    headers,
    originalHeaderNames,
    body,
    knownLength: length !== undefined && /^\d+$/.test(length) ? BigInt(length) : hasBody ? undefined : 0n,
    clientAddress: req.socket.remoteAddress,
    serverAddress: req.socket.localAddress,
    ...(tls ? { tls } : {}),
  };
  return { request, transfer: values.buffer };
}

export async function startDevServer(options: DevServerOptions): Promise<DevServer> {
  const { logger } = options;
  let config = options.config;
  const sandboxLimits = { ...DEFAULT_SANDBOX_LIMITS, ...options.sandboxLimits };
  const poolOptions = { maxWorkers: options.maxWorkers, spareWorkers: options.spareWorkers, limits: options.limits ?? PLATFORM_GUEST_LIMITS };
  let pool = options.pool ?? new WorkerPool(options.artifacts, config, poolOptions);
  // Guests waiting for a further request take arriving ones before the pool makes fresh instances.
  let sandboxes = new Sandboxes(pool, sandboxLimits);
  if (!options.pool) await pool.warm();
  // Caches, KV stores and rate counters outlive requests and reloads of the same configuration.
  const ownsServices = options.services === undefined;
  let services = options.services ?? new Services(config);
  let inflight = 0;
  let connections = 0;
  const requestLimits = options.requestLimits ?? PLATFORM_REQUEST_LIMITS;

  const serve = (req: http.IncomingMessage, res: http.ServerResponse, upgrade?: DownstreamUpgrade) => {
    const started = process.hrtime.bigint();
    const id = requestId();
    const current = { config, services };
    /** Set when a reused sandbox serves the request: the id of its first request and this one's place. */
    let shared = '';
    const refused = refusal(req, requestLimits);
    if (refused) {
      logger.info(`${id} "${req.method} ${req.url?.slice(0, 200)}" ${refused.status} (${refused.reason})`);
      return answer(res, refused);
    }
    inflight++;
    res.on('close', () => {
      inflight--;
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      logger.info(`${id} "${req.method} ${req.url}" ${res.headersSent ? res.statusCode : '-'} ${ms.toFixed(1)}ms${res.writableFinished ? '' : ' (incomplete)'}${shared}`);
    });
    sandboxes.dispatch({
      prepare: (reply) => {
        const host = new RequestHost(id, res, reply, logger, upgrade, options.dispatch, current.services);
        const { request, transfer } = downstreamOf(req, id, host.addSource(req, undefined, undefined, requestLimits.bodyBytes));
        return { host, message: { kind: 'run', request, env: guestEnvironment(current.config, id) }, transfer: [transfer] };
      },
      reused: (sandbox, index) => {
        shared = ` (sandbox ${sandbox} #${index})`;
      },
      failed: (err) => {
        logger.error(`${id}: ${err.stack ?? err.message}`);
        if (!res.headersSent) res.writeHead(500).end();
        else res.destroy();
      },
    });
  };
  /** A request whose method Node's parser refused comes back through `replayExtensionMethod` and gets it back here. */
  const restoreMethod = (req: http.IncomingMessage, res: http.ServerResponse) => {
    const method = takeExtensionMethod(req);
    if (method === undefined) return;
    req.method = method;
    res.shouldKeepAlive = false;
  };
  const handler = (req: http.IncomingMessage, res: http.ServerResponse) => {
    restoreMethod(req, res);
    serve(req, res);
  };
  // A client certificate is asked for but not required: the guest sees whether one came and how it verified.
  const server = options.tls
    ? https.createServer({ cert: options.tls.cert, key: options.tls.key, ca: options.tls.ca, requestCert: true, rejectUnauthorized: false, maxHeaderSize: MAX_HEADER_SECTION_BYTES }, handler)
    : http.createServer({ maxHeaderSize: MAX_HEADER_SECTION_BYTES }, handler);
  /** Connections past an upgrade, which Node no longer closes as HTTP ones. */
  const switched = new Set<Duplex>();
  // A request to switch protocols runs the guest like any other. Its connection stays open only
  // when a handoff joined it to a backend that switched (a 101); otherwise it ends with the response.
  server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    switched.add(socket);
    socket.on('close', () => switched.delete(socket));
    // Node hands the socket over without an error listener of its own.
    socket.on('error', () => socket.destroy());
    const res = new http.ServerResponse(req);
    res.assignSocket(socket as Socket);
    restoreMethod(req, res);
    res.shouldKeepAlive = false;
    const upgrade = { socket, head, joined: false };
    res.on('finish', () => {
      if (!upgrade.joined) socket.end();
    });
    serve(req, res, upgrade);
  });
  /** Answers a request Node could not parse, as Node would without a handler, and says so in both logs. */
  const refuse = (socket: Duplex, err: ClientError, reason: string) => {
    const inFlight = (socket as { _httpMessage?: http.ServerResponse | null })._httpMessage;
    // A reset connection has no one to answer; one with a response under way cannot take another.
    if (err.code === 'ECONNRESET' || !socket.writable || inFlight?.headersSent) {
      socket.destroy();
      return;
    }
    const status = CLIENT_ERROR_STATUS[err.code ?? ''] ?? 400;
    const id = requestId();
    logger.info(`${id} "- -" ${status} 0.0ms`);
    logger.error(`${id}: malformed request from ${(socket as Socket).remoteAddress ?? 'unknown'}: ${reason}; answered ${status}`);
    socket.end(`HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
  };
  server.on('clientError', (err: ClientError, socket: Duplex) => {
    if (isReplayed(socket)) return;
    const reason = `${err.code ?? 'error'}${err.reason ? ` (${err.reason})` : ''}`;
    if (err.code !== 'HPE_INVALID_METHOD') return refuse(socket, err, reason);
    replayExtensionMethod(server, err, socket as Socket).then(
      (outcome) => {
        if (!outcome.served) refuse(socket, err, `${reason}: ${outcome.reason}`);
      },
      (failure: Error) => refuse(socket, err, `${reason}: ${failure.message}`),
    );
  });
  server.on('connection', (socket: Socket) => {
    connections++;
    socket.once('close', () => connections--);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const { retire, stopAll: stopRetired } = createRetirer();
  const address = server.address() as AddressInfo;
  const hostText = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `${options.tls ? 'https' : 'http'}://${hostText}:${address.port}`,
    async reload(artifacts, newConfig, started, nextServices) {
      const next = started ?? new WorkerPool(artifacts, newConfig, poolOptions);
      const nextSandboxes = new Sandboxes(next, sandboxLimits);
      if (!started) await next.warm();
      const old = pool;
      pool = next;
      // Sandboxes of the old guest wait for no further request.
      sandboxes.drain();
      sandboxes = nextSandboxes;
      if (nextServices) services = nextServices;
      else if (!isDeepStrictEqual(config, newConfig)) {
        // A changed fastly.toml starts the stores afresh (seeded from it); requests in flight keep the old ones.
        const oldServices = services;
        services = new Services(newConfig);
        retire(() => oldServices.close());
      }
      config = newConfig;
      // Let requests in flight on the old guest finish before stopping its workers.
      retire(() => old.close());
    },
    stats: () => ({ ...pool.stats(), inflight, connections }),
    async close() {
      sandboxes.drain();
      server.closeAllConnections();
      for (const socket of switched) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      // What reloads replaced goes now too: its workers would otherwise hold the process open until their grace period ends.
      await stopRetired();
      await pool.close();
      if (ownsServices) services.close();
    },
  };
}
