/**
 * Entry point of a guest worker thread: instantiates the transpiled guest afresh for every
 * request it is given and runs it to completion, blocking on the main thread for I/O.
 */
import { once } from 'node:events';
import { parentPort, workerData } from 'node:worker_threads';
import { MainChannel } from './channel.js';
import { currentThreadId, threadCpuMs } from './cpu.js';
import { SIGNAL_SLOTS, type RunMessage, type WorkerGuest, type WorkerInit, type WorkerReady } from './protocol.js';
import { loadGlue } from './glue-loader.js';
import { createRunner } from './runner.js';

const init = workerData as WorkerInit;
const [guest] = (await once(parentPort!, 'message')) as [WorkerGuest];
const glue = await loadGlue(guest);
const { instantiate } = glue;
const channel = new MainChannel(init.calls, init.replies, init.signal);
const slots = new Int32Array(init.signal);
const threadId = currentThreadId();
/** The main thread holds each request to its CPU budget from this clock reading (Linux only). */
const beginRequest = () => {
  if (threadId === undefined) return;
  Atomics.store(slots, SIGNAL_SLOTS.runCpuMs, threadCpuMs('/proc/thread-self/stat') ?? 0);
  Atomics.add(slots, SIGNAL_SLOTS.runs, 1);
};
const runner = createRunner({ instantiate, modules: guest, config: init.config, channel, onRebind: beginRequest });

// The next request's instance is made while the worker waits for it (still one per request).
const prepareSoon = () => setImmediate(() => runner.prepare());
parentPort!.on('message', (message: RunMessage) => {
  beginRequest();
  channel.post(runner.run(message));
  prepareSoon();
});
// The pool counts the worker as ready once its first instance is made.
runner.prepare();
glue.afterFirstInstance();
parentPort!.postMessage({ kind: 'ready', threadId } satisfies WorkerReady);
