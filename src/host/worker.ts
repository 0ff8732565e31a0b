/**
 * Entry point of a guest worker thread: instantiates the transpiled guest afresh for every
 * request it is given and runs it to completion, blocking on the main thread for I/O.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { Body } from './body.js';
import { MainChannel } from './channel.js';
import { buildImports } from './imports.js';
import { Request } from './messages.js';
import type { RunMessage, WorkerInit, WorkerToMain } from './protocol.js';
import { Session } from './session.js';
import { createWasi, GuestExit } from './wasi.js';

type Instantiate = (
  getCoreModule: (name: string) => WebAssembly.Module,
  imports: Record<string, Record<string, unknown>>,
  instantiateCore: (module: WebAssembly.Module, imports: WebAssembly.Imports) => WebAssembly.Instance,
) => Record<string, Record<string, (...args: unknown[]) => unknown>>;

const init = workerData as WorkerInit;
const { instantiate } = (await import(init.guestModule)) as { instantiate: Instantiate };
const channel = new MainChannel(init.calls, init.replies, init.signal);

function start(session: Session, message: RunMessage, lines: boolean) {
  const wasi = createWasi({
    env: message.env,
    args: message.kind === 'command' ? message.args : [],
    lines,
    output: (stream, line) => channel.notify({ op: 'output', stream, line }),
  });
  const instance = instantiate(
    (name) => {
      const module = init.coreModules[name];
      if (!module) throw new Error(`transpiled guest asks for unknown core module ${name}`);
      return module;
    },
    buildImports(session, wasi),
    (module, imports) => {
      const core = new WebAssembly.Instance(module, imports);
      for (const value of Object.values(core.exports)) if (value instanceof WebAssembly.Memory) session.memories.push(value);
      return core;
    },
  );
  return { instance, wasi };
}

function exportOf(instance: Record<string, Record<string, (...args: unknown[]) => unknown>>, prefix: string) {
  const key = Object.keys(instance).find((name) => name === prefix || name.startsWith(`${prefix}@`));
  return key === undefined ? undefined : instance[key];
}

function run(message: RunMessage): Extract<WorkerToMain, { kind: 'finished' }> {
  const session = new Session(channel, init.config, message.kind === 'run' ? message.request : undefined);
  let finish: (() => void) | undefined;
  try {
    const { instance, wasi } = start(session, message, message.kind === 'run');
    finish = () => wasi.finish();
    if (message.kind === 'run') {
      const incoming = exportOf(instance, 'fastly:compute/http-incoming');
      if (!incoming?.handle) return { kind: 'finished', outcome: 'trap', message: 'the component does not export fastly:compute/http-incoming' };
      const { request } = message;
      incoming.handle(Request.fromDownstream(request), Body.fromSource(channel, request.body, request.knownLength));
      return { kind: 'finished', outcome: 'ok' };
    }
    const command = exportOf(instance, 'wasi:cli/run');
    if (!command?.run) return { kind: 'finished', outcome: 'trap', message: 'the component does not export wasi:cli/run' };
    command.run();
    return { kind: 'finished', outcome: 'ok', exitCode: 0 };
  } catch (err) {
    if (err instanceof GuestExit) return { kind: 'finished', outcome: err.code === 0 ? 'ok' : 'guest-error', exitCode: err.code };
    // jco reports an `err` result of the export as a ComponentError carrying its payload.
    if (err instanceof Error && err.constructor.name === 'ComponentError') return { kind: 'finished', outcome: 'guest-error', exitCode: 1 };
    return { kind: 'finished', outcome: 'trap', message: err instanceof Error ? err.message : String(err), exitCode: 1 };
  } finally {
    finish?.();
  }
}

parentPort!.on('message', (message: RunMessage) => channel.post(run(message)));
