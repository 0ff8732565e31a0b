import type { HostInterface } from '../host-types.js';
import { Body } from '../body.js';
import { checkOpenName, fail, fitString, HostError } from '../errors.js';
import { dispose, Pollable, type Readiness } from '../pollable.js';
import type { Session } from '../session.js';
import { sessionView } from '../session-view.js';
import { KV_MAX_VALUE_BYTES, kvKeyProblem, type KvErrorCase, type KvFound, type KvInsertMode } from '../services/kv.js';

/**
 * `fastly:compute/kv-store` (and, through the adapter, legacy `fastly_kv_store` and
 * `fastly_object_store`). The stores live on the main thread (`src/server/services/kv.ts`);
 * each operation is one call there. The asynchronous variants run the operation when they are
 * started, so their pending handles are settled from birth: ready in `select` and `is-ready`,
 * and their `await-*` hands over the outcome (an error of the operation included).
 */

/** `kv-store.insert-options` as jco passes the record. */
interface InsertOptions {
  backgroundFetch: boolean;
  ifGenerationMatch?: bigint;
  metadata?: string;
  timeToLiveSec?: number;
  mode: KvInsertMode;
}

/** `kv-store.list-options` (the consistency `mode` makes no difference to a single local store). */
interface ListOptions {
  cursor?: string;
  limit?: number;
  prefix?: string;
}

type Outcome<T> = { ok: T } | { err: unknown };

const kvFail = (tag: KvErrorCase): never => {
  throw new HostError({ tag });
};

/** Reads the guest's body whole (the value to store) and consumes it. */
function drain(body: Pollable): Uint8Array {
  if (!(body instanceof Body)) fail('invalid-argument');
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    for (;;) {
      const chunk = body.read(64 * 1024);
      if (chunk.length === 0) break;
      total += chunk.length;
      // Stop reading a value the store would refuse anyway.
      if (total > KV_MAX_VALUE_BYTES) kvFail('payload-too-large');
      chunks.push(chunk);
    }
  } finally {
    body[dispose]();
  }
  const value = new Uint8Array(total);
  let at = 0;
  for (const chunk of chunks) {
    value.set(chunk, at);
    at += chunk.length;
  }
  return value;
}

/** A found value: its body can be taken once; metadata and generation stay readable. */
class Entry {
  private body: Body | undefined;

  constructor(
    session: Session,
    private readonly found: KvFound,
  ) {
    this.body = Body.fromBytes(session.channel, found.value);
  }

  takeBody(): Body | undefined {
    const body = this.body;
    this.body = undefined;
    return body;
  }

  metadata(maxLen: bigint): string | undefined {
    return this.found.metadata === undefined ? undefined : fitString(this.found.metadata, maxLen);
  }

  generation(): bigint {
    return this.found.generation;
  }
}

/** An operation started by a `*-async` call, already done; `await-*` takes its outcome. */
class PendingKv<T> extends Pollable {
  constructor(
    readonly op: 'lookup' | 'insert' | 'delete' | 'list',
    private readonly outcome: Outcome<T>,
  ) {
    super();
  }

  override readiness(): Readiness {
    return true;
  }

  settle(op: PendingKv<T>['op']): T {
    // A handle of another kind is a guest mix-up the kv-error type can only call generic.
    if (this.op !== op) kvFail('generic-error');
    if ('err' in this.outcome) throw new HostError(this.outcome.err);
    return this.outcome.ok;
  }
}

/** Runs an operation now; its WIT error becomes the pending handle's outcome. */
function settled<T>(op: PendingKv<T>['op'], run: () => T): PendingKv<T> {
  try {
    return new PendingKv(op, { ok: run() });
  } catch (err) {
    if (err instanceof HostError) return new PendingKv<T>(op, { err: err.payload });
    throw err;
  }
}

/** Keys the platform refuses fail before anything crosses to the main thread. */
function checkKey(key: string, asyncCall: boolean): void {
  if (kvKeyProblem(key) === undefined) return;
  // The async calls report through `error`, whose nearest case is a bad argument (the legacy status `inval`, as Viceroy answers).
  if (asyncCall) fail('invalid-argument');
  kvFail('bad-request');
}

class Store {
  private constructor(
    private readonly session: Session,
    private readonly name: string,
  ) {}

  static open(session: Session, name: string): Store {
    checkOpenName(name);
    session.service('kv.open', { store: name });
    return new Store(session, name);
  }

  lookup(key: string): Entry | undefined {
    checkKey(key, false);
    const found = this.session.service('kv.lookup', { store: this.name, key });
    return found && new Entry(this.session, found);
  }

  lookupAsync(key: string): PendingKv<Entry | undefined> {
    checkKey(key, true);
    return settled('lookup', () => this.lookup(key));
  }

  insert(key: string, body: Pollable, options: InsertOptions): void {
    checkKey(key, false);
    let value: Uint8Array;
    try {
      value = drain(body);
    } catch (err) {
      // A body that cannot be read whole (one streaming elsewhere) is a bad request here.
      if (err instanceof HostError && (err.payload as { tag?: string }).tag === 'invalid-argument') kvFail('bad-request');
      throw err;
    }
    this.store(key, value, options);
  }

  insertAsync(key: string, body: Pollable, options: InsertOptions): PendingKv<null> {
    checkKey(key, true);
    let value: Uint8Array;
    try {
      value = drain(body);
    } catch (err) {
      if (err instanceof HostError && (err.payload as { tag?: string }).tag === 'payload-too-large') return new PendingKv<null>('insert', { err: err.payload });
      throw err;
    }
    return settled('insert', () => (this.store(key, value, options), null));
  }

  delete(key: string): boolean {
    checkKey(key, false);
    return this.session.service('kv.delete', { store: this.name, key });
  }

  deleteAsync(key: string): PendingKv<boolean> {
    checkKey(key, true);
    return settled('delete', () => this.delete(key));
  }

  list(options: ListOptions): Body {
    const page = this.session.service('kv.list', { store: this.name, cursor: options.cursor, limit: options.limit, prefix: options.prefix });
    return Body.fromBytes(this.session.channel, page);
  }

  listAsync(options: ListOptions): PendingKv<Body> {
    return settled('list', () => this.list(options));
  }

  private store(key: string, value: Uint8Array, options: InsertOptions): void {
    this.session.service('kv.insert', {
      store: this.name,
      key,
      value,
      mode: options.mode,
      ifGenerationMatch: options.ifGenerationMatch,
      metadata: options.metadata,
      ttlSec: options.timeToLiveSec,
    });
  }
}

/** A pending handle of the right kind (the WIT aliases them all to `pollable`). */
function pending(handle: Pollable): PendingKv<unknown> {
  if (!(handle instanceof PendingKv)) kvFail('generic-error');
  return handle as PendingKv<unknown>;
}

/** Option-bag and error resources reserved for later versions: nothing here makes one. */
class ExtraInsertOptions {}
class ExtraListOptions {}
class ExtraKvError {}

const awaitLookup = (handle: Pollable) => pending(handle).settle('lookup') as Entry | undefined;
const awaitInsert = (handle: Pollable) => void pending(handle).settle('insert');
const awaitDelete = (handle: Pollable) => pending(handle).settle('delete') as boolean;
const awaitList = (handle: Pollable) => pending(handle).settle('list') as Body;

export function kvStore(session: Session): HostInterface<'fastly:compute/kv-store'> {
  return { Store: sessionView(Store, session, ['open']), Entry, ExtraInsertOptions, ExtraListOptions, ExtraKvError, awaitLookup, awaitInsert, awaitDelete, awaitList };
}
