import { PassThrough, Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import type { HostConfig } from '../host/config.js';
import type { DownstreamRequest, HeaderList, WorkerToMain } from '../host/protocol.js';
import type { BackendDispatch } from './backend-client.js';
import type { Logger } from './logger.js';
import type { WorkerPool } from './pool.js';
import { RequestHost, type DownstreamSink } from './request-host.js';
import type { Services } from './services/index.js';
import { guestEnvironment, requestId } from './server.js';

type Finished = Extract<WorkerToMain, { kind: 'finished' }>;

/** Statuses whose responses have no body (a WHATWG `Response` refuses one). */
const NULL_BODY = new Set([101, 103, 204, 205, 304]);

/**
 * A downstream response served without a socket: the head becomes a WHATWG `Response` as soon as
 * the guest sends it (or its first body bytes), and the body streams through as the guest writes.
 */
class ResponseSink implements DownstreamSink {
  readonly useChunkedEncodingByDefault = true;
  private readonly body = new PassThrough();
  private head: { status: number; headers: Array<[string, string]> } | undefined;
  private delivered = false;
  readonly response: Promise<Response>;
  private settle!: { resolve(response: Response): void; reject(err: Error): void };

  constructor(readonly req: { method?: string }) {
    this.response = new Promise((resolve, reject) => (this.settle = { resolve, reject }));
  }

  get destroyed(): boolean {
    return this.body.destroyed;
  }

  writeHead(status: number, headers: string[] | Record<string, string> = []): void {
    const flat = Array.isArray(headers) ? headers : Object.entries(headers).flat();
    const pairs: Array<[string, string]> = [];
    for (let index = 0; index < flat.length; index += 2) pairs.push([flat[index]!, flat[index + 1]!]);
    this.head = { status, headers: pairs };
  }

  flushHeaders(): void {
    this.deliver();
  }

  write(chunk: Uint8Array): boolean {
    this.deliver();
    return this.body.write(chunk);
  }

  end(text?: string): void {
    this.deliver();
    if (text !== undefined) this.body.write(text);
    this.body.end();
  }

  destroy(error?: Error): void {
    this.fail(error ?? new Error('response aborted'));
    this.body.destroy(error);
  }

  /** Trailers have no place in a WHATWG `Response`; they are dropped. */
  addTrailers(): void {}

  on(event: 'drain' | 'close', listener: () => void): void {
    this.body.on(event, listener);
  }

  off(event: 'drain' | 'close', listener: () => void): void {
    this.body.off(event, listener);
  }

  /** Rejects the response when nothing was sent yet; a started body fails instead. */
  fail(error: Error): void {
    if (this.delivered) return;
    this.delivered = true;
    this.settle.reject(error);
  }

  private deliver(): void {
    if (this.delivered) return;
    this.delivered = true;
    const head = this.head ?? { status: 200, headers: [] };
    try {
      const nullBody = NULL_BODY.has(head.status) || this.req.method === 'HEAD';
      if (nullBody) this.body.resume();
      const stream = nullBody ? null : (Readable.toWeb(this.body) as ReadableStream<Uint8Array>);
      this.settle.resolve(new Response(stream, { status: head.status, headers: head.headers }));
    } catch (err) {
      this.body.resume();
      this.settle.reject(err as Error);
    }
  }
}

/** Header values go to the worker as bytes of their own (a view of Node's pool would carry the whole slab). */
function latin1Bytes(text: string): Uint8Array {
  const bytes = new Uint8Array(text.length);
  for (let index = 0; index < text.length; index++) bytes[index] = text.charCodeAt(index);
  return bytes;
}

export interface InProcessOptions {
  pool: WorkerPool;
  config: HostConfig;
  /** The lines of this request go here (access line, endpoint lines, guest output, host problems). */
  logger: Logger;
  dispatch?: BackendDispatch;
  /** The address the guest sees the client at. */
  clientAddress?: string;
  /** The server's stores (cache, KV, rate limiting), shared with its HTTP requests. */
  services: Services;
}

export interface InProcessExchange {
  id: string;
  response: Promise<Response>;
  /** Settles when the guest is done (which may be after the response was sent). */
  finished: Promise<Finished>;
}

/** Serves one WHATWG `Request` through the guest, in process and without a socket. */
export function serveInProcess(request: Request, options: InProcessOptions): InProcessExchange {
  const { logger } = options;
  const id = requestId();
  const started = process.hrtime.bigint();
  const url = new URL(request.url);
  const sink = new ResponseSink({ method: request.method });
  // A client sends Host first; a WHATWG Request keeps it out of its headers.
  const headers: HeaderList = [['host', latin1Bytes(url.host)]];
  const originalHeaderNames = ['Host'];
  request.headers.forEach((value, name) => {
    if (name === 'host') return;
    headers.push([name, latin1Bytes(value)]);
    originalHeaderNames.push(name);
  });
  const length = request.headers.get('content-length');
  const body = request.body ? Readable.fromWeb(request.body as WebReadableStream<Uint8Array>) : Readable.from([]);
  const run = options.pool.run((reply) => {
    const host = new RequestHost(id, sink, reply, logger, undefined, options.dispatch, options.services);
    const downstream: DownstreamRequest = {
      id,
      method: request.method,
      uri: url.href,
      version: 'http11',
      headers,
      originalHeaderNames,
      body: host.addSource(body),
      knownLength: length !== null && /^\d+$/.test(length) ? BigInt(length) : request.body ? undefined : 0n,
      clientAddress: options.clientAddress ?? '127.0.0.1',
      serverAddress: '127.0.0.1',
    };
    return { host, message: { kind: 'run', request: downstream, env: guestEnvironment(options.config, id) } };
  });
  const finished = run.then(
    ({ host, finished }) => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      logger.info(`${id} "${request.method} ${url.pathname}${url.search}" ${host.status ?? '-'} ${ms.toFixed(1)}ms`);
      return finished;
    },
    (err: Error) => {
      logger.error(`${id}: ${err.message}`);
      sink.fail(err);
      return { kind: 'finished', outcome: 'trap', message: err.message } as Finished;
    },
  );
  return { id, response: sink.response, finished };
}
