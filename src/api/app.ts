import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { prepareGuest } from '../server/artifacts.js';
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
  const { target = DEFAULT_TARGET, memoryBytes = PLATFORM_GUEST_LIMITS.memoryBytes, trace = false } = options;
  const bytes = readAppBytes(app);
  // The memory cap is compiled into the modules (see artifacts.ts), so it is part of what was prepared.
  const key = `${target}:${trace}:${memoryBytes}:${createHash('sha256').update(bytes).digest('hex')}`;
  let entry = prepared.get(key);
  if (!entry) {
    const label = typeof app === 'string' ? app : 'app';
    entry = prepareGuest(bytes, undefined, { target, memoryBytes, trace }).catch((err: Error) => {
      prepared.delete(key);
      throw new AppError(`${label}: ${err.message.split('\n')[0]}`);
    });
    prepared.set(key, entry);
    // The oldest go first; servers still using them keep their own references.
    for (const old of prepared.keys()) {
      if (prepared.size <= PREPARED_KEPT) break;
      prepared.delete(old);
    }
  }
  return entry;
}
