/**
 * `fastly:compute/cache` in the worker: handles over the server-wide
 * store on the main thread (`src/server/services/cache.ts`). A lookup answers all the entry's
 * getters in its one reply (a small complete body inline), so a hit costs one round trip; an
 * entry waiting behind another request's transaction is a pending handle whose `subscribe` /
 * `step` pollables are ready once it can be used, and whose getters block until then.
 */
import { Body } from '../body.js';
import { fail, fitBytes } from '../errors.js';
import type { Request } from '../messages.js';
import { dispose, Pollable, readyNow, Subscription, type Readiness, type Waiter } from '../pollable.js';
import type { HeaderList } from '../protocol.js';
import { bodyRange, cacheWaitKey, sliceRange, type CacheWriteOptions, type EntryView, type LookupState, type ReplaceStrategyName } from '../services/cache.js';
import type { Session } from '../session.js';
import { sessionView } from '../session-view.js';

/**
 * The request a record names, as the WIT declares it: jco's declaration is a nominal stand-in
 * class, and the glue hands over the host's own `Request` (checked in `headersOf`).
 */
type WitRequest = import('../wit-types/interfaces/fastly-compute-http-req.js').Request;

/** The WIT records as jco passes them (camelCase fields, `option` = undefined, u64 = bigint). */
interface LookupOptions {
  requestHeaders?: WitRequest;
  alwaysUseRequestedRange?: boolean;
}
interface ReplaceOptions extends LookupOptions {
  replaceStrategy?: ReplaceStrategyName;
}
interface WriteOptions {
  maxAgeNs: bigint;
  requestHeaders?: WitRequest;
  varyRule?: string;
  initialAgeNs?: bigint;
  staleWhileRevalidateNs?: bigint;
  surrogateKeys?: string;
  length?: bigint;
  userMetadata?: Uint8Array;
  edgeMaxAgeNs?: bigint;
  sensitiveData?: boolean;
}
interface GetBodyOptions {
  from?: bigint;
  to?: bigint;
}

function headersOf(witRequest: WitRequest | undefined): HeaderList | undefined {
  if (witRequest === undefined) return undefined;
  const request = witRequest as unknown as Request;
  if (typeof (request as Partial<Request>).headers?.list !== 'function') fail('invalid-argument');
  return request.headers.list();
}

function writeOptions(options: WriteOptions): CacheWriteOptions {
  const { maxAgeNs, varyRule, initialAgeNs, staleWhileRevalidateNs, surrogateKeys, length, userMetadata, edgeMaxAgeNs, sensitiveData } = options;
  const defined = Object.entries({ varyRule, initialAgeNs, staleWhileRevalidateNs, surrogateKeys, length, userMetadata, edgeMaxAgeNs }).filter(([, value]) => value !== undefined);
  return { maxAgeNs, sensitiveData: sensitiveData ?? false, ...Object.fromEntries(defined) };
}

/**
 * What the worker knows of one main-side entry: the lookup's reply, settled once it no longer
 * waits. Shared by the entry, its pending handle and its pollables.
 */
class EntryCore implements Waiter {
  private view: EntryView;
  /** When the view arrived (ms), for the age. */
  private viewAt = performance.now();
  /** The main side no longer holds it (closed, or consumed by replace-insert). */
  closed = false;
  /** The main side said it is ready, but the guest has not asked for the entry yet. */
  private knownReady = false;

  constructor(
    readonly session: Session,
    view: EntryView,
    readonly alwaysUseRequestedRange: boolean,
  ) {
    this.view = view;
  }

  get handle(): number | undefined {
    return this.view.handle;
  }

  wait(items: Parameters<Waiter['wait']>[0], timeoutMs: number | null): number | null {
    return this.session.wait(items, timeoutMs);
  }

  readiness(): Readiness {
    if (!this.view.pending || this.knownReady || this.closed) return true;
    return { service: cacheWaitKey(this.view.handle!) };
  }

  /** `step`: ready entries have nothing left to wait on. */
  stepReady(): boolean {
    const readiness = this.readiness();
    if (readiness === true) return true;
    this.knownReady = readyNow(readiness, () => this);
    return this.knownReady;
  }

  /** The settled view, blocking until the entry no longer waits behind another transaction. */
  settled(): EntryView {
    if (this.closed) fail('invalid-argument');
    if (this.view.pending) this.replace(this.session.service('cache.await', { handle: this.view.handle! }));
    return this.view;
  }

  replace(view: EntryView): void {
    this.view = view;
    this.viewAt = performance.now();
  }

  state(): LookupState {
    return this.settled().state;
  }

  object(): EntryView['object'] {
    return this.settled().object;
  }

  ageNs(): bigint | undefined {
    const object = this.object();
    if (object === undefined) return undefined;
    return object.ageNs + BigInt(Math.floor((performance.now() - this.viewAt) * 1e6));
  }

  /** A body still being written has no length yet; ask again, as it may have finished since. */
  length(): bigint | undefined {
    const object = this.object();
    if (object === undefined) return undefined;
    if (object.length === undefined && this.view.handle !== undefined) {
      this.replace(this.session.service('cache.refresh', { handle: this.view.handle }));
    }
    return this.view.object?.length;
  }

  body(options: GetBodyOptions): Body | undefined {
    const object = this.object();
    if (object === undefined) return undefined;
    if (object.body !== undefined) {
      const range = bodyRange(object.body.length, options.from, options.to, this.alwaysUseRequestedRange);
      return Body.fromBytes(this.session.channel, sliceRange(object.body, range));
    }
    const { source, knownLength } = this.session.service('cache.get-body', {
      handle: this.view.handle!,
      from: options.from,
      to: options.to,
      alwaysUseRequestedRange: this.alwaysUseRequestedRange,
    });
    return Body.fromSource(this.session.channel, source, knownLength);
  }

  /** The handle the main side knows it by, for calls that need one (none: nothing to act on there). */
  mainHandle(): number {
    const handle = this.settled().handle;
    if (handle === undefined) fail('auxiliary-error');
    return handle;
  }

  /** The obligation was met or given up: the entry no longer must insert. */
  obligationDone(): void {
    this.view = { ...this.view, state: { ...this.view.state, mustInsertOrUpdate: false } };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.view.handle !== undefined) this.session.serviceNotice('cache.close', { handle: this.view.handle });
  }
}

/** A pollable over an entry's readiness (`subscribe`, `step`, and the pending handle of `transaction-lookup-async`). */
class EntryPollable extends Pollable {
  constructor(readonly core: EntryCore) {
    super();
  }
  override readiness(): Readiness {
    return this.core.readiness();
  }
  protected override waiter(): Waiter {
    return this.core;
  }
}

/** `pending-entry`: the busy handle of `transaction-lookup-async` (an `async-io.pollable`). */
class PendingEntry extends EntryPollable {
  /** Turned into an entry by `await-entry`, which takes over the main-side handle. */
  taken = false;
  [dispose](): void {
    if (!this.taken) this.core.close();
  }
}

/** A streaming body whose writes go to the main side's object (`ctx.addSink`). */
function streamingBody(session: Session): { body: Body; sink: number } {
  const body = new Body(session.channel);
  const { sink } = body.startStreaming();
  return { body, sink: sink! };
}

/** Looks a key up on the main side; the entry's core keeps the session. */
function lookup(session: Session, key: Uint8Array, options: LookupOptions, transactional: boolean): EntryCore {
  return new EntryCore(session, session.service('cache.lookup', { key, headers: headersOf(options.requestHeaders), transactional }), options.alwaysUseRequestedRange ?? false);
}

/** What a lookup's entry and a replace entry both read of the main side's object. */
abstract class EntryReads {
  constructor(readonly core: EntryCore) {}

  /** The session the entry was made in. */
  protected get session(): Session {
    return this.core.session;
  }

  getUserMetadata(maxLen: bigint): Uint8Array | undefined {
    const object = this.core.object();
    return object === undefined ? undefined : fitBytes(object.userMetadata, maxLen);
  }
  getLength(): bigint | undefined {
    return this.core.length();
  }
  getMaxAgeNs(): bigint | undefined {
    return this.core.object()?.maxAgeNs;
  }
  getStaleWhileRevalidateNs(): bigint | undefined {
    return this.core.object()?.staleWhileRevalidateNs;
  }
  getAgeNs(): bigint | undefined {
    return this.core.ageNs();
  }
  getHits(): bigint | undefined {
    return this.core.object()?.hits;
  }
  step(): Pollable | undefined {
    return this.core.stepReady() ? undefined : new Subscription(this.core, this.core, this.session.subscriptions);
  }
  subscribe(): Pollable {
    return new Subscription(this.core, this.core, this.session.subscriptions);
  }
  [dispose](): void {
    this.core.close();
  }
}

class Entry extends EntryReads {
  static lookup(session: Session, key: Uint8Array, options: LookupOptions): Entry {
    return new Entry(lookup(session, key, options, false));
  }
  static transactionLookup(session: Session, key: Uint8Array, options: LookupOptions): Entry {
    return new Entry(lookup(session, key, options, true));
  }
  static transactionLookupAsync(session: Session, key: Uint8Array, options: LookupOptions): PendingEntry {
    return new PendingEntry(lookup(session, key, options, true));
  }

  transactionInsert(options: WriteOptions): Body {
    const handle = this.transactionHandle(options);
    const { body, sink } = streamingBody(this.session);
    this.session.service('cache.transaction-insert', { handle, options: writeOptions(options), sink, streamBack: false });
    this.core.obligationDone();
    return body;
  }

  transactionInsertAndStreamBack(options: WriteOptions): [Body, Entry] {
    const handle = this.transactionHandle(options);
    const { body, sink } = streamingBody(this.session);
    const view = this.session.service('cache.transaction-insert', { handle, options: writeOptions(options), sink, streamBack: true });
    this.core.obligationDone();
    return [body, new Entry(new EntryCore(this.session, view!, this.core.alwaysUseRequestedRange))];
  }

  transactionUpdate(options: WriteOptions): void {
    this.session.service('cache.transaction-update', { handle: this.transactionHandle(options), options: writeOptions(options) });
    this.core.obligationDone();
  }

  transactionCancel(): void {
    this.session.service('cache.transaction-cancel', { handle: this.core.mainHandle() });
    this.core.obligationDone();
  }

  getState(): LookupState {
    return this.core.state();
  }
  getBody(options: GetBodyOptions): Body {
    // Viceroy: no object to read is `cannot-read` (legacy `none`).
    return this.core.body(options) ?? fail('cannot-read');
  }

  /**
   * Inserting needs the obligation (else `auxiliary-error`, as Viceroy answers); the write's
   * request headers come from the lookup (Viceroy refuses others as `invalid-argument`).
   */
  transactionHandle(options: WriteOptions): number {
    if (options.requestHeaders !== undefined) fail('invalid-argument');
    if (!this.core.state().mustInsertOrUpdate) fail('auxiliary-error');
    return this.core.mainHandle();
  }
}

class ReplaceEntry extends EntryReads {
  static replace(session: Session, key: Uint8Array, options: ReplaceOptions): ReplaceEntry {
    const view = session.service('cache.replace', { key, headers: headersOf(options.requestHeaders), strategy: options.replaceStrategy ?? 'immediate' });
    return new ReplaceEntry(new EntryCore(session, view, options.alwaysUseRequestedRange ?? false));
  }

  getBody(options: GetBodyOptions): Body | undefined {
    return this.core.body(options);
  }
  getState(): LookupState | undefined {
    return { ...this.core.state(), mustInsertOrUpdate: false };
  }
}

/** Option bags with nothing to set; their WIT constructors are called by the glue. */
class ExtraGetBodyOptions {}
class ExtraLookupOptions {}
class ExtraReplaceOptions {}
class ExtraWriteOptions {}

const asEntry = (handle: unknown): Entry => (handle instanceof Entry ? handle : fail('invalid-argument'));
const asReplace = (handle: unknown): ReplaceEntry => (handle instanceof ReplaceEntry ? handle : fail('invalid-argument'));

export function cacheInterface(session: Session) {
  return {
    Entry: sessionView(Entry, session, ['lookup', 'transactionLookup', 'transactionLookupAsync']),
    ReplaceEntry: sessionView(ReplaceEntry, session, ['replace']),
    ExtraGetBodyOptions,
    ExtraLookupOptions,
    ExtraReplaceOptions,
    ExtraWriteOptions,
    insert(key: Uint8Array, options: WriteOptions): Body {
      const { body, sink } = streamingBody(session);
      session.service('cache.insert', { key, headers: headersOf(options.requestHeaders), options: writeOptions(options), sink });
      return body;
    },
    awaitEntry(handle: Pollable): Entry {
      if (!(handle instanceof PendingEntry) || handle.taken) fail('invalid-argument');
      handle.core.settled();
      handle.taken = true;
      return new Entry(handle.core);
    },
    closePendingEntry(handle: Pollable): void {
      if (!(handle instanceof PendingEntry) || handle.taken) fail('invalid-argument');
      handle.taken = true;
      handle.core.close();
    },
    closeEntry(handle: unknown): void {
      const entry = asEntry(handle);
      // Closing waits for the lookup to finish, as the platform does; an error there still closes.
      try {
        entry.core.settled();
      } finally {
        entry.core.close();
      }
    },
    replaceInsert(handle: unknown, options: WriteOptions): Body {
      const replace = asReplace(handle);
      if (options.requestHeaders !== undefined) fail('invalid-argument');
      const mainHandle = replace.core.mainHandle();
      const { body, sink } = streamingBody(session);
      session.service('cache.replace-insert', { handle: mainHandle, options: writeOptions(options), sink });
      // The main side dropped the handle with the insert.
      replace.core.closed = true;
      return body;
    },
    closeReplaceEntry(handle: unknown): void {
      asReplace(handle).core.close();
    },
  };
}
