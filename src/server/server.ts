import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { HostConfig } from '../host/config.js';
import type { DownstreamRequest, HeaderList } from '../host/protocol.js';
import { versionOf } from './backend-client.js';
import type { Logger } from './logger.js';
import { WorkerPool, type GuestArtifacts } from './pool.js';
import { RequestHost } from './request-host.js';

export interface DevServerOptions {
  artifacts: GuestArtifacts;
  config: HostConfig;
  host: string;
  port: number;
  logger: Logger;
  maxWorkers?: number;
}

export interface DevServer {
  url: string;
  /** Swaps in a new guest and config; requests in flight finish on the old ones. */
  reload(artifacts: GuestArtifacts, config: HostConfig): Promise<void>;
  close(): Promise<void>;
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

function downstreamOf(req: http.IncomingMessage, id: string, body: number): DownstreamRequest {
  const headers: HeaderList = [];
  const originalHeaderNames: string[] = [];
  for (let index = 0; index < req.rawHeaders.length; index += 2) {
    originalHeaderNames.push(req.rawHeaders[index]!);
    headers.push([req.rawHeaders[index]!.toLowerCase(), Buffer.from(req.rawHeaders[index + 1]!, 'latin1')]);
  }
  const length = req.headers['content-length'];
  const hasBody = length !== undefined || req.headers['transfer-encoding'] !== undefined;
  return {
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
}

export async function startDevServer(options: DevServerOptions): Promise<DevServer> {
  const { logger } = options;
  let config = options.config;
  let pool = new WorkerPool(options.artifacts, config, options.maxWorkers);
  await pool.warm();

  const server = http.createServer((req, res) => {
    const started = process.hrtime.bigint();
    const id = randomBytes(8).toString('hex');
    const current = { pool, config };
    res.on('close', () => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      logger.info(`${id} "${req.method} ${req.url}" ${res.headersSent ? res.statusCode : '-'} ${ms.toFixed(1)}ms${res.writableFinished ? '' : ' (incomplete)'}`);
    });
    current.pool
      .run((reply) => {
        const host = new RequestHost(id, res, reply, logger);
        const request = downstreamOf(req, id, host.addSource(req));
        return { host, message: { kind: 'run', request, env: guestEnvironment(current.config, id) } };
      })
      .catch((err: Error) => {
        logger.error(`${id}: ${err.stack ?? err.message}`);
        if (!res.headersSent) res.writeHead(500).end();
        else res.destroy();
      });
  });
  server.on('clientError', (_err, socket) => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  const hostText = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${hostText}:${address.port}`,
    async reload(artifacts, newConfig) {
      const next = new WorkerPool(artifacts, newConfig, options.maxWorkers);
      await next.warm();
      const old = pool;
      pool = next;
      config = newConfig;
      // Let requests in flight on the old guest finish before stopping its workers.
      setTimeout(() => void old.close(), 30_000).unref();
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await pool.close();
    },
  };
}
