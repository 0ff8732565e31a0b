/**
 * Transpiles a component into the glue workers instantiate (`instantiation: 'sync'`).
 *
 * The glue comes from jco 1.11 (the `jco-glue` dependency), not the current jco: from 1.16 on,
 * jco wraps every lowered call in the bookkeeping of component-model async (a task and a
 * subtask per hostcall, task registries per instance), which a guest that never uses async pays
 * for anyway. For the js-compute hello it doubled a fresh instance (19–22 ms against 10–12 ms
 * with 1.11's glue, a bare `WebAssembly.Instance` being 6.5–7.5 ms) and added ~40 % to a request
 * on a reused sandbox. A component that jco 1.11 cannot read (component-model features newer than
 * it) is transpiled with the current jco instead, whose glue `optimizeGlue` then trims.
 */
import { optimizeGlue } from './glue.js';

/** Which jco made a glue: part of the cache keys of transpiled output (see build-keys.ts). */
export type Transpiler = 'jco-glue' | 'jco';

export interface TranspiledGuest {
  files: Record<string, Uint8Array>;
  transpiler: Transpiler;
}

const OPTIONS = { name: 'guest', instantiation: 'sync', noTypescript: true, base64Cutoff: 0, quiet: true } as const;

type Transpile = (component: Uint8Array) => Promise<Record<string, Uint8Array>>;

/** Tried in order: the first that reads the component makes its glue. */
export const TRANSPILERS: ReadonlyArray<{ name: Transpiler; transpile: Transpile }> = [
  { name: 'jco-glue', transpile: async (component) => (await (await import('jco-glue')).transpile(component, OPTIONS)).files as Record<string, Uint8Array> },
  { name: 'jco', transpile: async (component) => (await (await import('@bytecodealliance/jco')).transpile(component, OPTIONS)).files },
];

export async function transpileGuest(component: Uint8Array, transpilers = TRANSPILERS): Promise<TranspiledGuest> {
  let failure: unknown;
  for (const { name, transpile } of transpilers) {
    try {
      const files = await transpile(component);
      files['guest.js'] = new TextEncoder().encode(optimizeGlue(new TextDecoder().decode(files['guest.js'])).source);
      return { files, transpiler: name };
    } catch (err) {
      // The last one's reason is the one reported: it is the newest jco.
      failure = err;
    }
  }
  throw failure;
}
