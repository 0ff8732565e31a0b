/**
 * The readthrough cache on `send`: a GET or HEAD request whose cache override sets a TTL,
 * stale-while-revalidate, PCI or a surrogate key goes through the HTTP cache. A fresh object is
 * answered from the cache (`x-cache: HIT`); otherwise the request holding the key's transaction
 * asks the backend and stores the answer by the HTTP cache rules, with the override's values
 * winning (`x-cache: MISS`), while concurrent requests for the key wait for it (collapsing).
 * `x-cache` / `x-cache-hits` are what a response that went through Fastly's cache carries, and
 * `Surrogate-Key` / `Surrogate-Control` are removed unless the request has `Fastly-FF` or
 * `Fastly-Debug` (as the platform delivers them; the js-compute runtime mirrors both rules for
 * its guest-side cache).
 */
import { Body } from '../body.js';
import { HostError } from '../errors.js';
import { applyEdits, Headers } from '../headers.js';
import {
  applyOverride,
  freshenHeaders,
  headersForClient,
  headersForStorage,
  isRequestCacheable,
  storageAction,
  suggestedCacheKey,
  suggestWriteOptions,
  type CacheOverrideDetails,
} from '../http-cache-rules.js';
import { Request, Response } from '../messages.js';
import { dispose, type Readiness } from '../pollable.js';
import type { HeaderList } from '../protocol.js';
import type { HttpCacheObjectInfo, HttpCacheOutcome } from '../services/http-cache.js';
import type { Session } from '../session.js';
import { PendingResponse } from './http-req.js';

const encoder = new TextEncoder();

/** Response headers the cache answers for itself, kept only for debugging clients (Fastly-FF / Fastly-Debug). */
const SURROGATE_HEADERS = ['surrogate-key', 'surrogate-control'];

/** The override that puts a send through the cache, or undefined (no override, or `pass`). */
export function cachingOverride(request: Request): CacheOverrideDetails | undefined {
  const override = request.cacheOverride as { tag: string; val?: CacheOverrideDetails };
  return override.tag === 'override' && isRequestCacheable(request) ? override.val : undefined;
}

/** Sends the request uncached (the backend call `http-req` makes). */
export type Start = () => PendingResponse;

/** `http-req`'s hook: a send the cache answers, or undefined to send it as is. */
export function cachedSend(session: Session, request: Request, start: Start): PendingResponse | undefined {
  const override = cachingOverride(request);
  return override && new CachedPendingResponse(session, request, override, start);
}

/** A pending response that comes from the HTTP cache, or from the backend through it. */
export class CachedPendingResponse extends PendingResponse {
  private outcome: HttpCacheOutcome | undefined;
  /** The backend request, once this request must fill the key (or pass). */
  private backend: PendingResponse | undefined;
  private claimed = false;
  private closed = false;
  private readonly entry: number;

  constructor(
    session: Session,
    private readonly request: Request,
    private readonly override: CacheOverrideDetails,
    private readonly start: Start,
  ) {
    super(session, 0);
    const key = suggestedCacheKey({ method: request.method, uri: request.uri, headers: request.headers.list() });
    this.entry = session.service('http-cache.lookup', { key, headers: request.headers.list() }).entry;
    // When the lookup need not wait, its backend request (if any) starts now, as `send-async` promises.
    if (session.wait([{ service: this.waitKey() }], 0) !== null) this.resolve();
  }

  private waitKey(): string {
    return `http-cache:${this.entry}`;
  }

  private resolve(): HttpCacheOutcome | undefined {
    if (!this.outcome) {
      try {
        this.outcome = this.session.service('http-cache.await', { entry: this.entry });
      } catch (err) {
        // Only a wait on this request's own transaction fails: that send goes uncached.
        if (!(err instanceof HostError)) throw err;
        this.outcome = { state: { found: false, usable: false, stale: false, mustInsertOrUpdate: false, usableIfError: false } };
      }
      if (!this.outcome.state.usable) this.backend = this.start();
    }
    return this.outcome;
  }

  override readiness(): Readiness {
    if (this.backend) return this.backend.readiness();
    return this.outcome ? true : { service: this.waitKey() };
  }

  override take(): [Response, Body] {
    if (this.claimed) throw new HostError({ tag: 'invalid-argument' });
    this.claimed = true;
    try {
      return this.deliver(this.answer());
    } finally {
      this.close();
    }
  }

  private answer(): [Response, Body] {
    const outcome = this.resolve()!;
    if (outcome.state.usable && outcome.object) return this.found(this.entry, outcome.object, 'HIT');
    const [response, body] = this.backend!.take();
    if (!outcome.state.mustInsertOrUpdate) return this.marked(response, body, 'MISS', 0n);
    const head = { status: response.status, headers: response.headers.list() };
    const options = applyOverride(suggestWriteOptions(head, Date.now()), this.override);
    switch (storageAction(head, { headers: this.request.headers.list() }, outcome.object !== undefined)) {
      case 'insert': {
        const into = new Body(this.session.channel);
        const { sink } = into.startStreaming();
        const stored = { status: response.status, headers: headersForStorage(head.headers) };
        const { entry } = this.session.service('http-cache.insert', { entry: this.entry, head: stored, options, sink: sink!, streamBack: true });
        into.append(body);
        into.close();
        return this.fromEntry(entry!, 'MISS');
      }
      case 'update': {
        const stored = outcome.object!;
        const freshened = { status: stored.head.status, headers: freshenHeaders(stored.head.headers, head.headers) };
        const { entry } = this.session.service('http-cache.update', { entry: this.entry, head: freshened, options, returnFresh: true });
        body[dispose]();
        return this.fromEntry(entry!, 'MISS');
      }
      case 'record-uncacheable':
        this.session.service('http-cache.record-not-cacheable', { entry: this.entry, maxAgeNs: options.maxAgeNs, varyRule: options.varyRule });
        return this.marked(response, body, 'MISS', 0n);
      case 'do-not-store':
        this.session.service('http-cache.abandon', { entry: this.entry });
        return this.marked(response, body, 'MISS', 0n);
    }
  }

  /** The object a stream-back or fresh entry reads, then that entry is dropped. */
  private fromEntry(entry: number, status: 'HIT' | 'MISS'): [Response, Body] {
    try {
      const outcome = this.session.service('http-cache.await', { entry });
      return this.found(entry, outcome.object!, status);
    } finally {
      this.session.serviceNotice('http-cache.close', { entry });
    }
  }

  private found(entry: number, object: HttpCacheObjectInfo, status: 'HIT' | 'MISS'): [Response, Body] {
    const response = new Response();
    response.status = object.head.status;
    response.headers = new Headers(headersForClient(object.head.headers, object.ageNs));
    const { source, knownLength } = this.session.service('http-cache.body', { entry });
    return this.marked(response, Body.fromSource(this.session.channel, source, knownLength), status, status === 'HIT' ? object.hits : 0n);
  }

  private marked(response: Response, body: Body, status: 'HIT' | 'MISS', hits: bigint): [Response, Body] {
    response.headers.insert('x-cache', encoder.encode(status));
    response.headers.insert('x-cache-hits', encoder.encode(String(hits)));
    const debugging = ['fastly-ff', 'fastly-debug'].some((name) => this.request.headers.values(name).length > 0);
    if (!debugging) for (const name of SURROGATE_HEADERS) response.headers.remove(name, false);
    return [response, body];
  }

  private deliver([response, body]: [Response, Body]): [Response, Body] {
    response.headers = new Headers(applyEdits(response.headers.list() as HeaderList, this.responseEdits));
    return [response, body];
  }

  /** `send-downstream-pending`: the answer goes downstream once it is here (the guest does not wait for it). */
  override forwardDownstream(): void {
    const [response, body] = this.take();
    this.session.channel.notify({ op: 'respond', status: response.status, head: response.head(), body: body.transfer() });
  }

  private close(): void {
    if (this.closed) return;
    this.closed = true;
    this.session.serviceNotice('http-cache.close', { entry: this.entry });
  }

  override [dispose](): void {
    this.close();
    if (!this.claimed) this.backend?.[dispose]();
  }
}
