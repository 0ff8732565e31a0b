import type { Waitable } from './protocol.js';

/** `Symbol.dispose`, which jco calls on a host resource when the guest drops its handle. */
export const dispose: unique symbol = ((Symbol as unknown as { dispose?: symbol }).dispose ?? Symbol.for('dispose')) as never;

/**
 * Readiness as the worker knows it: settled locally (`true` / `false` for never), or
 * dependent on something the main thread holds.
 */
export type Readiness = boolean | Waitable;

/**
 * Whether `readiness` holds now, without blocking: settled locally, or remote and the main
 * thread says so to a zero-timeout wait (`waiter` is asked for only then).
 */
export function readyNow(readiness: Readiness, waiter: () => Waiter): boolean {
  return typeof readiness === 'boolean' ? readiness : waiter().wait([readiness], 0) !== null;
}

/**
 * `async-io.pollable`: the one resource type behind bodies, pending responses and the other
 * asynchronous handles of the ABI (`use async-io.{pollable as body}` aliases it).
 */
export class Pollable {
  /** Overridden by every kind of handle; the base class is what `new-ready` returns. */
  readiness(): Readiness {
    return true;
  }

  /** Asked about remote readiness; kinds whose `readiness` can be remote override it. */
  protected waiter(): Waiter {
    throw new Error('this pollable has no line to the main thread');
  }

  /** `is-ready`: never blocks (see `readyNow`). */
  isReady(): boolean {
    return readyNow(this.readiness(), () => this.waiter());
  }

  static newReady(): Pollable {
    return new Pollable();
  }
}

/** How many `Subscription`s a session has made that the guest has not dropped yet. */
export class Subscriptions {
  held = 0;
}

/**
 * A pollable the host makes only to be waited on and dropped: `subscribe` and `step` of cache
 * entries, replace entries and HTTP-cache entries, which the adapter calls inside `select` /
 * `is_ready` for tagged handles. The session counts those not dropped yet, and a run that ends
 * with any is reported: the adapter must drop every pollable it makes (one leaked per `select`
 * would grow without bound in a reused sandbox).
 */
export class Subscription extends Pollable {
  private dropped = false;

  constructor(
    private readonly source: { readiness(): Readiness },
    private readonly line: Waiter,
    private readonly count: Subscriptions,
  ) {
    super();
    count.held++;
  }

  override readiness(): Readiness {
    return this.source.readiness();
  }

  protected override waiter(): Waiter {
    return this.line;
  }

  [dispose](): void {
    if (this.dropped) return;
    this.dropped = true;
    this.count.held--;
  }
}

export interface Waiter {
  /** Index of the first ready item, or null when `timeoutMs` passed first (null = no timeout). */
  wait(items: Waitable[], timeoutMs: number | null): number | null;
}

/** Index of the first ready pollable, blocking on the main thread as needed; null on timeout. */
export function selectReady(handles: Pollable[], timeoutMs: number | null, waiter: Waiter): number | null {
  // Without a timeout an empty list could never answer; with one it waits the timeout out
  // (select-with-timeout answers none, as Viceroy's does).
  if (handles.length === 0 && timeoutMs === null) throw new Error('async-io.select: empty list of handles');
  const remote: Waitable[] = [];
  const remoteIndex: number[] = [];
  for (const [index, handle] of handles.entries()) {
    const readiness = handle.readiness();
    if (readiness === true) return index;
    if (readiness !== false) {
      remote.push(readiness);
      remoteIndex.push(index);
    }
  }
  if (remote.length === 0) {
    if (timeoutMs === null) throw new Error('async-io.select: none of the handles can ever become ready');
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, timeoutMs);
    return null;
  }
  const found = waiter.wait(remote, timeoutMs);
  return found === null ? null : remoteIndex[found]!;
}
