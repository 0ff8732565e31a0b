import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { transpile } from '@bytecodealliance/jco';
import { describe, expect, it } from 'vitest';
import { adapt } from '../src/adapt/index.js';
import { optimizeGlue } from '../src/server/glue.js';

/*
 * The rewrites of jco's glue (src/server/glue.ts) match exact shapes of its output; a jco that
 * emits something else leaves them unapplied without an error, and every fresh instance gets
 * slower again. This transpiles a real adapted module with the installed jco, as serve does, and
 * requires every rewrite to apply and leave none of the costly shapes behind.
 */

describe("the rewrites of jco's transpiled glue", () => {
  it('all apply to what the installed jco emits for an adapted legacy module', { timeout: 60_000 }, async () => {
    const component = await adapt(readFileSync(join(import.meta.dirname, 'fixtures/c/echo.wasm')), { unknownImports: 'trap' });
    const { files } = await transpile(component, { name: 'guest', instantiation: 'sync', noTypescript: true, base64Cutoff: 0, quiet: true });
    const glue = new TextDecoder().decode(files['guest.js']);
    const { source, applied } = optimizeGlue(glue);
    // One `promising` rewrite per realloc jco wraps (echo returns lists, so it has them), and the
    // debug logger once.
    expect(applied.filter((name) => name === 'promising').length).toBeGreaterThan(0);
    expect(applied.filter((name) => name === 'debug-log')).toEqual(['debug-log']);
    // Nothing of the costly shapes is left: no throwing `promising` probe, no per-call env lookup.
    expect(source).not.toMatch(/try \{\s*\w+ = WebAssembly\.promising\(/);
    expect(source).not.toMatch(/if \(!globalThis\?\.process\?\.env\?\.JCO_DEBUG\)/);
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
