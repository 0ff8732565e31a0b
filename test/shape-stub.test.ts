import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { shapeStub } from '../src/wasm/shape-stub.js';
import { readModuleInterface } from '../src/wasm/imports.js';
import { buildJsApp } from './support/js-app.js';

/*
 * A module's stub (src/wasm/shape-stub.ts) stands in for it before wit-component and jco, so it
 * must have exactly the module's shape: what readModuleInterface reads, which is what the shape
 * cache keys on (src/server/artifacts.ts), and be a valid module.
 */
describe('the shape stub of a module', () => {
  const check = (bytes: Uint8Array) => {
    const stub = shapeStub(bytes);
    expect(WebAssembly.validate(stub as Uint8Array<ArrayBuffer>)).toBe(true);
    expect(readModuleInterface(stub)).toEqual(readModuleInterface(bytes));
    // Every body is `unreachable`: the module's code is not there to run.
    const exported = new WebAssembly.Instance(new WebAssembly.Module(stub as Uint8Array<ArrayBuffer>), stubImports(stub)).exports as Record<string, unknown>;
    expect(() => (exported._start as () => void)()).toThrow(WebAssembly.RuntimeError);
    return stub;
  };

  it('of a C guest: same imports and exports, valid, code unreachable', () => {
    check(new Uint8Array(readFileSync(join(import.meta.dirname, 'fixtures/c/hostcalls.wasm'))));
  });

  it('of the 11.5 MB js-compute hello: the same, in a few hundred KB at most', { timeout: 120_000 }, async () => {
    const bytes = new Uint8Array(readFileSync(await buildJsApp()));
    expect(check(bytes).length).toBeLessThan(bytes.length / 20);
  });
});

/** Imports that satisfy a module: a function of the right arity for each function import. */
function stubImports(bytes: Uint8Array): WebAssembly.Imports {
  const imports: Record<string, Record<string, WebAssembly.ImportValue>> = {};
  for (const entry of WebAssembly.Module.imports(new WebAssembly.Module(bytes as Uint8Array<ArrayBuffer>))) {
    if (entry.kind === 'function') (imports[entry.module] ??= {})[entry.name] = () => 0;
  }
  return imports;
}
