import { afterEach, describe, expect, it, vi } from 'vitest';
import type { SyncReply, WorkerToMain } from '../src/host/protocol.js';
import type { GuestWorker, WorkerPool } from '../src/server/pool.js';
import type { RequestHost } from '../src/server/request-host.js';
import { DEFAULT_SANDBOX_LIMITS, Sandboxes, type Incoming, type SandboxLimits } from '../src/server/sandboxes.js';

/*
 * The sandbox registry on its own, with a fake pool and fake workers: who gets which request,
 * when, and what a sandbox hears back.
 */

class FakeHost {
  nextRequestReady: (() => boolean) | undefined;
  wakes = 0;
  finished = 0;
  constructor(readonly id: string) {}
  wake() {
    this.wakes++;
  }
  handle(message: WorkerToMain) {
    if (message.kind === 'finished') this.finished++;
    return undefined;
  }
}

class FakeWorker {
  blocked = false;
  replies: SyncReply[] = [];
  constructor(public host: FakeHost) {}
  rebind(host: FakeHost) {
    this.host = host;
  }
  reply(message: SyncReply) {
    this.blocked = false;
    this.replies.push(message);
  }
}

function fakePool() {
  const runs: Array<(reply: (message: SyncReply) => void) => unknown> = [];
  const pool = {
    intercept: undefined as ((worker: GuestWorker, message: WorkerToMain) => boolean) | undefined,
    onPump: undefined as (() => void) | undefined,
    slots: 2,
    hasComputeSlot: () => pool.slots > 0,
    runUnlessTaken: (prepare: (reply: (message: SyncReply) => void) => unknown) => {
      runs.push(prepare);
      return new Promise(() => {});
    },
  };
  return { pool, runs };
}

function incoming(name: string) {
  const events: string[] = [];
  const value: Incoming = {
    prepare: () => {
      events.push('prepared');
      return { host: new FakeHost(name) as unknown as RequestHost, message: { kind: 'run', request: { id: name } as never, env: { FASTLY_TRACE_ID: name } } };
    },
    reused: (sandbox, index) => events.push(`reused ${sandbox} #${index}`),
    failed: (err) => events.push(`failed ${err.message}`),
  };
  return { value, events };
}

function setup(limits: Partial<SandboxLimits> = {}) {
  const { pool, runs } = fakePool();
  const sandboxes = new Sandboxes(pool as unknown as WorkerPool, { ...DEFAULT_SANDBOX_LIMITS, ...limits });
  const send = (worker: FakeWorker, message: WorkerToMain) => pool.intercept!(worker as unknown as GuestWorker, message);
  const register = (worker: FakeWorker, extra: Partial<{ timeoutMs: number; served: number; ageMs: number; memoryBytes: number }> = {}) =>
    send(worker, { kind: 'notice', op: 'next-request', timeoutMs: 5_000, served: 1, ageMs: 0, memoryBytes: 0, ...extra });
  /** The guest parks on its pending request's readiness, then asks for the request. */
  const awaitRequest = (worker: FakeWorker) => send(worker, { kind: 'call', op: 'await-request', deadline: Date.now() + 5_000 });
  return { pool, runs, sandboxes, send, register, awaitRequest };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('the sandbox registry', () => {
  it('hands requests in arrival order to the longest-waiting sandboxes, the rest to the pool', () => {
    const { sandboxes, runs, register, awaitRequest } = setup();
    const older = new FakeWorker(new FakeHost('r1'));
    const newer = new FakeWorker(new FakeHost('r2'));
    register(older);
    register(newer);
    expect(sandboxes.waitingCount).toBe(2);
    const [a, b, c] = [incoming('a'), incoming('b'), incoming('c')];
    sandboxes.dispatch(a.value);
    sandboxes.dispatch(b.value);
    sandboxes.dispatch(c.value);
    expect(older.host.nextRequestReady!()).toBe(true);
    expect(older.host.wakes).toBe(1);
    expect(runs).toHaveLength(1);
    const previous = older.host;
    awaitRequest(older);
    // The previous request ended at the hand-over; the sandbox's messages go to the new request.
    expect(previous.finished).toBe(1);
    expect(older.host.id).toBe('a');
    expect(older.replies).toEqual([{ op: 'await-request', next: { request: { id: 'a' }, env: { FASTLY_TRACE_ID: 'a' } } }]);
    expect(a.events).toEqual(['prepared', 'reused r1 #2']);
    awaitRequest(newer);
    expect(newer.host.id).toBe('b');
    expect(c.events).toEqual([]);
    // The pool's worker takes the third.
    runs[0]!(() => {});
    expect(c.events).toEqual(['prepared']);
  });

  it('answers await-request once a request is handed over, or at the timeout with none', () => {
    vi.useFakeTimers();
    const { sandboxes, register, awaitRequest } = setup();
    const waiting = new FakeWorker(new FakeHost('r1'));
    const idle = new FakeWorker(new FakeHost('r2'));
    register(waiting);
    register(idle, { timeoutMs: 100 });
    awaitRequest(waiting);
    awaitRequest(idle);
    expect(waiting.replies).toEqual([]);
    const a = incoming('a');
    sandboxes.dispatch(a.value);
    expect(waiting.replies).toEqual([{ op: 'await-request', next: { request: { id: 'a' }, env: { FASTLY_TRACE_ID: 'a' } } }]);
    expect(idle.replies).toEqual([]);
    vi.advanceTimersByTime(150);
    expect(idle.replies).toEqual([{ op: 'await-request' }]);
  });

  it('wakes a parked sandbox only while a guest may compute', () => {
    const { pool, sandboxes, runs, register } = setup();
    const worker = new FakeWorker(new FakeHost('r1'));
    register(worker);
    worker.blocked = true;
    pool.slots = 0;
    const a = incoming('a');
    sandboxes.dispatch(a.value);
    expect(worker.host.nextRequestReady!()).toBe(false);
    pool.slots = 1;
    pool.onPump!();
    expect(worker.host.nextRequestReady!()).toBe(true);
    // Counted as computing from now on.
    expect(worker.blocked).toBe(false);
    // The pool's run for it, when it comes, finds it taken.
    expect(runs[0]!(() => {})).toBeUndefined();
  });

  it('refuses to wait beyond its limits: the wait ends at once and await-request answers none', () => {
    const { sandboxes, register, awaitRequest } = setup({ maxWaiting: 1, maxRequests: 3, maxAgeMs: 1000, maxMemoryBytes: 1 << 20 });
    const first = new FakeWorker(new FakeHost('r1'));
    register(first);
    for (const extra of [{}, { served: 3 }, { ageMs: 1000 }, { memoryBytes: 1 << 20 }]) {
      const worker = new FakeWorker(new FakeHost('x'));
      register(worker, { ...extra });
      expect(worker.host.nextRequestReady!()).toBe(true);
      awaitRequest(worker);
      expect(worker.replies).toEqual([{ op: 'await-request' }]);
    }
    expect(sandboxes.waitingCount).toBe(1);
    expect(first.host.nextRequestReady!()).toBe(false);
  });

  it('ends the wait at the timeout, and on drain', () => {
    vi.useFakeTimers();
    const { sandboxes, register, awaitRequest } = setup();
    const timed = new FakeWorker(new FakeHost('r1'));
    const drained = new FakeWorker(new FakeHost('r2'));
    register(timed, { timeoutMs: 100 });
    register(drained, { timeoutMs: 10_000 });
    vi.advanceTimersByTime(150);
    expect(timed.host.nextRequestReady!()).toBe(true);
    expect(timed.host.wakes).toBe(1);
    expect(drained.host.nextRequestReady!()).toBe(false);
    sandboxes.drain();
    expect(drained.host.nextRequestReady!()).toBe(true);
    awaitRequest(drained);
    expect(drained.replies).toEqual([{ op: 'await-request' }]);
    // After a drain nothing registers.
    const late = new FakeWorker(new FakeHost('r3'));
    register(late);
    expect(late.host.nextRequestReady!()).toBe(true);
    expect(sandboxes.waitingCount).toBe(0);
  });

  it('a sandbox that ends (trap, exit) or abandons before taking its request passes it on, first in line', () => {
    const { sandboxes, runs, send, register, awaitRequest } = setup();
    const trapping = new FakeWorker(new FakeHost('r1'));
    register(trapping);
    const [a, b] = [incoming('a'), incoming('b')];
    sandboxes.dispatch(a.value);
    sandboxes.dispatch(b.value);
    // `b` went to the pool; `a` is handed to the sandbox, which traps before taking it.
    expect(send(trapping, { kind: 'finished', outcome: 'trap', message: 'boom' })).toBe(false);
    expect(runs).toHaveLength(2);
    const abandoning = new FakeWorker(new FakeHost('r2'));
    register(abandoning);
    // The oldest queued request (`a`) goes to the newly waiting sandbox, which abandons it.
    expect(abandoning.host.nextRequestReady!()).toBe(true);
    send(abandoning, { kind: 'notice', op: 'next-request-abandon' });
    expect(sandboxes.waitingCount).toBe(0);
    const taker = new FakeWorker(new FakeHost('r3'));
    register(taker);
    awaitRequest(taker);
    expect(taker.host.id).toBe('a');
    // `b` is still the pool's.
    runs[0]!(() => {});
    expect(b.events).toEqual(['prepared']);
  });
});
