/**
 * Entry point of a guest worker thread: instantiates the transpiled guest afresh for every
 * request it is given and runs it to completion, blocking on the main thread for I/O.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { MainChannel } from './channel.js';
import type { RunMessage, WorkerInit } from './protocol.js';
import { createRunner, type Instantiate } from './runner.js';

const init = workerData as WorkerInit;
const { instantiate } = (await import(init.guestModule)) as { instantiate: Instantiate };
const channel = new MainChannel(init.calls, init.replies, init.signal);
const run = createRunner({ instantiate, coreModules: init.coreModules, config: init.config, channel });

parentPort!.on('message', (message: RunMessage) => channel.post(run(message)));
