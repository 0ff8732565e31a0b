import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { prepareGuest, prepareServable } from '../server/artifacts.js';
import { buildInBackground } from '../server/background-build.js';
import type { GuestArtifacts } from '../server/pool.js';
import { DEFAULT_TARGET, type AdapterTarget } from '../adapter/target.js';
import { PLATFORM_GUEST_LIMITS } from '../server/limits.js';

/** An app: its bytes (legacy core module or component), or the path of its `.wasm`. */
export type AppSource = Uint8Array | string;

/** The app could not be read or loaded; the message is one line for the user. */
export class AppError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AppError';
  }
}

/**
 * Prepared apps by content hash, for this process: a fresh server per test then costs only its
 * workers, since adapting, transpiling and compiling the core modules happen once (the first
 * two are also cached on disk across processes). `WebAssembly.Module`s are shared with every worker.
 */
const prepared = new Map<string, Promise<GuestArtifacts>>();
/** Apps kept prepared: enough for a test suite's few apps; `serve --watch` replaces its app on every build. */
const PREPARED_KEPT = 8;

export function readAppBytes(app: AppSource): Uint8Array {
  if (typeof app !== 'string') return app;
  try {
    return new Uint8Array(readFileSync(app));
  } catch (err) {
    throw new AppError(`cannot read ${app}: ${(err as Error).message}`);
  }
}

export interface LoadOptions {
  /** The adapter target a legacy module is adapted for (default `subscribe`). */
  target?: AdapterTarget;
  /** The cap on each linear memory (default: the platform's). */
  memoryBytes?: number;
  /** Adapt a legacy module with the hostcall trace. */
  trace?: boolean;
}

/** Adapts (when legacy), transpiles and compiles an app for the workers, once per content. */
export function loadApp(app: AppSource, options: LoadOptions = {}): Promise<GuestArtifacts> {
  const bytes = readAppBytes(app);
  return loadBytes(bytes, preparedKey(bytes, options), typeof app === 'string' ? app : 'app', options);
}

/** `key` is `preparedKey(bytes, options)`: a hash of the whole module, made once per load. */
function loadBytes(bytes: Uint8Array, key: string, label: string, options: LoadOptions): Promise<GuestArtifacts> {
  const { target = DEFAULT_TARGET, memoryBytes = PLATFORM_GUEST_LIMITS.memoryBytes, trace = false } = options;
  return prepared.get(key) ?? remember(key, label, prepareGuest(bytes, undefined, { target, memoryBytes, trace }));
}

/** Keeps an app being prepared under its key, its failure as a one-line `AppError`. */
function remember(key: string, label: string, preparing: Promise<GuestArtifacts>): Promise<GuestArtifacts> {
  const entry = preparing.catch((err: Error) => {
    prepared.delete(key);
    throw appError(label, err);
  });
  prepared.set(key, entry);
  // The oldest go first; servers still using them keep their own references.
  for (const old of prepared.keys()) {
    if (prepared.size <= PREPARED_KEPT) break;
    prepared.delete(old);
  }
  return entry;
}

const appError = (label: string, err: Error) => new AppError(`${label}: ${err.message.split('\n')[0]}`);

function preparedKey(bytes: Uint8Array, options: LoadOptions): string {
  const { target = DEFAULT_TARGET, memoryBytes = PLATFORM_GUEST_LIMITS.memoryBytes, trace = false } = options;
  // The memory cap is compiled into the modules (see artifacts.ts), so it is part of what was prepared.
  return `${target}:${trace}:${memoryBytes}:${createHash('sha256').update(bytes).digest('hex')}`;
}

/** An app loaded to be served at once: its own artifacts, or a stand-in's while its own are built. */
export interface QuickLoad {
  artifacts: GuestArtifacts;
  /** Set when `artifacts` are a stand-in's: the app's own, being built in the background. */
  own?: { artifacts: Promise<GuestArtifacts>; cancel(): void };
}

/**
 * Like `loadApp`, but a legacy module of a shape never seen comes back at once with a stand-in's
 * glue (src/server/stand-in.ts) when one fits, its own glue being built meanwhile in a
 * low-priority process (src/server/background-build.ts).
 */
export async function loadAppQuickly(app: AppSource, options: LoadOptions = {}): Promise<QuickLoad> {
  const bytes = readAppBytes(app);
  const label = typeof app === 'string' ? app : 'app';
  const { target = DEFAULT_TARGET, memoryBytes = PLATFORM_GUEST_LIMITS.memoryBytes, trace = false } = options;
  const key = preparedKey(bytes, options);
  const known = prepared.get(key);
  if (known) return { artifacts: await known };
  const servable = await prepareServable(bytes, undefined, { target, memoryBytes, trace }).catch((err: Error) => Promise.reject(appError(label, err)));
  if (!servable.standIn) return { artifacts: await remember(key, label, Promise.resolve(servable.artifacts)) };
  const build = buildInBackground(bytes, undefined, { target, trace });
  return { artifacts: servable.artifacts, own: { artifacts: build.done.then(() => loadBytes(bytes, key, label, options)), cancel: build.cancel } };
}
