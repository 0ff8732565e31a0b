import { availableParallelism } from 'node:os';
import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads';
import { threadCpuMs } from '../host/cpu.js';
import type { HostConfig } from '../host/config.js';
import { SIGNAL_SLOTS, type RunMessage, type SyncReply, type WorkerGuest, type WorkerInit, type WorkerReady, type WorkerToMain } from '../host/protocol.js';
import { PLATFORM_GUEST_LIMITS, type GuestLimits } from './limits.js';
import type { RequestHost } from './request-host.js';

type SandboxReply = Extract<SyncReply, { op: 'await-request' }>;

/** A loaded guest: what a worker is sent as its first message. */
export type GuestArtifacts = WorkerGuest;

type Finished = Extract<WorkerToMain, { kind: 'finished' }>;

/**
 * Sees every message of a worker before its request's host does, and returns true for those it
 * took (the sandbox registry: `next-request` and `await-request`, see `sandboxes.ts`).
 */
export type Intercept = (worker: GuestWorker, message: WorkerToMain) => boolean;

const workerUrl = new URL('../host/worker.js', import.meta.url);

/**
 * The V8 heap a worker may use for the glue and host objects (guest linear memory is outside it
 * and bounded by `GuestLimits.memoryBytes`): a guest piling up handles dies alone, as
 * ERR_WORKER_OUT_OF_MEMORY, instead of swapping the machine.
 */
const WORKER_HEAP_MB = 512;

/** How often, at least, a computing guest's CPU clock is read; /proc's resolution is 10 ms anyway. */
const CPU_POLL_MS = 10;

/**
 * Workers idle this long beyond the pool's floor (one per core plus the spares) are stopped: a
 * burst of parked guests leaves many workers, each holding a prepared instance, that steady
 * traffic does not need. Long enough that bursts a few seconds apart find them started.
 */
const IDLE_RETIRE_MS = 60_000;

interface WorkerHooks {
  ready(worker: GuestWorker): void;
  failed(worker: GuestWorker, err: Error): void;
  exited(worker: GuestWorker): void;
  blocked(): void;
}

/** A worker thread and its line to the main thread; it serves one run at a time. */
export class GuestWorker {
  readonly worker: Worker;
  private readonly replies: MessagePort;
  private readonly slots: Int32Array;
  private current: { host: RequestHost; done: (finished: Finished) => void; timers: NodeJS.Timeout[] } | undefined;
  /** Parked on `Atomics.wait` until the main thread answers a call: using no CPU. */
  blocked = false;
  /** Loaded its guest and made a first instance. */
  started = false;
  /** Killed or failed: about to exit, never to be handed a run. */
  dead = false;
  /** When it last finished a run (or started), for retiring idle workers. */
  idleSince = performance.now();
  /** Names the worker's /proc entry, for its CPU clock (Linux). */
  private threadId: number | undefined;
  private runs = 0;

  constructor(
    artifacts: GuestArtifacts | Promise<GuestArtifacts>,
    config: HostConfig,
    private readonly limits: GuestLimits,
    hooks: WorkerHooks,
    private readonly intercept: Intercept = () => false,
  ) {
    const calls = new MessageChannel();
    const replies = new MessageChannel();
    const signal = new SharedArrayBuffer(4 * SIGNAL_SLOTS.length);
    this.slots = new Int32Array(signal);
    this.replies = replies.port1;
    const init: WorkerInit = { config, calls: calls.port2, replies: replies.port2, signal };
    this.worker = new Worker(workerUrl, { workerData: init, transferList: [calls.port2, replies.port2], resourceLimits: { maxOldGenerationSizeMb: WORKER_HEAP_MB } });
    // The worker boots while the app may still be loading; the guest follows as its first message.
    Promise.resolve(artifacts).then(
      (guest) => {
        if (!this.dead) this.worker.postMessage(guest satisfies WorkerGuest);
      },
      (err: Error) => {
        this.dead = true;
        hooks.failed(this, err);
        void this.worker.terminate();
      },
    );
    calls.port1.on('message', (message: WorkerToMain) => {
      const current = this.current;
      if (!current) return;
      if (message.kind === 'call') {
        this.blocked = true;
        hooks.blocked();
      }
      if (this.intercept(this, message)) return;
      const finished = current.host.handle(message);
      if (finished) this.settle(finished);
    });
    // Sent once the guest module is loaded and the first instance made.
    this.worker.once('message', (ready: WorkerReady) => {
      this.started = true;
      this.threadId = ready.threadId;
      hooks.ready(this);
    });
    this.worker.on('error', (err) => {
      this.dead = true;
      if (!this.started) hooks.failed(this, err);
      else this.abandon(`worker failed: ${err.message}`);
    });
    this.worker.on('exit', () => {
      this.abandon('worker exited');
      calls.port1.close();
      hooks.exited(this);
    });
  }

  get busy(): boolean {
    return this.current !== undefined;
  }

  /** The host of the request the guest serves now. */
  get host(): RequestHost | undefined {
    return this.current?.host;
  }

  /**
   * A reusable sandbox goes on to a further request: its messages go to that request's host, and
   * the limits start afresh, as they are per request (the worker reads its CPU clock again when
   * it takes the request). Counted over the sandbox's life, they killed a busy sandbox after a
   * few hundred requests, and an idle one waiting for its next.
   */
  rebind(host: RequestHost): void {
    const current = this.current;
    if (!current) return;
    current.host = host;
    current.timers.forEach(clearTimeout);
    current.timers = this.limitTimers(++this.runs);
  }

  run(message: RunMessage, host: RequestHost, transfer: ArrayBuffer[] = []): Promise<Finished> {
    return new Promise((resolve) => {
      this.current = { host, done: resolve, timers: this.limitTimers(++this.runs) };
      this.blocked = false;
      this.worker.postMessage(message, transfer);
    });
  }

  /** The wall-clock and CPU limits of `run` (a request), counted from now. */
  private limitTimers(run: number): NodeJS.Timeout[] {
    const { wallMs, cpuMs } = this.limits;
    // setTimeout takes anything past 2^31-1 ms (Infinity: no limit) as 1 ms.
    const timers = Number.isFinite(wallMs) ? [setTimeout(() => this.kill(`ran past the wall-clock limit of ${wallMs} ms`), wallMs)] : [];
    if (this.threadId !== undefined && Number.isFinite(cpuMs)) timers.push(setTimeout(() => this.checkCpu(run), cpuMs));
    return timers;
  }

  reply(message: SyncReply | SandboxReply): void {
    this.blocked = false;
    this.replies.postMessage(message);
    Atomics.store(this.slots, SIGNAL_SLOTS.flag, 1);
    Atomics.notify(this.slots, SIGNAL_SLOTS.flag);
  }

  /** Ends the current run with `reason` (the client gets a 500 if nothing was sent) and stops the thread; the pool replaces it. */
  kill(reason: string): void {
    this.dead = true;
    this.abandon(`killed: ${reason}`);
    void this.worker.terminate();
  }

  /**
   * Reads the worker's CPU clock against its reading at the start of the run (the worker stores
   * it before running). Time parked on the main thread or waiting for a core costs nothing.
   */
  private checkCpu(run: number): void {
    const current = this.current;
    if (!current || run !== this.runs) return;
    const { cpuMs } = this.limits;
    let used = 0;
    if (!this.blocked && Atomics.load(this.slots, SIGNAL_SLOTS.runs) === run) {
      const now = threadCpuMs(`/proc/self/task/${this.threadId}/stat`);
      if (now === undefined) return;
      used = now - Atomics.load(this.slots, SIGNAL_SLOTS.runCpuMs);
      if (used > cpuMs) return this.kill(`used more than the CPU time limit of ${cpuMs} ms`);
    }
    current.timers.push(setTimeout(() => this.checkCpu(run), Math.max(CPU_POLL_MS, cpuMs - used)));
  }

  private settle(finished: Finished): void {
    const current = this.current;
    if (!current) return;
    this.current = undefined;
    current.timers.forEach(clearTimeout);
    current.done(finished);
  }

  private abandon(reason: string): void {
    const current = this.current;
    if (!current) return;
    const finished: Finished = { kind: 'finished', outcome: 'trap', message: reason };
    // A sandbox on a worker that died takes no further request.
    this.intercept(this, finished);
    current.host.handle(finished);
    this.settle(finished);
  }
}

export interface PoolOptions {
  /** Workers at most (each holds one guest run); further requests queue. */
  maxWorkers?: number;
  /** Guests computing at once (parked ones do not count); one per core by default. */
  computeLimit?: number;
  /** Started, idle workers kept ahead of demand. */
  spareWorkers?: number;
  /** Workers starting at once: each start costs a few hundred ms of CPU (see README). */
  maxStarting?: number;
  limits?: GuestLimits;
  /** Idle time after which workers beyond one per core plus the spares are stopped. */
  idleRetireMs?: number;
}

export interface PoolStats {
  /** Live worker threads, of which `starting` have not loaded their guest yet and `busy` run one. */
  workers: number;
  starting: number;
  busy: number;
  idle: number;
  /** Runs waiting for a worker. */
  queued: number;
  /** Since the pool was made. */
  started: number;
  exited: number;
  killed: number;
  /** Stopped after idling beyond the floor. */
  retired: number;
}

/**
 * Guest workers: each runs one request at a time (a guest blocked on a slow backend holds
 * only its own worker), up to `maxWorkers`, then requests queue. At most `computeLimit` guests
 * (one per core by default) run at once: a guest parked on I/O does not count, so blocking
 * guests never hold up others, but CPU-bound ones do not pile up on the cores.
 *
 * Starting a worker costs a few hundred ms of CPU (loading the glue, first instantiation), so
 * starts stay off the request path: runs only ever go to started workers, `spareWorkers` idle
 * ones are kept ahead of demand, more start in the background while runs wait with a core free
 * for them, and at most `maxStarting` start at once, so a burst never stalls the cores on
 * start-ups. Workers that exit or are killed are replaced the same way.
 */
export class WorkerPool {
  private readonly workers = new Set<GuestWorker>();
  private readonly queue: Array<{ resolve: (worker: GuestWorker) => void; reject: (err: unknown) => void }> = [];
  /** Workers handed to a run (busy, or about to be). */
  private readonly reserved = new Set<GuestWorker>();
  private closed = false;
  /** Set by the sandbox registry: sees workers' messages first, and is told whenever a worker may be free. */
  intercept: Intercept | undefined;
  onPump: (() => void) | undefined;
  /** Set when a worker could not load the guest: no more background starts until a run asks again. */
  private startError: Error | undefined;
  private readonly maxWorkers: number;
  private readonly computeLimit: number;
  private readonly spareWorkers: number;
  private readonly maxStarting: number;
  private readonly limits: GuestLimits;
  private readonly counts = { started: 0, exited: 0, killed: 0, retired: 0 };
  private readonly idleRetireMs: number;
  private retireTimer: NodeJS.Timeout | undefined;

  /** `artifacts` may still be loading: the workers boot meanwhile, and `warm` rejects if loading fails. */
  constructor(
    private readonly artifacts: GuestArtifacts | Promise<GuestArtifacts>,
    private readonly config: HostConfig,
    options: PoolOptions = {},
  ) {
    this.maxWorkers = Math.max(1, options.maxWorkers ?? 32);
    this.computeLimit = options.computeLimit ?? Math.min(this.maxWorkers, availableParallelism());
    this.spareWorkers = options.spareWorkers ?? this.computeLimit;
    this.maxStarting = Math.max(1, options.maxStarting ?? Math.min(2, this.computeLimit));
    this.limits = options.limits ?? PLATFORM_GUEST_LIMITS;
    this.idleRetireMs = options.idleRetireMs ?? IDLE_RETIRE_MS;
  }

  /**
   * Starts a first worker and fails early if the guest cannot even load; the spares follow in the
   * background once it is ready. Starting them all at once made the first answer later: a start
   * is a few hundred ms of CPU, and with the app still loading on the main thread, two more
   * threads than cores ran at once (the first response came ~130 ms later on 2 cores).
   */
  async warm(): Promise<void> {
    const first = this.spawn();
    await Promise.all([
      this.artifacts,
      new Promise<void>((resolve, reject) => {
        if (first.started) return resolve();
        first.worker.once('message', () => resolve());
        first.worker.once('error', reject);
      }),
    ]);
    this.pump();
  }

  /**
   * Runs a guest on the next free worker; `prepare` builds the host once it is known who answers,
   * and may name buffers of the message to move to the worker rather than copy.
   */
  async run(
    prepare: (reply: (message: SyncReply) => void) => { host: RequestHost; message: RunMessage; transfer?: ArrayBuffer[] },
  ): Promise<{ host: RequestHost; finished: Finished }> {
    return (await this.runUnlessTaken(prepare))!;
  }

  /** As `run`, but `prepare` may find the request gone elsewhere meanwhile and return undefined. */
  async runUnlessTaken(
    prepare: (reply: (message: SyncReply) => void) => { host: RequestHost; message: RunMessage; transfer?: ArrayBuffer[] } | undefined,
  ): Promise<{ host: RequestHost; finished: Finished } | undefined> {
    const worker = await this.acquire();
    try {
      // Undefined: the request went elsewhere meanwhile (a reusable sandbox took it).
      const prepared = prepare((reply) => worker.reply(reply));
      if (!prepared) return undefined;
      const { host, message, transfer } = prepared;
      const finished = await worker.run(message, host, transfer);
      if (finished.outcome === 'trap' && finished.message?.startsWith('killed:')) this.counts.killed++;
      return { host, finished };
    } finally {
      this.release(worker);
    }
  }

  stats(): PoolStats {
    let starting = 0;
    let busy = 0;
    for (const worker of this.workers) {
      if (!worker.started) starting++;
      else if (this.reserved.has(worker)) busy++;
    }
    return { workers: this.workers.size, starting, busy, idle: this.workers.size - starting - busy, queued: this.queue.length, ...this.counts };
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retireTimer);
    for (const waiter of this.queue.splice(0)) waiter.reject(new Error('worker pool is closed'));
    await Promise.all([...this.workers].map((worker) => worker.worker.terminate()));
  }

  private spawn(): GuestWorker {
    const worker = new GuestWorker(this.artifacts, this.config, this.limits, {
      ready: () => {
        this.counts.started++;
        this.startError = undefined;
        this.pump();
      },
      failed: (_gone, err) => {
        // The guest cannot load: what waits for a worker would wait forever.
        this.startError = err;
        for (const waiter of this.queue.splice(0)) waiter.reject(err);
      },
      exited: (gone) => {
        this.counts.exited++;
        this.workers.delete(gone);
        this.reserved.delete(gone);
        if (!this.closed) this.pump();
      },
      blocked: () => this.pump(),
    }, (from, message) => this.intercept?.(from, message) ?? false);
    this.workers.add(worker);
    return worker;
  }

  private acquire(): Promise<GuestWorker> {
    if (this.closed) return Promise.reject(new Error('worker pool is closed'));
    this.startError = undefined;
    return new Promise((resolve, reject) => {
      this.queue.push({ resolve, reject });
      this.pump();
    });
  }

  /**
   * Whether another guest may compute now: fewer than `computeLimit` of the workers handed a run
   * are computing (a guest parked on I/O does not count).
   */
  hasComputeSlot(): boolean {
    return this.computing() < this.computeLimit;
  }

  private computing(): number {
    let computing = 0;
    for (const worker of this.reserved) if (!worker.blocked) computing++;
    return computing;
  }

  /** Hands queued runs to started workers while fewer than `computeLimit` guests compute, then tops up the workers. */
  private pump(): void {
    if (this.closed) return;
    // Waiting sandboxes take requests first.
    this.onPump?.();
    let computing = this.computing();
    while (this.queue.length > 0 && computing < this.computeLimit) {
      const worker = this.idleWorker();
      if (!worker) break;
      this.reserved.add(worker);
      computing++;
      this.queue.shift()!.resolve(worker);
    }
    this.replenish(computing);
  }

  /**
   * Starts workers in the background up to: the spares, plus one per queued run that has a core
   * free for it (a run waiting for a core gains nothing from another worker), never more than
   * `maxStarting` at once, nor more than there are cores without a computing guest.
   */
  private replenish(computing: number): void {
    if (this.startError) return;
    let idle = 0;
    let starting = 0;
    for (const worker of this.workers) {
      if (!worker.started) starting++;
      else if (!worker.dead && !this.reserved.has(worker)) idle++;
    }
    const waiting = computing < this.computeLimit ? this.queue.length : 0;
    const wanted = this.spareWorkers + waiting;
    // A start takes a core for a few hundred ms: only on cores no guest is computing on, so a
    // CPU-bound burst runs at full speed and the spares start when it eases.
    const startable = Math.min(this.maxStarting, this.computeLimit - computing);
    while (idle + starting < wanted && starting < startable && this.workers.size < this.maxWorkers) {
      this.spawn();
      starting++;
    }
  }

  private idleWorker(): GuestWorker | undefined {
    for (const candidate of this.workers) if (candidate.started && !candidate.dead && !this.reserved.has(candidate)) return candidate;
    return undefined;
  }

  private release(worker: GuestWorker): void {
    this.reserved.delete(worker);
    worker.idleSince = performance.now();
    this.pump();
    this.scheduleRetire();
  }

  /** Checks for workers to retire once the oldest idle one could have idled long enough. */
  private scheduleRetire(): void {
    if (this.retireTimer || this.closed) return;
    this.retireTimer = setTimeout(() => {
      this.retireTimer = undefined;
      this.retireIdle();
    }, this.idleRetireMs);
    this.retireTimer.unref();
  }

  /** Stops the longest-idle workers beyond the floor that idled `idleRetireMs` or more. */
  private retireIdle(): void {
    const floor = this.computeLimit + this.spareWorkers;
    const idle = [...this.workers].filter((worker) => worker.started && !worker.dead && !this.reserved.has(worker)).sort((a, b) => a.idleSince - b.idleSince);
    let live = [...this.workers].filter((worker) => !worker.dead).length;
    const now = performance.now();
    for (const worker of idle) {
      if (live <= floor || now - worker.idleSince < this.idleRetireMs) break;
      worker.dead = true;
      live--;
      this.counts.retired++;
      void worker.worker.terminate();
    }
    if (live > floor) this.scheduleRetire();
  }
}
