/**
 * One guest run on the current thread: a fresh instance of the transpiled guest per run (a
 * request, or `witshim run`), host objects bound to a new `Session`, the outcome as a `finished`
 * message. A guest that asks for further requests (`next-request`) serves them in the same run,
 * on the same instance (a reusable sandbox).
 * The worker thread drives it with the real channel; the benchmark with a stub one.
 */
import { Body } from './body.js';
import type { MainChannel } from './channel.js';
import type { HostConfig } from './config.js';
import { buildImports } from './imports.js';
import { Indirection } from './indirect-calls.js';
import { lazyExports } from './lazy-exports.js';
import { Request } from './messages.js';
import type { DownstreamRequest, GuestModules, RunMessage, WorkerToMain } from './protocol.js';
import { Session } from './session.js';
import { createWasi, GuestExit, type WasiOptions } from './wasi.js';

export type GuestExports = Record<string, Record<string, (...args: unknown[]) => unknown>>;

/** The `instantiate` of a jco transpile with `instantiation: 'sync'`. */
export type Instantiate = (
  getCoreModule: (name: string) => WebAssembly.Module,
  imports: Record<string, Record<string, unknown>>,
  instantiateCore: (module: WebAssembly.Module, imports?: WebAssembly.Imports) => WebAssembly.Instance,
) => GuestExports;

export type Finished = Extract<WorkerToMain, { kind: 'finished' }>;

export interface RunnerOptions {
  instantiate: Instantiate;
  /** The core modules, and which of them the runner answers or wires itself (see protocol.ts). */
  modules: GuestModules;
  config: HostConfig;
  channel: MainChannel;
  /** Called as a reusable sandbox takes a further request: the worker restarts its per-request CPU clock. */
  onRebind?: () => void;
}

function exportOf(instance: GuestExports, prefix: string) {
  const key = Object.keys(instance).find((name) => name === prefix || name.startsWith(`${prefix}@`));
  return key === undefined ? undefined : instance[key];
}

/** What a legacy module's `_start` sees as "the downstream request" under `witshim run`; its id is the run's trace id. */
function commandRequest(id: string): DownstreamRequest {
  return { id, method: 'GET', uri: 'http://localhost/', version: 'http11', headers: [], originalHeaderNames: [], body: 0, knownLength: 0n };
}

export interface Runner {
  /** Serves one message on a fresh instance (the prepared one, else one made now). */
  run(message: RunMessage): Finished;
  /** Instantiates ahead of the next `run`; call while idle. */
  prepare(): void;
}

export function createRunner({ instantiate, modules, config, channel, onRebind }: RunnerOptions): Runner {
  const { coreModules, indirectShims = [], tabledModules = [] } = modules;
  const tabled = new Map<WebAssembly.Module, readonly string[]>();
  for (const { module, names } of tabledModules) if (coreModules[module]) tabled.set(coreModules[module], names);
  const getCoreModule = (name: string) => {
    const module = coreModules[name];
    if (!module) throw new Error(`transpiled guest asks for unknown core module ${name}`);
    return module;
  };

  /**
   * A fresh instance with its host objects, not yet bound to a request: the session and the
   * WASI options are filled in by `bind` when the run starts, so the instance can be made while
   * the worker is idle. Every run gets an instance of its own; only the guest's own
   * `next-request` loop brings it further requests.
   */
  function instantiateFresh() {
    const session = new Session(channel, config, undefined);
    const options: WasiOptions = { env: {}, args: [], lines: true, output: (stream, line) => channel.notify({ op: 'output', stream, line }) };
    const wasi = createWasi(options);
    const indirection = new Indirection(indirectShims, coreModules);
    const instance = instantiate(getCoreModule, buildImports(session, wasi), (module, imports) => {
      const answered = indirection.instantiate(module, imports);
      if (answered) return answered;
      // preview1's `proc_exit(code)` reaches WASI 0.2 as `exit(ok | err)`, losing the code; a
      // legacy module's call is taken here instead, so `witshim run` exits with the guest's code.
      const preview1 = imports?.wasi_snapshot_preview1 as Record<string, unknown> | undefined;
      if (preview1 && typeof preview1.proc_exit === 'function') {
        imports = { ...imports, wasi_snapshot_preview1: { ...preview1, proc_exit: (code: number) => { throw new GuestExit(code >>> 0); } } };
      }
      const core = new WebAssembly.Instance(module, imports);
      for (const value of Object.values(core.exports)) if (value instanceof WebAssembly.Memory) session.memories.push(value);
      const names = tabled.get(module);
      return names ? ({ exports: lazyExports(core.exports, names) } as unknown as WebAssembly.Instance) : core;
    });
    // A reusable sandbox's further requests (`await-request`) bind to the same instance.
    session.rebind = (request, env) => {
      onRebind?.();
      session.begin(request);
      options.env = env;
    };
    const bind = (message: RunMessage) => {
      session.begin(message.kind === 'run' ? message.request : undefined);
      options.env = message.env;
      options.args = message.kind === 'command' ? message.args : [];
      options.lines = message.kind === 'run';
    };
    return { instance, wasi, bind, session };
  }

  let prepared: ReturnType<typeof instantiateFresh> | undefined;

  /** Makes the next run's instance now, if it is not made yet; failures surface in that run. */
  function prepare(): void {
    if (prepared) return;
    try {
      prepared = instantiateFresh();
    } catch {
      prepared = undefined;
    }
  }

  /** The run's outcome, with what its guest left held that it should have dropped. */
  function run(message: RunMessage): Finished {
    const finished = runGuest(message);
    const held = current?.subscriptions.held ?? 0;
    return held ? { ...finished, undroppedPollables: held } : finished;
  }

  let current: Session | undefined;

  function runGuest(message: RunMessage): Finished {
    let finish: (() => void) | undefined;
    current = undefined;
    try {
      const fresh = prepared ?? instantiateFresh();
      prepared = undefined;
      current = fresh.session;
      fresh.bind(message);
      const { instance, wasi } = fresh;
      finish = () => wasi.finish();
      const incoming = exportOf(instance, 'fastly:compute/http-incoming');
      if (message.kind === 'run') {
        if (!incoming?.handle) return { kind: 'finished', outcome: 'trap', message: 'the component does not export fastly:compute/http-incoming' };
        const { request } = message;
        incoming.handle(Request.fromDownstream(request), Body.fromSource(channel, request.body, request.knownLength));
        return { kind: 'finished', outcome: 'ok' };
      }
      const command = exportOf(instance, 'wasi:cli/run');
      if (command?.run) {
        command.run();
        return { kind: 'finished', outcome: 'ok', exitCode: 0 };
      }
      // An adapted legacy module runs its `_start` through http-incoming: with an empty GET
      // request whose response goes nowhere.
      if (incoming?.handle) {
        incoming.handle(Request.fromDownstream(commandRequest(message.env.FASTLY_TRACE_ID ?? 'run')), Body.fromBytes(channel, new Uint8Array(0)));
        return { kind: 'finished', outcome: 'ok', exitCode: 0 };
      }
      return { kind: 'finished', outcome: 'trap', message: 'the component exports neither wasi:cli/run nor fastly:compute/http-incoming', exitCode: 1 };
    } catch (err) {
      if (err instanceof GuestExit) return { kind: 'finished', outcome: err.code === 0 ? 'ok' : 'guest-error', exitCode: err.code, message: `exited with proc_exit(${err.code})` };
      // jco reports an `err` result of the export as a ComponentError carrying its payload.
      if (err instanceof Error && err.constructor.name === 'ComponentError') return { kind: 'finished', outcome: 'guest-error', exitCode: 1 };
      return { kind: 'finished', outcome: 'trap', message: err instanceof Error ? err.message : String(err), exitCode: 1 };
    } finally {
      finish?.();
    }
  }

  return { run, prepare };
}
