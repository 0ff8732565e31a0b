import { availableParallelism } from 'node:os';
import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads';
import type { HostConfig } from '../host/config.js';
import type { RunMessage, SyncReply, WorkerInit, WorkerToMain } from '../host/protocol.js';
import type { RequestHost } from './request-host.js';

type SandboxReply = Extract<SyncReply, { op: 'await-request' }>;

export interface GuestArtifacts {
  /** File URL of the transpiled guest module. */
  guestModule: string;
  coreModules: Record<string, WebAssembly.Module>;
}

type Finished = Extract<WorkerToMain, { kind: 'finished' }>;

/**
 * Sees every message of a worker before its request's host does, and returns true for those it
 * took (the sandbox registry: `next-request` and `await-request`, see `sandboxes.ts`).
 */
export type Intercept = (worker: GuestWorker, message: WorkerToMain) => boolean;

const workerUrl = new URL('../host/worker.js', import.meta.url);

/** A worker thread and its line to the main thread; it serves one run at a time. */
export class GuestWorker {
  readonly worker: Worker;
  private readonly replies: MessagePort;
  private readonly flag: Int32Array;
  private current: { host: RequestHost; done: (finished: Finished) => void } | undefined;
  readonly ready: Promise<void>;
  /** Parked on `Atomics.wait` until the main thread answers a call: using no CPU. */
  blocked = false;
  /** Loaded its guest and made a first instance (until then it does not count as computing). */
  started = false;

  constructor(
    artifacts: GuestArtifacts,
    config: HostConfig,
    onExit: (worker: GuestWorker) => void,
    onBlocked: () => void,
    private readonly intercept: Intercept = () => false,
  ) {
    const calls = new MessageChannel();
    const replies = new MessageChannel();
    const signal = new SharedArrayBuffer(4);
    this.flag = new Int32Array(signal);
    this.replies = replies.port1;
    const init: WorkerInit = { ...artifacts, config, calls: calls.port2, replies: replies.port2, signal };
    this.worker = new Worker(workerUrl, { workerData: init, transferList: [calls.port2, replies.port2] });
    calls.port1.on('message', (message: WorkerToMain) => {
      const current = this.current;
      if (!current) return;
      if (message.kind === 'call') {
        this.blocked = true;
        onBlocked();
      }
      if (this.intercept(this, message)) return;
      const finished = current.host.handle(message);
      if (finished) {
        this.current = undefined;
        current.done(finished);
      }
    });
    this.ready = new Promise((resolve, reject) => {
      // Sent once the guest module is loaded and the first instance made.
      this.worker.once('message', () => {
        this.started = true;
        resolve();
      });
      this.worker.once('error', reject);
    });
    this.worker.on('error', (err) => this.abandon(`worker failed: ${err.stack ?? err.message}`));
    this.worker.on('exit', () => {
      this.abandon('worker exited');
      calls.port1.close();
      onExit(this);
    });
  }

  get busy(): boolean {
    return this.current !== undefined;
  }

  /** The host of the request the guest serves now. */
  get host(): RequestHost | undefined {
    return this.current?.host;
  }

  /** A reusable sandbox goes on to a further request: its messages go to that request's host. */
  rebind(host: RequestHost): void {
    if (this.current) this.current.host = host;
  }

  run(message: RunMessage, host: RequestHost, transfer: ArrayBuffer[] = []): Promise<Finished> {
    return new Promise((resolve) => {
      this.current = { host, done: resolve };
      this.worker.postMessage(message, transfer);
    });
  }

  reply(message: SyncReply | SandboxReply): void {
    this.blocked = false;
    this.replies.postMessage(message);
    Atomics.store(this.flag, 0, 1);
    Atomics.notify(this.flag, 0);
  }

  private abandon(reason: string): void {
    const current = this.current;
    this.current = undefined;
    if (current) {
      const finished: Finished = { kind: 'finished', outcome: 'trap', message: reason };
      // A sandbox on a worker that died takes no further request.
      this.intercept(this, finished);
      current.host.handle(finished);
      current.done(finished);
    }
  }
}

/**
 * Guest workers: each runs one request at a time (a guest blocked on a slow backend holds
 * only its own worker), new ones start on demand up to `maxWorkers`, then requests queue.
 * At most `computeLimit` guests (one per core by default) run at once: a guest parked on I/O
 * does not count, so blocking guests never hold up others, but CPU-bound ones do not pile up
 * on the cores (16 guests sharing 2 cores each finish later and keep 16 isolates hot).
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

  constructor(
    private readonly artifacts: GuestArtifacts,
    private readonly config: HostConfig,
    private readonly maxWorkers = 32,
    private readonly computeLimit = Math.min(maxWorkers, availableParallelism()),
  ) {}

  /** Starts workers ahead of traffic and fails early if the guest cannot even load. */
  async warm(): Promise<void> {
    const started = [this.spawn()];
    while (started.length < this.computeLimit) started.push(this.spawn());
    await Promise.all(started.map((worker) => worker.ready));
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
      return { host, finished };
    } finally {
      this.release(worker);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const waiter of this.queue.splice(0)) waiter.reject(new Error('worker pool is closed'));
    await Promise.all([...this.workers].map((worker) => worker.worker.terminate()));
  }

  private spawn(): GuestWorker {
    const worker = new GuestWorker(
      this.artifacts,
      this.config,
      (gone) => {
        this.workers.delete(gone);
        this.reserved.delete(gone);
        this.pump();
      },
      () => this.pump(),
      (from, message) => this.intercept?.(from, message) ?? false,
    );
    this.workers.add(worker);
    return worker;
  }

  private acquire(): Promise<GuestWorker> {
    if (this.closed) return Promise.reject(new Error('worker pool is closed'));
    return new Promise((resolve, reject) => {
      this.queue.push({ resolve, reject });
      this.pump();
    });
  }

  /**
   * Whether another guest may compute now: fewer than `computeLimit` are. Workers still starting
   * do not count: a burst of guests that will park on I/O must not wait for each other's start-up.
   */
  hasComputeSlot(): boolean {
    let computing = 0;
    for (const worker of this.reserved) if (worker.started && !worker.blocked) computing++;
    return computing < this.computeLimit;
  }

  /** Hands queued runs to workers while fewer than `computeLimit` guests are computing. */
  private pump(): void {
    // Waiting sandboxes take requests first.
    this.onPump?.();
    while (this.queue.length > 0 && !this.closed) {
      if (!this.hasComputeSlot()) return;
      let worker: GuestWorker | undefined;
      for (const candidate of this.workers) {
        if (!candidate.busy && !this.reserved.has(candidate)) {
          worker = candidate;
          break;
        }
      }
      if (!worker && this.workers.size < this.maxWorkers) worker = this.spawn();
      if (!worker) return;
      this.reserved.add(worker);
      const waiter = this.queue.shift()!;
      const chosen = worker;
      chosen.ready.then(
        () => waiter.resolve(chosen),
        (err: unknown) => {
          this.reserved.delete(chosen);
          waiter.reject(err);
        },
      );
    }
  }

  private release(worker: GuestWorker): void {
    this.reserved.delete(worker);
    this.pump();
  }
}
