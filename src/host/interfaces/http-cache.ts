import type { HostInterface } from '../host-types.js';
import { Body } from '../body.js';
import { fail, fitString, HostError } from '../errors.js';
import { Headers } from '../headers.js';
import {
  applyOverride,
  freshenHeaders,
  headersForClient,
  headersForPreparation,
  headersForStorage,
  isRequestCacheable,
  storageAction,
  suggestedCacheKey,
  suggestWriteOptions,
  type CacheOverrideDetails,
  type StorageAction,
  type WriteSuggestion,
} from '../http-cache-rules.js';
import { Request, Response } from '../messages.js';
import { dispose, Pollable, readyNow, Subscription, type Readiness } from '../pollable.js';
import type { HeaderList } from '../protocol.js';
import type { HttpCacheOutcome, HttpCacheWrite } from '../services/http-cache.js';
import type { Session } from '../session.js';
import { sessionView } from '../session-view.js';
import { BackendHandle } from './backend.js';

/** `http-cache.write-options` as jco passes it. */
interface WriteOptions {
  maxAgeNs: bigint;
  varyRule?: string;
  initialAgeNs?: bigint;
  staleWhileRevalidateNs?: bigint;
  staleIfErrorNs?: bigint;
  surrogateKeys?: string;
  length?: bigint;
  sensitiveData: boolean;
}

interface LookupOptions {
  overrideKey?: Uint8Array;
  backend?: unknown;
}

/** Keys, like the core cache's, are at most 4 KiB. */
const MAX_KEY_LENGTH = 4096;

function asRequest(value: unknown): Request {
  if (!(value instanceof Request)) fail('invalid-argument');
  return value;
}

function asResponse(value: unknown): Response {
  if (!(value instanceof Response)) fail('invalid-argument');
  return value;
}

function overrideOf(request: Request): CacheOverrideDetails | undefined {
  const override = request.cacheOverride as { tag: string; val?: CacheOverrideDetails };
  return override.tag === 'override' ? override.val : undefined;
}

/** The guest's write options, with the fields it left out taken from the response, as the platform suggests them. */
function writeOptions(options: WriteOptions, response: Response, request: Request): HttpCacheWrite {
  const suggested = applyOverride(suggestWriteOptions({ status: response.status, headers: response.headers.list() }, Date.now()), overrideOf(request));
  return {
    maxAgeNs: options.maxAgeNs,
    varyRule: options.varyRule ?? suggested.varyRule,
    initialAgeNs: options.initialAgeNs ?? suggested.initialAgeNs,
    staleWhileRevalidateNs: options.staleWhileRevalidateNs ?? suggested.staleWhileRevalidateNs,
    staleIfErrorNs: options.staleIfErrorNs ?? suggested.staleIfErrorNs,
    surrogateKeys: options.surrogateKeys ?? suggested.surrogateKeys,
    length: options.length ?? suggested.length,
    sensitiveData: options.sensitiveData,
  };
}

/** `http-cache.suggested-write-options`: what the cache proposes for a response, one getter per field. */
class SuggestedWriteOptions {
  constructor(private readonly suggestion: WriteSuggestion) {}
  getMaxAgeNs(): bigint {
    return this.suggestion.maxAgeNs;
  }
  getVaryRule(maxLen: bigint): string {
    return fitString(this.suggestion.varyRule, maxLen);
  }
  getInitialAgeNs(): bigint {
    return this.suggestion.initialAgeNs;
  }
  getStaleWhileRevalidateNs(): bigint {
    return this.suggestion.staleWhileRevalidateNs;
  }
  getStaleIfErrorNs(): bigint {
    return this.suggestion.staleIfErrorNs;
  }
  getSurrogateKeys(maxLen: bigint): string {
    return fitString(this.suggestion.surrogateKeys, maxLen);
  }
  getLength(): bigint | undefined {
    return this.suggestion.length;
  }
  getSensitiveData(): boolean {
    return this.suggestion.sensitiveData;
  }
}

class ExtraLookupOptions {}
class ExtraWriteOptions {}

/** Ready once the entry no longer waits behind another request's transaction. */

/** An HTTP cache transaction as the guest holds it; the glue sees the class through `sessionView`. */
class Entry {
  /** What the lookup found, once known; cleared by calls that change it on the main thread. */
  private outcome: HttpCacheOutcome | undefined;
  private outcomeAtMs = 0;
  private closed = false;

  private constructor(
    readonly session: Session,
    readonly id: number,
    /** The request as it was looked up with (the suggested backend request copies it). */
    private readonly request: Request,
  ) {}

  static transactionLookup(session: Session, request: unknown, options: LookupOptions): Entry {
    const req = asRequest(request);
    if (options.backend !== undefined && !(options.backend instanceof BackendHandle)) fail('invalid-argument');
    const key = options.overrideKey ?? suggestedCacheKey({ method: req.method, uri: req.uri, headers: req.headers.list() });
    if (key.length === 0 || key.length > MAX_KEY_LENGTH) fail('invalid-argument');
    const { entry } = session.service('http-cache.lookup', { key: key.slice(), headers: req.headers.list() });
    return new Entry(session, entry, snapshot(req));
  }

  readiness(): Readiness {
    return this.outcome !== undefined || this.closed ? true : { service: `http-cache:${this.id}` };
  }

  /** The lookup's outcome, blocking until this entry no longer waits behind another transaction. */
  private resolved(): HttpCacheOutcome {
    if (this.closed) fail('invalid-argument');
    if (!this.outcome) {
      this.outcome = this.session.service('http-cache.await', { entry: this.id });
      this.outcomeAtMs = Date.now();
    }
    return this.outcome;
  }

  private object() {
    return this.resolved().object;
  }

  private mustHold(): void {
    if (!this.resolved().state.mustInsertOrUpdate) fail('invalid-argument');
  }

  /** The body the guest writes the object into, streamed to the store as written. */
  private storeBody(response: Response, options: WriteOptions, streamBack: boolean): [Body, number | undefined] {
    this.mustHold();
    const head = { status: response.status, headers: headersForStorage(response.headers.list()) };
    const body = new Body(this.session.channel);
    const { sink } = body.startStreaming();
    const { entry } = this.session.service('http-cache.insert', { entry: this.id, head, options: writeOptions(options, response, this.request), sink: sink!, streamBack });
    this.outcome = undefined;
    return [body, entry];
  }

  transactionInsert(response: unknown, options: WriteOptions): Body {
    return this.storeBody(asResponse(response), options, false)[0];
  }

  transactionInsertAndStreamBack(response: unknown, options: WriteOptions): [Body, Entry] {
    const [body, entry] = this.storeBody(asResponse(response), options, true);
    return [body, new Entry(this.session, entry!, this.request)];
  }

  private update(response: Response, options: WriteOptions, returnFresh: boolean): number | undefined {
    this.mustHold();
    const stored = this.object();
    if (!stored) fail('invalid-argument');
    // A revalidation's 304 freshens the stored head; any other response replaces it.
    const headers = response.status === 304 ? freshenHeaders(stored!.head.headers, response.headers.list()) : headersForStorage(response.headers.list());
    const status = response.status === 304 ? stored!.head.status : response.status;
    const { entry } = this.session.service('http-cache.update', { entry: this.id, head: { status, headers }, options: writeOptions(options, response, this.request), returnFresh });
    this.outcome = undefined;
    return entry;
  }

  transactionUpdate(response: unknown, options: WriteOptions): void {
    this.update(asResponse(response), options, false);
  }

  transactionUpdateAndReturnFresh(response: unknown, options: WriteOptions): Entry {
    return new Entry(this.session, this.update(asResponse(response), options, true)!, this.request);
  }

  transactionChooseStale(): void {
    this.mustHold();
    this.outcome = this.session.service('http-cache.choose-stale', { entry: this.id });
    this.outcomeAtMs = Date.now();
  }

  transactionRecordNotCacheable(options: WriteOptions): void {
    this.mustHold();
    this.session.service('http-cache.record-not-cacheable', { entry: this.id, maxAgeNs: options.maxAgeNs, varyRule: options.varyRule ?? '' });
    this.outcome = undefined;
  }

  transactionAbandon(): void {
    this.mustHold();
    this.session.service('http-cache.abandon', { entry: this.id });
    this.outcome = undefined;
  }

  /** The request to send to the backend: the looked-up request, revalidating (conditional) when a stale object is there. */
  getSuggestedBackendRequest(): Request {
    const copy = snapshot(this.request);
    const stored = this.object();
    if (stored && this.resolved().state.mustInsertOrUpdate) {
      // RFC 9111 §4.3.1: validators of the stored response make the request conditional.
      const stale = new Headers(stored.head.headers);
      const etag = stale.values('etag')[0];
      const modified = stale.values('last-modified')[0];
      if (etag && copy.headers.values('if-none-match').length === 0) copy.headers.insert('if-none-match', etag);
      if (modified && copy.headers.values('if-modified-since').length === 0) copy.headers.insert('if-modified-since', modified);
    }
    return copy;
  }

  getSuggestedWriteOptions(response: unknown): SuggestedWriteOptions {
    const res = asResponse(response);
    return new SuggestedWriteOptions(applyOverride(suggestWriteOptions({ status: res.status, headers: res.headers.list() }, Date.now()), overrideOf(this.request)));
  }

  prepareResponseForStorage(response: unknown): [StorageAction, Response] {
    const res = asResponse(response);
    const stored = this.object();
    const action = storageAction({ status: res.status, headers: res.headers.list() }, { headers: this.request.headers.list() }, stored !== undefined);
    const prepared = new Response();
    prepared.version = res.version;
    if (action === 'update') {
      prepared.status = stored!.head.status;
      prepared.headers = new Headers(freshenHeaders(stored!.head.headers, res.headers.list()));
    } else {
      prepared.status = res.status;
      prepared.headers = new Headers(action === 'insert' ? headersForPreparation(res.headers.list()) : res.headers.list());
    }
    return [action, prepared];
  }

  getFoundResponse(transformForClient: number): [Response, Body] | undefined {
    const outcome = this.resolved();
    const stored = outcome.object;
    if (!stored || !(outcome.state.usable || outcome.state.found)) return undefined;
    const response = new Response();
    response.status = stored.head.status;
    response.headers = new Headers(transformForClient !== 0 ? headersForClient(stored.head.headers, this.ageNow()!) : stored.head.headers);
    const { source, knownLength } = this.session.service('http-cache.body', { entry: this.id });
    return [response, Body.fromSource(this.session.channel, source, knownLength)];
  }

  private ageNow(): bigint | undefined {
    const stored = this.object();
    return stored && stored.ageNs + BigInt(Date.now() - this.outcomeAtMs) * 1_000_000n;
  }

  getState() {
    return this.resolved().state;
  }
  getLength(): bigint | undefined {
    return this.object()?.length;
  }
  getMaxAgeNs(): bigint | undefined {
    return this.object()?.maxAgeNs;
  }
  getStaleWhileRevalidateNs(): bigint | undefined {
    return this.object()?.staleWhileRevalidateNs;
  }
  getStaleIfErrorNs(): bigint | undefined {
    return this.object()?.staleIfErrorNs;
  }
  getAgeNs(): bigint | undefined {
    return this.ageNow();
  }
  getHits(): bigint | undefined {
    return this.object()?.hits;
  }
  getSensitiveData(): boolean | undefined {
    return this.object()?.sensitiveData;
  }
  getSurrogateKeys(maxLen: bigint): string | undefined {
    const keys = this.object()?.surrogateKeys;
    return keys === undefined ? undefined : fitString(keys, maxLen);
  }
  getVaryRule(maxLen: bigint): string | undefined {
    const rule = this.object()?.varyRule;
    return rule === undefined ? undefined : fitString(rule, maxLen);
  }

  /** A pollable ready once the entry can be used. */
  subscribe(): Pollable {
    return new Subscription(this, this.session, this.session.subscriptions);
  }

  /** The next thing the entry waits on, or none once it is ready. */
  step(): Pollable | undefined {
    // Ready as soon as the main thread could give the outcome, not only once it was fetched:
    // a step that kept answering an already-ready pollable would have the published adapter's
    // `select` step it forever.
    return readyNow(this.readiness(), () => this.session) ? undefined : new Subscription(this, this.session, this.session.subscriptions);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.session.serviceNotice('http-cache.close', { entry: this.id });
  }

  [dispose](): void {
    this.close();
  }
}

export function httpCache(session: Session): HostInterface<'fastly:compute/http-cache'> {
  return {
    Entry: sessionView(Entry, session, ['transactionLookup']),
    ExtraLookupOptions,
    ExtraWriteOptions,
    SuggestedWriteOptions,
    isRequestCacheable: (request: unknown): boolean => isRequestCacheable(asRequest(request)),
    getSuggestedCacheKey(request: unknown, maxLen: bigint): Uint8Array {
      const req = asRequest(request);
      const key = suggestedCacheKey({ method: req.method, uri: req.uri, headers: req.headers.list() });
      if (BigInt(key.length) > maxLen) throw new HostError({ tag: 'buffer-len', val: BigInt(key.length) });
      return key;
    },
    closeEntry(entry: unknown): void {
      if (!(entry instanceof Entry)) fail('invalid-argument');
      entry.close();
    },
  };
}

/** A copy of a request's head, so later changes by the guest do not alter the transaction. */
function snapshot(request: Request): Request {
  const copy = new Request();
  copy.method = request.method;
  copy.uri = request.uri;
  copy.version = request.version;
  copy.headers = new Headers(request.headers.list() as HeaderList);
  copy.cacheOverride = request.cacheOverride;
  copy.autoDecompress = request.autoDecompress;
  return copy;
}
