import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readModuleInterface } from '../src/wasm/imports.js';
import { coreSignature, findWitxFunction, loadWitxDir, lowerFunction } from '../src/witx/index.js';
import { compileSources, startServe, type ServeProcess } from './fixtures/components/harness.js';

/*
 * A legacy C guest (test/fixtures/c/guards.c, committed build) through adapt + serve: handles
 * that are no longer valid answer badf instead of trapping the guest into a 500, and text that
 * is not UTF-8 answers inval instead of reaching the host (where wasmtime-based hosts trap).
 */
const guest = join(import.meta.dirname, 'fixtures/c/guards.wasm');
let serve: ServeProcess;
/** The same guest adapted for the published WIT (`--target published`). */
let published: ServeProcess;

beforeAll(async () => {
  const dist = await compileSources();
  [serve, published] = await Promise.all([startServe(dist, guest), startServe(dist, guest, ['--target', 'published'])]);
}, 180_000);

afterAll(() => Promise.all([serve?.stop(), published?.stop()]));

describe('guards.c under witshim serve', { timeout: 30_000 }, () => {
  it('imports each hostcall with the exact WITX-lowered signature', () => {
    const abi = loadWitxDir(join(import.meta.dirname, '../witx'));
    const { imports } = readModuleInterface(readFileSync(guest));
    for (const imp of imports.filter((i) => i.module.startsWith('fastly_'))) {
      const fn = findWitxFunction(abi, imp.module, imp.name);
      expect(fn, `${imp.module}#${imp.name}`).toBeDefined();
      expect(imp.type).toEqual(coreSignature(lowerFunction(abi, fn!)));
    }
  });

  it('a body appended twice, closed twice, never issued or invalid is badf; the guest answers 200', async () => {
    const res = await fetch(serve.url);
    expect(res.status).toBe(200);
    const report = Object.fromEntries((await res.text()).trim().split('\n').map((l) => l.split('=')));
    expect(report).toMatchObject({
      append: '0',
      append_again: '3',
      write_appended_source: '3',
      write_dest: '0',
      close: '0',
      close_again: '3',
      write_never_issued: '3',
      write_invalid: '3',
      append_to_invalid: '3',
    });
  });

  it('serve --target published runs the same guest with the same answers', async () => {
    const [a, b] = await Promise.all([fetch(serve.url), fetch(published.url)]);
    expect(b.status).toBe(200);
    expect(await b.text()).toBe(await a.text());
  });

  it('text that is not UTF-8 is inval; multi-byte UTF-8 passes', async () => {
    const res = await fetch(serve.url);
    const report = Object.fromEntries((await res.text()).trim().split('\n').map((l) => l.split('=')));
    expect(res.headers.get('x-guard')).toBe('ok');
    expect(report).toMatchObject({
      header_ascii: '0',
      header_not_utf8: '2',
      header_overlong: '2',
      endpoint_utf8: '0',
      endpoint_surrogate: '2',
      endpoint_truncated: '2',
      endpoint_ff: '2',
    });
  });
});
