/**
 * Loads the transpiled glue in a worker. With a classic-script copy of it, `vm.Script` compiles
 * it against V8's code cache, which skips parsing and compiling what the cache holds; the first
 * worker without a usable cache writes one once it has made an instance, so the cache also holds
 * the functions instantiation compiled. Without the copy, the ES module is imported.
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import vm from 'node:vm';
import type { WorkerGuest } from './protocol.js';
import type { Instantiate } from './runner.js';

export interface LoadedGlue {
  instantiate: Instantiate;
  /** Compiled from a code cache V8 accepted. */
  fromCache: boolean;
  /** Call once an instance is made: writes the code cache if this worker compiled without one. */
  afterFirstInstance(): void;
}

export async function loadGlue(init: Pick<WorkerGuest, 'guestModule' | 'guestScript'>): Promise<LoadedGlue> {
  const { guestScript } = init;
  if (!guestScript) {
    const { instantiate } = (await import(init.guestModule)) as { instantiate: Instantiate };
    return { instantiate, fromCache: false, afterFirstInstance() {} };
  }
  const cachedData = existsSync(guestScript.codeCache) ? readFileSync(guestScript.codeCache) : undefined;
  const script = new vm.Script(readFileSync(guestScript.path, 'utf8'), { filename: guestScript.path, cachedData });
  const { instantiate } = script.runInThisContext() as { instantiate: Instantiate };
  // A cache from another V8 (a Node upgrade) is rejected, and replaced.
  const writeCache = cachedData === undefined || script.cachedDataRejected === true;
  return {
    instantiate,
    fromCache: !writeCache,
    afterFirstInstance() {
      if (!writeCache) return;
      try {
        const temp = `${guestScript.codeCache}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
        writeFileSync(temp, script.createCachedData());
        renameSync(temp, guestScript.codeCache);
      } catch {
        // A read-only cache directory costs only the speed-up.
      }
    },
  };
}
