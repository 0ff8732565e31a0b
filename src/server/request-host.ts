import { IncomingMessage, STATUS_CODES } from 'node:http';
import { pipeline, type Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { applyEdits } from '../host/headers.js';
import { isInformational, type AwaitedResponse, type BodySegment, type HeaderList, type Notice, type OutgoingBody, type SendErrorTag, type SyncCall, type SyncReply, type Waitable, type WorkerToMain } from '../host/protocol.js';
import { headerText, SendFailure, startBackendRequest, type BackendDispatch, type Upgraded } from './backend-client.js';
import { InboundSource } from './inbound.js';
import type { Logger } from './logger.js';
import { OutboundBody, settleTrailerHeader, type BodyTarget } from './outbound.js';
import { ServiceError, type BodySink, type ServiceContext, type Services, type UntypedServiceCall } from './services/index.js';

/** A backend's answer; `trailersFrom` is the response whose trailers follow when `stream` is its decoded body. */
type Settled = AwaitedResponse & { stream?: Readable; trailersFrom?: IncomingMessage; upgraded?: Upgraded };

interface Pending {
  betweenBytesTimeoutMs: number;
  result: Settled | undefined;
  settled: Promise<Settled>;
  abort(): void;
}

type Finished = Extract<WorkerToMain, { kind: 'finished' }>;

/**
 * Source ids are unique across requests, not per request: a reused sandbox still holds handles
 * of its earlier requests' sources, and what it does with them (a drop) must not reach the
 * sources of the request it serves now.
 */
let nextSource = 1;

/** A client's connection whose request asked to switch protocols; `joined` once a handoff joined it to a backend's. */
export interface DownstreamUpgrade extends Upgraded {
  joined: boolean;
}

/**
 * Where the downstream response goes: the members of Node's `ServerResponse` this host uses, so
 * that a request can be served without a socket (`in-process.ts`).
 */
export interface DownstreamSink extends BodyTarget {
  writeHead(status: number, headers?: string[] | Record<string, string>): unknown;
  end(text?: string): unknown;
  flushHeaders(): void;
  /** Whether a response without a length goes out chunked (HTTP/1.1). */
  readonly useChunkedEncodingByDefault: boolean;
  readonly req: { method?: string };
}

/**
 * The main-thread side of one guest run: owns the sockets the guest's handles stand for and
 * answers the worker's calls. `respondTo` is the downstream response (absent for commands);
 * `upgrade` is the client's connection when its request asked to switch protocols; `dispatch`
 * starts backend requests.
 */
export class RequestHost {
  private readonly sources = new Map<number, InboundSource>();
  private readonly sinks = new Map<number, BodySink>();
  private readonly pendings = new Map<number, Pending>();
  private listeners: Array<() => void> = [];
  /** Status sent downstream, once the guest responded. */
  status: number | undefined;
  private downstreamBody: OutboundBody | undefined;
  /** Set when the response comes from elsewhere (a pending backend response, a handoff) after the guest may be gone. */
  private forwarding = false;
  /** The hostcall trace's reports so far: trace id, status, trace id, status, … */
  private readonly hostcalls: number[] = [];
  /** Handoffs ride on backend requests with ids of their own, below the worker's. */
  private nextHandoff = -1;
  /**
   * Whether `next-request`'s pending request is ready, as the sandbox registry knows it
   * (`src/server/sandboxes.ts`); without a registry it is ready at its deadline.
   */
  nextRequestReady: (() => boolean) | undefined;

  constructor(
    readonly id: string,
    private readonly respondTo: DownstreamSink | undefined,
    private readonly reply: (message: SyncReply) => void,
    private readonly logger: Logger,
    private readonly upgrade?: DownstreamUpgrade,
    private readonly dispatch: BackendDispatch = startBackendRequest,
    /** The server-wide stores; without them every service call fails as `unsupported`. */
    private readonly services?: Services,
  ) {
    this.serviceContext = {
      requestId: id,
      addSource: (stream) => this.addSource(stream),
      addSink: (sink, target) => void this.sinks.set(sink, target),
    };
  }

  /** What service handlers may ask of this request. */
  private readonly serviceContext: ServiceContext;

  /** `maxBytes` fails reads past that many bytes (a downstream body over the server's limit). */
  addSource(stream: Readable, idleTimeoutMs?: number, trailersFrom = asMessage(stream), maxBytes?: number): number {
    const id = nextSource++;
    this.sources.set(id, new InboundSource(stream, () => this.changed(), idleTimeoutMs, trailersFrom, maxBytes));
    return id;
  }

  /** Handles one message from the worker; returns the outcome once the guest is done. */
  handle(message: WorkerToMain): Finished | undefined {
    if (message.kind === 'finished') {
      this.finish(message);
      return message;
    }
    if (message.kind === 'call') void this.answer(message);
    else this.notice(message);
    return undefined;
  }

  /** Wakes the guest's waits to look again (the sandbox registry's readiness changed). */
  wake(): void {
    this.changed();
  }

  private changed(): void {
    const listeners = this.listeners;
    this.listeners = [];
    for (const listener of listeners) listener();
  }

  private nextChange(): Promise<void> {
    return new Promise((resolve) => this.listeners.push(resolve));
  }

  private async answer(call: SyncCall): Promise<void> {
    try {
      this.reply(await this.compute(call));
    } catch (err) {
      this.logger.error(`${this.id}: host error answering ${call.op}: ${err instanceof Error ? err.stack : String(err)}`);
      this.reply(failedReply(call, err));
    }
  }

  private async compute(call: SyncCall): Promise<SyncReply> {
    switch (call.op) {
      case 'read': {
        const source = this.sources.get(call.source);
        if (!source) return { op: 'read', end: true };
        while (!source.ready()) await this.nextChange();
        try {
          const bytes = source.take(call.max);
          return bytes === undefined ? { op: 'read', end: true, trailers: source.trailers() } : { op: 'read', bytes };
        } catch (err) {
          return { op: 'read', error: (err as Error).message };
        }
      }
      case 'wait':
        return { op: 'wait', index: await this.waitFor(call.items, call.timeoutMs) };
      case 'await-response': {
        const pending = this.pendings.get(call.pending);
        if (!pending) return { op: 'await-response', result: { err: 'internal-error', message: 'unknown pending request' } };
        const { stream, trailersFrom, ...result } = await pending.settled;
        this.pendings.delete(call.pending);
        if ('ok' in result && stream) {
          return { op: 'await-response', result: { ok: { ...result.ok, body: this.addSource(stream, pending.betweenBytesTimeoutMs, trailersFrom) } } };
        }
        return { op: 'await-response', result };
      }
      case 'service': {
        if (!this.services) return { op: 'service', failure: { payload: { tag: 'unsupported' } } };
        try {
          return { op: 'service', result: await this.services.call(call.call, this.serviceContext) };
        } catch (err) {
          if (err instanceof ServiceError) return { op: 'service', failure: { payload: err.payload } };
          throw err;
        }
      }
      // The sandbox registry answers this when there is one; without it no further request comes.
      case 'await-request':
        await this.waitFor([{ until: call.deadline }], null);
        return { op: 'await-request' };
    }
  }

  private isReady(item: Waitable): boolean {
    if ('source' in item) return this.sources.get(item.source)?.ready() ?? true;
    if ('until' in item) return Date.now() >= item.until;
    if ('service' in item) return this.services?.isReady(item.service) ?? true;
    if ('nextRequest' in item) return this.nextRequestReady?.() ?? Date.now() >= item.nextRequest;
    return this.pendings.get(item.pending)?.result !== undefined;
  }

  private async waitFor(items: Waitable[], timeoutMs: number | null): Promise<number | null> {
    let expired = false;
    const timer = timeoutMs === null ? undefined : setTimeout(() => ((expired = true), this.changed()), timeoutMs);
    const deadlines = items.flatMap((item) => {
      const until = 'until' in item ? item.until : 'nextRequest' in item ? item.nextRequest : undefined;
      return until === undefined ? [] : [setTimeout(() => this.changed(), Math.max(0, until - Date.now()))];
    });
    const unwatch = items.some((item) => 'service' in item) ? this.services?.onChange(() => this.changed()) : undefined;
    try {
      for (;;) {
        const index = items.findIndex((item) => this.isReady(item));
        if (index >= 0) return index;
        if (expired) return null;
        await this.nextChange();
      }
    } finally {
      clearTimeout(timer);
      deadlines.forEach(clearTimeout);
      unwatch?.();
    }
  }

  private notice(notice: Notice): void {
    switch (notice.op) {
      case 'send-request':
        return this.sendRequest(notice);
      case 'respond':
        return this.respond(notice);
      case 'respond-pending':
        return this.respondPending(notice);
      case 'handoff':
        return this.handoff(notice);
      case 'handoff-grip':
        return this.handoffGrip(notice.backend);
      case 'sink-write':
        return this.sinks.get(notice.sink)?.bytes(notice.bytes);
      case 'sink-pipe': {
        const source = this.sources.get(notice.source);
        this.sources.delete(notice.source);
        if (source) this.sinks.get(notice.sink)?.source(source);
        return;
      }
      case 'sink-close':
        this.sinks.get(notice.sink)?.end(notice.trailers);
        this.sinks.delete(notice.sink);
        return;
      case 'sink-abort':
        this.sinks.get(notice.sink)?.abort();
        this.sinks.delete(notice.sink);
        return;
      case 'drop-source':
        this.sources.get(notice.source)?.destroy();
        this.sources.delete(notice.source);
        return;
      case 'drop-pending':
        this.pendings.get(notice.pending)?.abort();
        this.pendings.delete(notice.pending);
        return;
      case 'output':
        return this.logger.guestOutput(this.id, notice.stream, notice.line);
      case 'log':
        return this.logger.endpoint(notice.endpoint, notice.line);
      case 'service-notice':
        return this.serviceNotice(notice.call);
      // Registering for a further request concerns the sandbox registry, when there is one.
      case 'next-request':
      case 'next-request-abandon':
        return;
      case 'hostcall':
        this.hostcalls.push(notice.id, notice.status);
        return;
    }
  }

  private serviceNotice(call: UntypedServiceCall): void {
    try {
      const result = this.services?.call(call, this.serviceContext);
      if (result instanceof Promise) result.catch((err: unknown) => this.serviceNoticeFailed(call.method, err));
    } catch (err) {
      this.serviceNoticeFailed(call.method, err);
    }
  }

  private serviceNoticeFailed(method: string, err: unknown): void {
    if (!(err instanceof ServiceError)) this.logger.error(`${this.id}: host error in ${method}: ${err instanceof Error ? err.stack : String(err)}`);
  }

  /** Fills `target` with the body's pieces; streaming bodies stay open for later writes. */
  private feed(target: OutboundBody, body: OutgoingBody): void {
    for (const segment of body.segments) {
      if (segment instanceof Uint8Array) target.bytes(segment);
      else {
        const source = this.sources.get(segment.source);
        this.sources.delete(segment.source);
        if (source) target.source(source);
      }
    }
    if (body.sink === undefined) target.end(body.trailers);
    else this.sinks.set(body.sink, target);
  }

  private sendRequest(notice: Extract<Notice, { op: 'send-request' }>, handoff = false): void {
    let exchange;
    try {
      exchange = this.dispatch(notice.backend, notice.method, notice.uri, notice.head, fixedLength(notice.body), notice.body.trailers);
    } catch (err) {
      const failure = err instanceof SendFailure ? err : new SendFailure('internal-error', String(err));
      const result = { err: failure.tag, message: failure.message };
      this.pendings.set(notice.pending, { betweenBytesTimeoutMs: 0, result, settled: Promise.resolve(result), abort() {} });
      this.changed();
      return;
    }
    const { request } = exchange;
    const pending: Pending = {
      betweenBytesTimeoutMs: notice.backend.betweenBytesTimeoutMs,
      result: undefined,
      settled: exchange.response.then((answer) => {
        const result = notice.decompressGzip ? gunzipped(answer) : answer;
        pending.result = result;
        if ('err' in result) this.logger.error(`${this.id}: backend ${notice.backend.name}: ${result.message}`);
        // Only a handoff joins a connection that switched protocols to the client's; a guest sees a 101 with no body.
        if (!handoff) result.upgraded?.socket.destroy();
        // Unread bodies must not flow (and be lost) before the guest asks for them.
        result.stream?.pause();
        this.changed();
        return result;
      }),
      abort: () => {
        request.destroy();
        void pending.settled.then((result) => result.stream?.destroy());
      },
    };
    this.pendings.set(notice.pending, pending);
    this.feed(
      new OutboundBody(request, () => this.nextChange(), (message) => this.logger.error(`${this.id}: request body to ${notice.backend.name}: ${message}`)),
      notice.body,
    );
  }

  /** `send-downstream-pending`: the backend's response (or an error response in its place) goes downstream when it comes. */
  private respondPending(notice: Extract<Notice, { op: 'respond-pending' }>, handoff = false): void {
    const pending = this.pendings.get(notice.pending);
    // Out of the table, so the guest finishing does not abort what is still on its way.
    this.pendings.delete(notice.pending);
    this.forwarding = true;
    if (!pending) return;
    void pending.settled.then((settled) => {
      const res = this.respondTo;
      if (!res || res.destroyed) {
        settled.stream?.destroy();
        settled.upgraded?.socket.destroy();
        return;
      }
      if ('err' in settled) {
        this.status = errorStatus(settled.err);
        res.writeHead(this.status, settleTrailerHeader(flatten(applyEdits([], notice.errorEdits)), chunksUnframed(res, this.status), undefined));
        res.end(`${settled.message}\n`);
        return;
      }
      const { ok } = settled;
      if (handoff && settled.upgraded) return this.switchProtocols(res, ok.headers, settled.upgraded);
      const headers = applyEdits(ok.headers, notice.responseEdits).filter(([name]) => name !== 'content-length' && name !== 'transfer-encoding');
      if (ok.knownLength !== undefined) headers.push(['content-length', Buffer.from(String(ok.knownLength))]);
      this.status = ok.status;
      res.writeHead(ok.status, settleTrailerHeader(flatten(headers), chunksUnframed(res, ok.status), undefined));
      res.flushHeaders();
      const body = new OutboundBody(res, () => this.nextChange(), (message) => this.logger.error(`${this.id}: response body: ${message}`));
      if (settled.stream) body.source(new InboundSource(settled.stream, () => this.changed(), pending.betweenBytesTimeoutMs, settled.trailersFrom ?? asMessage(settled.stream)));
      body.end();
    });
  }

  /**
   * `redirect-to-websocket-proxy`, as Viceroy's backend handoff: the request goes to the backend
   * and its response, whatever it is, is the downstream response; when that is a 101, the two
   * connections are joined.
   */
  private handoff(notice: Extract<Notice, { op: 'handoff' }>): void {
    const pending = this.nextHandoff--;
    this.sendRequest({ op: 'send-request', pending, method: notice.method, uri: notice.uri, head: notice.head, backend: notice.backend, body: notice.body, decompressGzip: false }, true);
    this.respondPending({ op: 'respond-pending', pending, responseEdits: [], errorEdits: [] }, true);
  }

  /** The backend's 101 goes down, then bytes flow both ways until either side closes, which closes the other. */
  private switchProtocols(res: DownstreamSink, headers: HeaderList, upstream: Upgraded): void {
    const downstream = this.upgrade;
    if (!downstream) {
      upstream.socket.destroy();
      this.logger.error(`${this.id}: the backend switched protocols, but the client did not ask to upgrade`);
      this.status = 502;
      res.writeHead(502, { 'content-type': 'text/plain' });
      res.end('The backend switched protocols, but the client did not ask to upgrade.\n');
      return;
    }
    this.status = 101;
    downstream.joined = true;
    res.writeHead(101, settleTrailerHeader(flatten(headers), false, undefined));
    res.end();
    // Bytes either side sent right after its head were read with it.
    if (downstream.head.length > 0) upstream.socket.write(downstream.head);
    if (upstream.head.length > 0) downstream.socket.write(upstream.head);
    upstream.socket.pipe(downstream.socket);
    downstream.socket.pipe(upstream.socket);
    const closeBoth = () => {
      upstream.socket.destroy();
      downstream.socket.destroy();
    };
    upstream.socket.once('close', closeBoth);
    downstream.socket.once('close', closeBoth);
  }

  /** `redirect-to-grip-proxy`: Viceroy answers this when it runs without Pushpin, as the dev server always does. */
  private handoffGrip(backend: string): void {
    this.forwarding = true;
    this.logger.error(`${this.id}: Pushpin handoff signaled to backend '${backend}', but Pushpin mode is not enabled`);
    const res = this.respondTo;
    if (!res) return;
    this.status = 500;
    res.writeHead(500, { 'content-type': 'text/plain' });
    res.end('Pushpin handoff signaled, but Pushpin mode not enabled.');
  }

  private respond(notice: Extract<Notice, { op: 'respond' }>): void {
    const res = this.respondTo;
    if (isInformational(notice.status)) return this.inform(res, notice);
    if (!res) return;
    const headers: string[] = [];
    for (const [name, value] of notice.head.headers) {
      if (!notice.head.manualFraming && (name === 'content-length' || name === 'transfer-encoding')) continue;
      headers.push(name, headerText(value));
    }
    const length = fixedLength(notice.body);
    if (!notice.head.manualFraming && length !== undefined) headers.push('content-length', String(length));
    this.status = notice.status;
    res.writeHead(notice.status, settleTrailerHeader(headers, chunksUnframed(res, notice.status), notice.body.trailers));
    // Streamed responses go out as the guest writes, not when Node's buffer fills.
    if (notice.body.sink !== undefined) res.flushHeaders();
    this.downstreamBody = new OutboundBody(res, () => this.nextChange(), (message) => this.logger.error(`${this.id}: response body: ${message}`));
    this.feed(this.downstreamBody, notice.body);
  }

  /**
   * An informational response (103 Early Hints, 102, …) goes to the client ahead of the final one,
   * as raw bytes: Node's `writeEarlyHints` writes only a 103 and only with a `link` header. It has
   * no body (one the guest attached is dropped) and no framing headers. HTTP/1.0 clients get none
   * (RFC 9110 §15.2); neither does a response already under way.
   */
  private inform(res: DownstreamSink | undefined, notice: Extract<Notice, { op: 'respond' }>): void {
    for (const segment of notice.body.segments) {
      if (segment instanceof Uint8Array) continue;
      this.sources.get(segment.source)?.destroy();
      this.sources.delete(segment.source);
    }
    // An in-process response (`in-process.ts`) has no connection to put them on, as fetch has no place for them.
    if (!res || !isRawWriter(res) || res.headersSent || res.destroyed || res.req.httpVersion === '1.0') return;
    let head = `HTTP/1.1 ${notice.status} ${STATUS_CODES[notice.status] ?? 'Informational'}\r\n`;
    for (const [name, value] of notice.head.headers) {
      if (name !== 'content-length' && name !== 'transfer-encoding') head += `${name}: ${headerText(value)}\r\n`;
    }
    res._writeRaw(`${head}\r\n`, 'latin1');
  }

  private finish(message: Finished): void {
    // A traced guest's calls, up to a trap or exit too: that is often what the trace is for.
    this.logger.hostcalls?.(this.id, this.hostcalls);
    for (const sink of this.sinks.values()) sink.abort();
    this.sinks.clear();
    this.services?.endRequest(this.id);
    for (const pending of this.pendings.values()) pending.abort();
    this.pendings.clear();
    for (const source of this.sources.values()) source.destroy();
    this.sources.clear();
    if (message.outcome === 'trap') this.logger.error(`${this.id}: guest trapped: ${message.message ?? 'unknown error'}`);
    // Only an adapter (or a component) that forgot a drop leaves these; each is a host object kept alive.
    if (message.undroppedPollables) this.logger.error(`${this.id}: the guest ended holding ${message.undroppedPollables} cache-entry pollable(s) it never dropped (subscribe / step)`);
    if (message.outcome === 'guest-error' && this.respondTo) this.logger.error(`${this.id}: guest ${message.message ?? 'returned an error from its handler'}`);
    const res = this.respondTo;
    if (res && this.status === undefined && !this.forwarding) {
      this.logger.error(`${this.id}: guest finished without sending a response; answering 500`);
      this.status = 500;
      res.writeHead(500, { 'content-type': 'text/plain' });
      res.end('The guest did not send a response.\n');
    }
  }
}

/** The answer to a call whose computation failed on the host: the guest sees an error, never a hang. */
function failedReply(call: SyncCall, err: unknown): SyncReply {
  switch (call.op) {
    case 'read':
      return { op: 'read', error: String(err) };
    case 'wait':
      return { op: 'wait', index: 0 };
    case 'await-response':
      return { op: 'await-response', result: { err: 'internal-error', message: String(err) } };
    case 'service':
      return { op: 'service', crash: String(err) };
    case 'await-request':
      return { op: 'await-request' };
  }
}

/** Node's way to put bytes on a response's connection ahead of its head (`writeProcessing` uses it). */
interface RawWriter {
  _writeRaw(data: string, encoding: BufferEncoding): boolean;
  readonly headersSent: boolean;
  readonly destroyed: boolean;
  readonly req: { httpVersion: string };
}

function isRawWriter(res: DownstreamSink): res is DownstreamSink & RawWriter {
  return typeof (res as unknown as Partial<RawWriter>)._writeRaw === 'function';
}

/** A body entirely in hand, or one whose origin promised a length, has a length to announce; anything streamed does not. */
function fixedLength(body: OutgoingBody): number | undefined {
  // Trailers can only follow a chunked body.
  if (body.sink !== undefined || body.trailers !== undefined) return undefined;
  if (body.knownLength !== undefined) return Number(body.knownLength);
  let length = 0;
  for (const segment of body.segments as BodySegment[]) {
    if (!(segment instanceof Uint8Array)) return undefined;
    length += segment.length;
  }
  return length;
}

/** Whether Node sends this response in chunks when it has no length: HTTP/1.1, and a body to frame. */
function chunksUnframed(res: DownstreamSink, status: number): boolean {
  return res.useChunkedEncodingByDefault && res.req.method !== 'HEAD' && status >= 200 && status !== 204 && status !== 304;
}

/** What Viceroy answers downstream when a forwarded backend request failed. */
function errorStatus(tag: SendErrorTag): number {
  return tag === 'http-response-timeout' ? 504 : tag === 'internal-error' ? 500 : 502;
}

function asMessage(stream: Readable): IncomingMessage | undefined {
  return stream instanceof IncomingMessage ? stream : undefined;
}

function flatten(headers: HeaderList): string[] {
  return headers.flatMap(([name, value]) => [name, headerText(value)]);
}

const GZIP = new Set(['gzip', 'x-gzip']);

/** `set-auto-decompress-response(gzip)`: a gzip body is decoded, its encoding and length dropped, as in Viceroy. */
function gunzipped(answer: Settled): Settled {
  if (!('ok' in answer) || !answer.stream) return answer;
  const encoding = answer.ok.headers.find(([name]) => name === 'content-encoding');
  if (!encoding || !GZIP.has(headerText(encoding[1]))) return answer;
  const headers = answer.ok.headers.filter(([name]) => name !== 'content-encoding' && name !== 'content-length');
  const stream = pipeline(answer.stream, createGunzip(), () => {});
  return { ok: { ...answer.ok, headers, knownLength: undefined }, stream, trailersFrom: asMessage(answer.stream) };
}
