/**
 * Reusable sandboxes: guests that ask for a further downstream request (`next-request`) are
 * registered here as waiting, and an arriving request goes to the sandbox that has waited longest
 * before the pool makes a fresh instance for it — as Viceroy keeps a list of guests waiting in
 * `next-request`. A sandbox waits from `next-request` until its timeout; the request handed to it
 * is delivered when the guest calls `await-request` (its readiness says so before).
 */
import type { RunMessage, SyncReply, WorkerToMain } from '../host/protocol.js';
import type { GuestWorker, WorkerPool } from './pool.js';
import type { RequestHost } from './request-host.js';

export interface SandboxLimits {
  /** Sandboxes that may wait for a request at once; a sandbox that asks beyond it gets `none`. */
  maxWaiting: number;
  /** Requests one sandbox serves before it is retired. */
  maxRequests: number;
  /** Time since a sandbox's first request after which it is retired. */
  maxAgeMs: number;
  /** Linear memory of a sandbox beyond which it is retired. */
  maxMemoryBytes: number;
}

export const DEFAULT_SANDBOX_LIMITS: SandboxLimits = {
  // Half the pool's 32 workers: a waiting sandbox holds a worker thread, and fresh instances
  // must always find workers to run on.
  maxWaiting: 16,
  // The platform publishes no request count; this bounds what state a long-lived sandbox piles up.
  maxRequests: 10_000,
  // Compute's wall-clock limit for one execution of a service.
  maxAgeMs: 120_000,
  // Compute's memory limit for a sandbox (heap of 128 MiB).
  maxMemoryBytes: 128 << 20,
};

type Prepared = { host: RequestHost; message: Extract<RunMessage, { kind: 'run' }>; transfer?: ArrayBuffer[] };

/** A downstream request to serve, as the server hands it over. */
export interface Incoming {
  /** Builds the request's host and message once it is known who answers. */
  prepare(reply: (message: SyncReply) => void): Prepared;
  /** A reused sandbox serves it: `sandbox` is the id of that sandbox's first request, `index` its place there. */
  reused(sandbox: string, index: number): void;
  /** Neither a sandbox nor the pool could take it. */
  failed(err: Error): void;
}

interface Queued {
  incoming: Incoming;
  /** `queued`: not started; then taken by a waiting sandbox or by the pool. */
  state: 'queued' | 'sandbox' | 'pool';
  /** A pool run is outstanding for it (the pool calls back when a worker is free). */
  inPool: boolean;
}

interface Registration {
  deadline: number;
  timer: NodeJS.Timeout | undefined;
  /** Requests the sandbox has served so far. */
  served: number;
  /** Handed to the sandbox, delivered at its `await-request`. */
  assigned: Queued | undefined;
  /** No request will come: timed out, refused by the limits, or the server is draining. */
  ended: boolean;
  /** Set while the guest waits in `await-request`: answers it once a request is handed over or none will come. */
  taker: (() => void) | undefined;
}

interface Sandbox {
  worker: GuestWorker;
  /** Id of the first request it served: the access log names reused sandboxes by it. */
  id: string;
  registration: Registration | undefined;
}

type Notice<Op extends string> = Extract<WorkerToMain, { kind: 'notice'; op: Op }>;

export class Sandboxes {
  private readonly sandboxes = new Map<GuestWorker, Sandbox>();
  /** Registered and not yet handed a request, oldest first. */
  private readonly waiting: Sandbox[] = [];
  /** Requests not started yet, in arrival order. */
  private readonly queue: Queued[] = [];
  private draining = false;

  constructor(
    private readonly pool: WorkerPool,
    private readonly limits: SandboxLimits = DEFAULT_SANDBOX_LIMITS,
  ) {
    pool.intercept = (worker, message) => this.intercept(worker, message);
    pool.onPump = () => this.pump();
  }

  /** Serves a request: on the longest-waiting sandbox, else on a fresh instance from the pool. */
  dispatch(incoming: Incoming): void {
    const queued: Queued = { incoming, state: 'queued', inPool: false };
    this.queue.push(queued);
    this.pump();
    if (queued.state === 'queued') this.toPool(queued);
  }

  /** No sandbox waits any more (shutdown, reload): those waiting get `none`. */
  drain(): void {
    this.draining = true;
    for (const sandbox of this.waiting.splice(0)) this.end(sandbox);
  }

  /** How many sandboxes wait for a request now. */
  get waitingCount(): number {
    return this.waiting.length;
  }

  private toPool(queued: Queued): void {
    queued.inPool = true;
    this.pool
      .runUnlessTaken((reply) => {
        queued.inPool = false;
        if (queued.state !== 'queued') return undefined;
        this.queue.splice(this.queue.indexOf(queued), 1);
        queued.state = 'pool';
        return queued.incoming.prepare(reply);
      })
      .catch((err: Error) => {
        queued.inPool = false;
        if (queued.state === 'sandbox') return;
        const at = this.queue.indexOf(queued);
        if (at >= 0) this.queue.splice(at, 1);
        queued.incoming.failed(err);
      });
  }

  private intercept(worker: GuestWorker, message: WorkerToMain): boolean {
    if (message.kind === 'finished') {
      this.retire(worker);
      return false;
    }
    if (message.kind === 'notice' && message.op === 'next-request') {
      this.register(worker, message);
      return true;
    }
    if (message.kind === 'notice' && message.op === 'next-request-abandon') {
      const sandbox = this.sandboxes.get(worker);
      if (sandbox) this.unregister(sandbox);
      return true;
    }
    if (message.kind === 'call' && message.op === 'await-request') {
      this.awaitRequest(worker);
      return true;
    }
    return false;
  }

  private register(worker: GuestWorker, notice: Notice<'next-request'>): void {
    const host = worker.host;
    if (!host) return;
    let sandbox = this.sandboxes.get(worker);
    if (!sandbox) {
      sandbox = { worker, id: host.id, registration: undefined };
      this.sandboxes.set(worker, sandbox);
    }
    if (sandbox.registration) this.unregister(sandbox);
    const { limits } = this;
    const refused =
      this.draining ||
      notice.served >= limits.maxRequests ||
      notice.ageMs >= limits.maxAgeMs ||
      notice.memoryBytes >= limits.maxMemoryBytes ||
      this.waiting.length >= limits.maxWaiting;
    const registration: Registration = { deadline: Date.now() + notice.timeoutMs, timer: undefined, served: notice.served, assigned: undefined, ended: refused, taker: undefined };
    sandbox.registration = registration;
    host.nextRequestReady = () => registration.assigned !== undefined || registration.ended || Date.now() >= registration.deadline;
    if (refused) return;
    this.waiting.push(sandbox);
    const registered = sandbox;
    registration.timer = setTimeout(() => {
      this.leaveWaiting(registered);
      this.end(registered);
    }, notice.timeoutMs);
    this.pump();
  }

  /** Hands queued requests to waiting sandboxes, oldest to oldest, while guests may compute. */
  private pump(): void {
    while (this.queue.length > 0 && this.waiting.length > 0) {
      const sandbox = this.waiting[0]!;
      const { worker } = sandbox;
      // A sandbox parked in its wait starts computing once woken: it takes a compute slot, which
      // it holds from now (the pool counts it), so a burst does not wake more guests than cores.
      if (worker.blocked) {
        if (!this.pool.hasComputeSlot()) return;
        worker.blocked = false;
      }
      this.waiting.shift();
      const queued = this.queue.shift()!;
      queued.state = 'sandbox';
      const registration = sandbox.registration!;
      clearTimeout(registration.timer);
      registration.assigned = queued;
      worker.host?.wake();
      registration.taker?.();
    }
  }

  /** `await-request`: answered now when a request was handed over or none will come, else once either happens. */
  private awaitRequest(worker: GuestWorker): void {
    const registration = this.sandboxes.get(worker)?.registration;
    if (registration && !registration.assigned && !registration.ended) {
      registration.taker = () => {
        registration.taker = undefined;
        this.deliver(worker);
      };
      return;
    }
    this.deliver(worker);
  }

  /** `await-request`: the request handed to this sandbox, bound to a new host; or none. */
  private deliver(worker: GuestWorker): void {
    const sandbox = this.sandboxes.get(worker);
    const registration = sandbox?.registration;
    if (!sandbox || !registration?.assigned) {
      if (sandbox) this.unregister(sandbox);
      worker.reply({ op: 'await-request' });
      return;
    }
    const queued = registration.assigned;
    sandbox.registration = undefined;
    // The previous request ends here: the guest answered it (`await-request` refuses otherwise).
    worker.host?.handle({ kind: 'finished', outcome: 'ok' });
    const { host, message } = queued.incoming.prepare((reply) => worker.reply(reply));
    worker.rebind(host);
    queued.incoming.reused(sandbox.id, registration.served + 1);
    worker.reply({ op: 'await-request', next: { request: message.request, env: message.env } });
  }

  /** The sandbox ended (the guest returned, exited or trapped): a request handed to it and not taken goes on. */
  private retire(worker: GuestWorker): void {
    const sandbox = this.sandboxes.get(worker);
    if (!sandbox) return;
    this.sandboxes.delete(worker);
    this.unregister(sandbox);
  }

  /** Drops the sandbox's registration; a request handed to it and not taken is served elsewhere, first. */
  private unregister(sandbox: Sandbox): void {
    const registration = sandbox.registration;
    if (!registration) return;
    sandbox.registration = undefined;
    clearTimeout(registration.timer);
    this.leaveWaiting(sandbox);
    const queued = registration.assigned;
    if (!queued) return;
    queued.state = 'queued';
    this.queue.unshift(queued);
    this.pump();
    if (queued.state === 'queued' && !queued.inPool) this.toPool(queued);
  }

  private leaveWaiting(sandbox: Sandbox): void {
    const at = this.waiting.indexOf(sandbox);
    if (at >= 0) this.waiting.splice(at, 1);
  }

  /** No request will come to this sandbox: its wait ends with `none`. */
  private end(sandbox: Sandbox): void {
    const registration = sandbox.registration;
    if (!registration || registration.assigned) return;
    registration.ended = true;
    clearTimeout(registration.timer);
    sandbox.worker.host?.wake();
    registration.taker?.();
  }
}
