import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, componentWit } from '@bytecodealliance/jco-transpile/wasm-tools';
import { adapt, AdaptError } from '../src/adapt/index.js';
import { adapterModule } from '../src/adapter/build.js';
import { HTTP_INCOMING_EXPORT } from '../src/adapter/generate.js';
import { readModuleInterface } from '../src/wasm/imports.js';
import { coreSignature, hostcallNames, loadWitxDir, lowerFunction } from '../src/witx/index.js';
import { knownHostcalls } from '../src/adapt/fold.js';
import { buildJsApp } from './support/js-app.js';

const abi = loadWitxDir(join(import.meta.dirname, '..', 'witx'));

/** Section ids present in a core module (data 11, element 9, table 4). */
function sectionIds(bytes: Uint8Array): number[] {
  const ids: number[] = [];
  let pos = 8;
  while (pos < bytes.length) {
    const id = bytes[pos++];
    let size = 0;
    for (let shift = 0; ; shift += 7) {
      const b = bytes[pos++];
      size |= (b & 0x7f) << shift;
      if (!(b & 0x80)) break;
    }
    ids.push(id);
    pos += size;
  }
  return ids;
}

describe('the hostcall names imports are sorted by', () => {
  it('are the WITX hostcalls, as kept in adapter/build/ under a hash of witx/', () => {
    const names = hostcallNames(loadWitxDir(join(import.meta.dirname, '..', 'witx')));
    expect(names).toHaveLength(251);
    expect(knownHostcalls()).toEqual(new Set(names));
  });
});

describe('the adapter module', async () => {
  const adapter = await adapterModule('command');
  const iface = readModuleInterface(adapter);

  it('exports all 251 hostcalls with their WITX core signatures', () => {
    const exported = new Map(iface.exports.map((e) => [e.name, e]));
    let count = 0;
    for (const m of abi.modules) {
      for (const fn of m.functions) {
        const exp = exported.get(`${m.name}#${fn.name}`);
        expect(exp, `${m.name}#${fn.name}`).toBeDefined();
        expect(exp!.type).toEqual(coreSignature(lowerFunction(abi, fn)));
        count++;
      }
    }
    expect(count).toBe(251);
    expect(exported.has(HTTP_INCOMING_EXPORT)).toBe(true);
    expect(exported.has('cabi_import_realloc')).toBe(true);
  });

  it('is a valid wit-component adapter: imports the main memory, has no data, elements or tables', () => {
    expect(iface.imports.filter((i) => i.kind === 'memory')).toEqual([{ module: 'env', name: 'memory', kind: 'memory' }]);
    expect(iface.imports.some((i) => i.module === '__main_module__' && i.name === '_start')).toBe(true);
    const ids = sectionIds(adapter);
    for (const forbidden of [4, 9, 11]) expect(ids).not.toContain(forbidden);
    expect(ids).not.toContain(5); // no memory of its own
  });

  it('has a library variant without the http-incoming export', async () => {
    const lib = readModuleInterface(await adapterModule('library'));
    expect(lib.exports.some((e) => e.name === HTTP_INCOMING_EXPORT)).toBe(false);
    expect(lib.imports.some((i) => i.module === '__main_module__')).toBe(false);
  });
});

describe('adapt', async () => {
  const jsApp = new Uint8Array(readFileSync(await buildJsApp()));

  it('turns a js-compute module into a fastly:compute component', async () => {
    const component = await adapt(jsApp);
    const wit = await componentWit(component);
    const imports = [...wit.matchAll(/^\s*import ([^;]+);/gm)].map((m) => m[1]);
    expect(imports.length).toBeGreaterThan(10);
    for (const imp of imports) expect(imp).toMatch(/^(fastly:compute\/|fastly:adapter\/|wasi:)/);
    expect(wit).toMatch(/export fastly:compute\/http-incoming@0\.1\.0;/);
    expect(new TextDecoder().decode(component)).toContain('witshim');
    // Deterministic: the same input gives the same bytes.
    expect(Buffer.from(await adapt(jsApp)).equals(Buffer.from(component))).toBe(true);
  });

  const cGuests = ['hello', 'echo', 'proxy', 'stores', 'stream', 'dynamic', 'async', 'cache'];
  it.each(cGuests)('turns the C guest %s into a fastly:compute component', async (name) => {
    const module = new Uint8Array(readFileSync(join(import.meta.dirname, 'fixtures', 'c', `${name}.wasm`)));
    const wit = await componentWit(await adapt(module));
    const imports = [...wit.matchAll(/^\s*import ([^;]+);/gm)].map((m) => m[1]);
    expect(imports.some((i) => i.startsWith('fastly:compute/'))).toBe(true);
    for (const imp of imports) expect(imp).toMatch(/^(fastly:compute\/|fastly:adapter\/|wasi:)/);
    expect(wit).toMatch(/export fastly:compute\/http-incoming@0\.1\.0;/);
  });

  const minimal = (imports: string, exportsMemory = true) =>
    parse(`(module ${imports} ${exportsMemory ? '(memory (export "memory") 1)' : '(memory 1)'} (func (export "_start")))`);

  it('refuses bad input with one clear message', async () => {
    await expect(adapt(new Uint8Array([1, 2, 3]))).rejects.toThrow(/not a valid wasm module/);
    await expect(adapt(jsApp.subarray(0, 1000))).rejects.toThrow(/not a valid wasm module/);
    await expect(adapt(await adapt(jsApp))).rejects.toThrow(/already a component/);
    await expect(adapt(await minimal('', false))).rejects.toThrow(/no memory/);
    const unknown = await minimal('(import "fastly_http_req" "teleport" (func)) (import "other" "thing" (func))');
    await expect(adapt(unknown)).rejects.toThrow(/fastly_http_req::teleport, other::thing/);
    await expect(adapt(unknown)).rejects.toBeInstanceOf(AdaptError);
  });

  it('stubs unknown imports when asked to', async () => {
    const unknown = await minimal('(import "other" "thing" (func (param i32) (result i32)))');
    const component = await adapt(unknown, { unknownImports: 'trap' });
    expect(await componentWit(component)).toMatch(/export fastly:compute\/http-incoming/);
  });

  it('makes a library component for a module without _start', async () => {
    const lib = await parse('(module (import "fastly_http_body" "new" (func (param i32) (result i32))) (memory (export "memory") 1))');
    const wit = await componentWit(await adapt(lib));
    expect(wit).not.toMatch(/export fastly:compute\/http-incoming/);
    expect(wit).toMatch(/import fastly:compute\/http-body@0\.1\.0/);
  });
});
