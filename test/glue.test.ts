import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { adapt } from '../src/adapt/index.js';
import { glueScript, optimizeGlue } from '../src/server/glue.js';
import { TRANSPILERS, transpileGuest } from '../src/server/transpile.js';

/*
 * What a fresh instance costs depends on the glue jco emits (src/server/transpile.ts): serve
 * transpiles with jco 1.11 (`jco-glue`), whose sync glue has no async-task bookkeeping, and falls
 * back to the current jco, whose glue the rewrites of src/server/glue.ts trim. Both match exact
 * shapes of jco's output; a jco that emits something else would silently make every fresh
 * instance slower again, so these transpile a real adapted module as serve does.
 */

const COSTLY = {
  /** A `WebAssembly.promising` probe that throws (and re-parses the glue) on every instantiation. */
  promisingProbe: /try \{\s*\w+ = WebAssembly\.promising\(/,
  /** An environment lookup on every call. */
  envPerCall: /if \(!globalThis\?\.process\?\.env\?\.JCO_DEBUG\)/,
  /** Component-model-async task bookkeeping around every lowered call. */
  asyncTasks: /createNewCurrentTask|createSubtask/,
};

describe('the glue serve instantiates', () => {
  it('comes from jco-glue for an adapted legacy module, with none of the costly shapes, as a script', { timeout: 60_000 }, async () => {
    const component = await adapt(readFileSync(join(import.meta.dirname, 'fixtures/c/echo.wasm')), { unknownImports: 'trap' });
    const { files, transpiler } = await transpileGuest(component);
    expect(transpiler).toBe('jco-glue');
    const glue = new TextDecoder().decode(files['guest.js']);
    for (const shape of Object.values(COSTLY)) expect(glue).not.toMatch(shape);
    // Workers compile it as a classic script against V8's code cache (src/host/glue-loader.ts).
    expect(glueScript(glue)).toBeDefined();
  });
});

describe('a component jco-glue cannot read', () => {
  it('is transpiled by the current jco, whose reason is reported when it fails too', { timeout: 60_000 }, async () => {
    const component = await adapt(readFileSync(join(import.meta.dirname, 'fixtures/c/echo.wasm')), { unknownImports: 'trap' });
    const refusing = { name: 'jco-glue' as const, transpile: () => Promise.reject(new Error('unsupported component-model feature')) };
    const current = TRANSPILERS.find((t) => t.name === 'jco')!;
    const { transpiler, files } = await transpileGuest(component, [refusing, current]);
    expect(transpiler).toBe('jco');
    expect(new TextDecoder().decode(files['guest.js'])).toContain('export function instantiate(');
    const failure: unknown = await transpileGuest(new Uint8Array([1, 2, 3]), [refusing, current]).then(() => undefined, (err: unknown) => err);
    expect(failure).toBeDefined();
    expect(String((failure as Error).message ?? failure)).not.toContain('unsupported component-model feature');
  });
});

describe("the rewrites of the current jco's glue (the fallback)", () => {
  it('all apply to what the current jco emits for an adapted legacy module', { timeout: 60_000 }, async () => {
    const component = await adapt(readFileSync(join(import.meta.dirname, 'fixtures/c/echo.wasm')), { unknownImports: 'trap' });
    // The current jco as serve calls it, before the rewrites.
    const files = await TRANSPILERS.find((t) => t.name === 'jco')!.transpile(component);
    const glue = new TextDecoder().decode(files['guest.js']);
    const { source, applied } = optimizeGlue(glue);
    // One `promising` rewrite per realloc jco wraps (echo returns lists, so it has them), and the
    // debug logger once.
    expect(applied.filter((name) => name === 'promising').length).toBeGreaterThan(0);
    expect(applied.filter((name) => name === 'debug-log')).toEqual(['debug-log']);
    // Nothing of the costly shapes is left: no throwing `promising` probe, no per-call env lookup.
    expect(source).not.toMatch(COSTLY.promisingProbe);
    expect(source).not.toMatch(COSTLY.envPerCall);
    // The rewritten glue still loads as a module.
    const dir = mkdtempSync(join(tmpdir(), 'witshim-glue-'));
    writeFileSync(join(dir, 'guest.mjs'), source);
    const loaded = (await import(pathToFileURL(join(dir, 'guest.mjs')).href)) as { instantiate?: unknown };
    expect(typeof loaded.instantiate).toBe('function');
  });

  it('leave glue of another shape alone, reporting nothing applied', () => {
    const other = 'export function instantiate() { return WebAssembly.promising; }';
    expect(optimizeGlue(other)).toEqual({ source: other, applied: [] });
  });
});
