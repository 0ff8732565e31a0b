import { receiveMessageOnPort, type MessagePort } from 'node:worker_threads';
import type { Notice, SyncCall, SyncReply, WorkerToMain } from './protocol.js';

/**
 * The worker's line to the main thread. Guest code is synchronous (no JSPI), so a call that
 * needs I/O parks the worker on `Atomics.wait` until the main thread has answered and
 * flipped the signal; the answer is then taken off the reply port synchronously.
 */
export class MainChannel {
  private readonly flag: Int32Array;
  /** Nanoseconds spent parked waiting for answers, so a guest's vCPU time can leave them out. */
  blockedNs = 0n;

  constructor(
    private readonly calls: MessagePort,
    private readonly replies: MessagePort,
    signal: SharedArrayBuffer,
  ) {
    this.flag = new Int32Array(signal);
  }

  call<Op extends SyncCall['op']>(call: Extract<SyncCall, { op: Op }>): Extract<SyncReply, { op: Op }> {
    Atomics.store(this.flag, 0, 0);
    this.post({ kind: 'call', ...call });
    const parked = process.hrtime.bigint();
    Atomics.wait(this.flag, 0, 0);
    this.blockedNs += process.hrtime.bigint() - parked;
    const received = receiveMessageOnPort(this.replies);
    if (!received) throw new Error(`main thread answered ${call.op} without a message`);
    return received.message as Extract<SyncReply, { op: Op }>;
  }

  notify(notice: Notice): void {
    this.post({ kind: 'notice', ...notice });
  }

  post(message: WorkerToMain): void {
    this.calls.postMessage(message);
  }
}
