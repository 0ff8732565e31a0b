import { Body } from '../body.js';
import { fail, HostError } from '../errors.js';
import { applyEdits, Headers } from '../headers.js';
import { Request, Response } from '../messages.js';
import { dispose, Pollable, type Readiness, type Waiter } from '../pollable.js';
import type { HeaderEdit, OutgoingBody } from '../protocol.js';
import type { Session } from '../session.js';
import { BackendHandle } from './backend.js';
import type { HostInterface } from '../host-types.js';

/** `http-req.pending-response`: a backend request in flight on the main thread. */
export class PendingResponse extends Pollable {
  private taken = false;
  /** `*-header-pending` edits: for the backend's response, and for the error response sent in its place. */
  readonly responseEdits: HeaderEdit[] = [];
  readonly errorEdits: HeaderEdit[] = [];

  constructor(
    readonly session: Session,
    readonly id: number,
  ) {
    super();
  }

  override readiness(): Readiness {
    return { pending: this.id };
  }

  protected override waiter(): Waiter {
    return this.session;
  }

  /** Blocks until the backend answered; errors become `error-with-detail`. */
  take(): [Response, Body] {
    this.claim();
    const { result } = this.session.channel.call({ op: 'await-response', pending: this.id });
    if ('err' in result) {
      throw new HostError({ detail: { tag: result.err, ...detailPayload(result.err) }, error: { tag: 'generic-error' } });
    }
    const response = new Response();
    response.status = result.ok.status;
    response.version = result.ok.version;
    // The platform applies edits made for the response to whoever receives it, the guest included.
    response.headers = new Headers(applyEdits(result.ok.headers, this.responseEdits));
    response.remoteAddress = result.ok.remoteAddress;
    response.remotePort = result.ok.remotePort;
    return [response, Body.fromSource(this.session.channel, result.ok.body, result.ok.knownLength)];
  }

  /** `send-downstream-pending`: the main thread sends the response on when it comes, without the guest waiting. */
  forwardDownstream(): void {
    this.claim();
    this.session.channel.notify({ op: 'respond-pending', pending: this.id, responseEdits: this.responseEdits, errorEdits: this.errorEdits });
  }

  private claim(): void {
    if (this.taken) fail('invalid-argument');
    this.taken = true;
  }

  [dispose](): void {
    if (!this.taken) this.session.channel.notify({ op: 'drop-pending', pending: this.id });
  }
}

/** Cases of `send-error-detail` that carry a record need one, even if empty. */
function detailPayload(tag: string): { val?: unknown } {
  if (tag === 'dns-error') return { val: { rcode: undefined, infoCode: undefined } };
  return {};
}

class ExtraCacheOverrideDetails {}
class ExtraSendErrorDetail {}

/** Functions returning `error-with-detail` report plain errors with no detail. */
function withDetail<T>(compute: () => T): T {
  try {
    return compute();
  } catch (err) {
    if (err instanceof HostError && !('detail' in (err.payload as object))) throw new HostError({ detail: undefined, error: err.payload });
    throw err;
  }
}

function asBackend(backend: unknown): BackendHandle {
  if (!(backend instanceof BackendHandle)) fail('invalid-argument');
  return backend;
}

/** Answers a send from a cache instead of the backend when it applies (`start` sends it uncached). */
export type SendThroughCache = (session: Session, request: Request, start: () => PendingResponse) => PendingResponse | undefined;

export function httpReq(session: Session, throughCache?: SendThroughCache) {
  function start(request: Request, body: OutgoingBody, backend: unknown): PendingResponse {
    const spec = asBackend(backend).spec;
    const pending = new PendingResponse(session, session.allocatePending());
    const decompressGzip = request.autoDecompress?.gzip === true;
    session.channel.notify({ op: 'send-request', pending: pending.id, method: request.method, uri: request.uri, head: request.head(), backend: spec, body, decompressGzip });
    return pending;
  }
  const uncachedAsync = (request: Request, body: Body, backend: unknown) => start(request, body.transfer(), backend);
  const sendAsync = (request: Request, body: Body, backend: unknown) => {
    asBackend(backend);
    return throughCache?.(session, request, () => uncachedAsync(request, body, backend)) ?? uncachedAsync(request, body, backend);
  };
  const sendAsyncStreaming = (request: Request, body: Body, backend: unknown) => start(request, body.startStreaming(), backend);
  const send = (request: Request, body: Body, backend: unknown) => withDetail(() => sendAsync(request, body, backend).take());
  const sendUncached = (request: Request, body: Body, backend: unknown) => withDetail(() => uncachedAsync(request, body, backend).take());
  return {
    Request,
    ExtraCacheOverrideDetails,
    ExtraSendErrorDetail,
    send,
    sendUncached,
    sendAsync,
    sendAsyncUncached: uncachedAsync,
    sendAsyncStreaming,
    sendAsyncUncachedStreaming: sendAsyncStreaming,
    awaitResponse: (pending: Pollable) =>
      withDetail(() => {
        if (!(pending instanceof PendingResponse)) fail('invalid-argument');
        return pending.take();
      }),
    close(): void {},
    // Viceroy has no WebSocket upgrade either (`NotAvailable`, which components see as `generic-error`);
    // `redirect-to-websocket-proxy` is the way through.
    upgradeWebsocket(): void {
      fail('generic-error');
    },
  };
}

// Checked against the WIT (see ../host-types.ts).
httpReq satisfies (session: Session) => HostInterface<'fastly:compute/http-req'>;
