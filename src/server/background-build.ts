/**
 * Builds an app's own glue in another process at the lowest CPU priority while serve answers
 * through a stand-in (src/server/stand-in.ts). The build is seconds of wit-component and jco on
 * one core; in this process it would block the event loop, and at normal priority it would take
 * that core from the requests being served.
 */
import { fork } from 'node:child_process';
import { setPriority } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { PrepareOptions } from './artifacts.js';

export type BuilderRequest = { kind: 'build'; bytes: Uint8Array; root: string | undefined; options: PrepareOptions };
export type BuilderReply = { kind: 'built' } | { kind: 'failed'; message: string };

export interface BackgroundBuild {
  /** Resolves when the app's own glue is in the cache; rejects with the build's one-line error. */
  done: Promise<void>;
  /** Stops the build (a later start builds it again). */
  cancel(): void;
}

const BUILDER = fileURLToPath(new URL('./background-builder.js', import.meta.url));
/** nice 19: the build gets a core only when nothing else wants it. */
const LOWEST_PRIORITY = 19;
/** What is kept of the builder's stderr for an error message. */
const STDERR_KEPT = 4096;

export function buildInBackground(bytes: Uint8Array, root: string | undefined, options: PrepareOptions): BackgroundBuild {
  const child = fork(BUILDER, [], { serialization: 'advanced', stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
  try {
    if (child.pid !== undefined) setPriority(child.pid, LOWEST_PRIORITY);
  } catch {
    // Where lowering a priority is refused, the build runs at normal priority.
  }
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-STDERR_KEPT);
  });
  let cancelled = false;
  const done = new Promise<void>((resolve, reject) => {
    child.once('message', (reply: BuilderReply) => {
      switch (reply.kind) {
        case 'built':
          return resolve();
        case 'failed':
          return reject(new Error(reply.message));
      }
    });
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      const last = stderr.trim().split('\n').pop() ?? '';
      reject(new Error(cancelled ? 'cancelled' : `the build process exited (${signal ?? `code ${code}`})${last ? `: ${last}` : ''}`));
    });
  });
  // Nobody may be waiting when a build is cancelled.
  done.catch(() => {});
  const request: BuilderRequest = { kind: 'build', bytes, root, options };
  child.send(request);
  return {
    done,
    cancel() {
      cancelled = true;
      child.kill();
    },
  };
}
