import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { HostConfig } from '../host/config.js';
import type { DownstreamRequest, HeaderList } from '../host/protocol.js';
import { versionOf } from './backend-client.js';
import type { Logger } from './logger.js';
import { PLATFORM_GUEST_LIMITS, PLATFORM_REQUEST_LIMITS, type GuestLimits, type RequestLimits } from './limits.js';
import { WorkerPool, type GuestArtifacts, type PoolStats } from './pool.js';
import { RequestHost, type DownstreamUpgrade } from './request-host.js';
import { answer, answerClientError, MAX_HEADER_SECTION_BYTES, refusal } from './request-limits.js';

export interface DevServerOptions {
  artifacts: GuestArtifacts;
  config: HostConfig;
  host: string;
  port: number;
  logger: Logger;
  maxWorkers?: number;
  /** Started, idle workers kept ahead of demand (default: one per core). */
  spareWorkers?: number;
  /** Per-run wall-clock, CPU and memory limits (default: the platform's, see `limits.ts`). */
  limits?: GuestLimits;
  /** Header, URL and body sizes refused before the guest runs (default: the platform's, see `limits.ts`). */
  requestLimits?: RequestLimits;
}

export interface DevServer {
  url: string;
  /** Swaps in a new guest and config; requests in flight finish on the old ones. */
  reload(artifacts: GuestArtifacts, config: HostConfig): Promise<void>;
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

/** Request ids come from a batch of random bytes: a `randomBytes` call per request showed in profiles. */
let ids = Buffer.alloc(0);
let idOffset = 0;
function requestId(): string {
  if (idOffset === ids.length) {
    ids = randomBytes(8 * 256);
    idOffset = 0;
  }
  idOffset += 8;
  return ids.toString('hex', idOffset - 8, idOffset);
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
  const request: DownstreamRequest = {
    id,
    method: req.method ?? 'GET',
    uri: `http://${req.headers.host ?? 'localhost'}${req.url ?? '/'}`,
    version: versionOf(req.httpVersion),
    headers,
    originalHeaderNames,
    body,
    knownLength: length !== undefined && /^\d+$/.test(length) ? BigInt(length) : hasBody ? undefined : 0n,
    clientAddress: req.socket.remoteAddress,
    serverAddress: req.socket.localAddress,
  };
  return { request, transfer: values.buffer };
}

export async function startDevServer(options: DevServerOptions): Promise<DevServer> {
  const { logger } = options;
  let config = options.config;
  const poolOptions = { maxWorkers: options.maxWorkers, spareWorkers: options.spareWorkers, limits: options.limits ?? PLATFORM_GUEST_LIMITS };
  let pool = new WorkerPool(options.artifacts, config, poolOptions);
  let inflight = 0;
  let connections = 0;
  const requestLimits = options.requestLimits ?? PLATFORM_REQUEST_LIMITS;
  await pool.warm();

  const serve = (req: http.IncomingMessage, res: http.ServerResponse, upgrade?: DownstreamUpgrade) => {
    const started = process.hrtime.bigint();
    const id = requestId();
    const current = { pool, config };
    const refused = refusal(req, requestLimits);
    if (refused) {
      logger.info(`${id} "${req.method} ${req.url?.slice(0, 200)}" ${refused.status} (${refused.reason})`);
      return answer(res, refused);
    }
    inflight++;
    res.on('close', () => {
      inflight--;
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      logger.info(`${id} "${req.method} ${req.url}" ${res.headersSent ? res.statusCode : '-'} ${ms.toFixed(1)}ms${res.writableFinished ? '' : ' (incomplete)'}`);
    });
    current.pool
      .run((reply) => {
        const host = new RequestHost(id, res, reply, logger, upgrade);
        const { request, transfer } = downstreamOf(req, id, host.addSource(req, undefined, undefined, requestLimits.bodyBytes));
        return { host, message: { kind: 'run', request, env: guestEnvironment(current.config, id) }, transfer: [transfer] };
      })
      .catch((err: Error) => {
        logger.error(`${id}: ${err.stack ?? err.message}`);
        if (!res.headersSent) res.writeHead(500).end();
        else res.destroy();
      });
  };
  const server = http.createServer({ maxHeaderSize: MAX_HEADER_SECTION_BYTES }, (req, res) => serve(req, res));
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
    res.shouldKeepAlive = false;
    const upgrade = { socket, head, joined: false };
    res.on('finish', () => {
      if (!upgrade.joined) socket.end();
    });
    serve(req, res, upgrade);
  });
  server.on('clientError', answerClientError);
  server.on('connection', (socket: Socket) => {
    connections++;
    socket.once('close', () => connections--);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  const hostText = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${hostText}:${address.port}`,
    async reload(artifacts, newConfig) {
      const next = new WorkerPool(artifacts, newConfig, poolOptions);
      await next.warm();
      const old = pool;
      pool = next;
      config = newConfig;
      // Let requests in flight on the old guest finish before stopping its workers.
      setTimeout(() => void old.close(), 30_000).unref();
    },
    stats: () => ({ ...pool.stats(), inflight, connections }),
    async close() {
      server.closeAllConnections();
      for (const socket of switched) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await pool.close();
    },
  };
}
