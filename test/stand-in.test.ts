import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WasmModuleInterface } from '../src/wasm/imports.js';
import { fits } from '../src/server/stand-in.js';
import { compileSources, STAND_IN, startServe, type ServeProcess } from './fixtures/components/harness.js';
import { buildJsApp } from './support/js-app.js';

/*
 * The stand-in glue (src/server/stand-in.ts): which modules it serves, that a module served
 * through it answers as through its own glue, and the switch to its own once built.
 */

const here = dirname(fileURLToPath(import.meta.url));

const fn = (params: string[], results: string[]) => ({ params, results }) as never;
const standIn: WasmModuleInterface = {
  imports: [
    { module: 'witshim', name: 'fastly_http_resp#new', kind: 'function', type: fn([], ['i32']) },
    { module: 'wasi_snapshot_preview1', name: 'fd_write', kind: 'function', type: fn(['i32', 'i32', 'i32', 'i32'], ['i32']) },
  ],
  exports: [
    { name: 'memory', kind: 'memory', index: 0 },
    { name: '_start', kind: 'function', index: 2, type: fn([], []) },
  ],
};
const module = (change: Partial<WasmModuleInterface>): WasmModuleInterface => ({ imports: standIn.imports.slice(0, 1), exports: standIn.exports, ...change });

describe('which modules a stand-in serves', () => {
  it('a module importing some of its imports, exporting what it exports and more', () => {
    expect(fits(module({}), standIn)).toBe(true);
    expect(fits(module({ exports: [...standIn.exports, { name: 'helper', kind: 'function', index: 3, type: fn(['i32'], []) }] }), standIn)).toBe(true);
  });

  it('not a module importing something else, or an import of another type', () => {
    expect(fits(module({ imports: [{ module: 'witshim_unknown', name: 'env::f', kind: 'function', type: fn([], []) }] }), standIn)).toBe(false);
    expect(fits(module({ imports: [{ module: 'witshim', name: 'fastly_http_resp#new', kind: 'function', type: fn(['i32'], ['i32']) }] }), standIn)).toBe(false);
  });

  it('not a module lacking an export the glue reads, or exporting one wit-component would wire that the stub lacks', () => {
    expect(fits(module({ exports: standIn.exports.slice(0, 1) }), standIn)).toBe(false);
    expect(fits(module({ exports: [...standIn.exports, { name: 'cabi_realloc', kind: 'function', index: 4, type: fn(['i32', 'i32', 'i32', 'i32'], ['i32']) }] }), standIn)).toBe(false);
    expect(fits(module({ exports: [...standIn.exports, { name: '_initialize', kind: 'function', index: 4, type: fn([], []) }] }), standIn)).toBe(false);
  });
});

let dist: string;
let jsApp: string;
beforeAll(async () => {
  [dist, jsApp] = await Promise.all([compileSources(), buildJsApp()]);
  // The package build makes them (adapter/build.mjs); a changed adapter needs new ones.
  const { buildStandIns } = (await import(pathToFileURL(join(dist, 'server/stand-in-build.js')).href)) as typeof import('../src/server/stand-in-build.js');
  await buildStandIns(['subscribe']);
}, 180_000);

describe('a module served through a stand-in', () => {
  it('the js-compute app (which exports cabi_realloc) answers as through its own glue', async () => {
    // In a child: its own glue's first build takes a core for seconds.
    const script = join(here, 'support/stand-in-exchange.mjs');
    const root = mkdtempSync(join(tmpdir(), 'witshim-stand-in-'));
    const through = (mode: string) => JSON.parse(execFileSync(process.execPath, [script, dist, jsApp, root, mode], { encoding: 'utf8' })) as { glue: string; status: number; body: string };
    const stand = through('stand-in');
    expect(stand.glue).toContain('/adapter/build/stand-in/');
    const own = through('own');
    expect(own.glue).not.toContain('/stand-in/');
    expect(stand).toEqual({ ...own, glue: stand.glue });
    expect(own.status).toBe(200);
    // Its own glue is known now: no stand-in any more.
    expect(through('stand-in').glue).toBe('none');
  }, 120_000);
});

describe('serve on a stand-in', () => {
  let serve: ServeProcess;
  afterAll(() => serve?.stop());

  it('answers at once, builds the own glue in the background, switches to it, and answers the same', async () => {
    // hostcalls.wasm imports all 251 hostcalls: every one must be among the stand-in's.
    const app = join(here, 'fixtures/c/hostcalls.wasm');
    serve = await startServe(dist, app, [STAND_IN], { WITSHIM_CACHE_DIR: mkdtempSync(join(tmpdir(), 'witshim-stand-in-')) });
    const first = await fetch(serve.url);
    expect(first.status).toBe(200);
    const body = await first.text();
    expect(body).toBe('251 hostcalls\n');
    expect(serve.stdout).toContain("Serving through the stand-in glue while the app's own is built in the background");
    await serve.waitForLine(/^Switched from the stand-in glue to the app's own \(built in the background in \d+ms\)$/, 90_000);
    const after = await fetch(serve.url);
    expect(await after.text()).toBe(body);
    expect(serve.stderr.join('\n')).not.toMatch(/glue failed/);
  }, 120_000);

  it('a --watch reload to a module of a new shape starts it on a stand-in too, then switches', async () => {
    const app = join(mkdtempSync(join(tmpdir(), 'witshim-stand-in-')), 'app.wasm');
    copyFileSync(join(here, 'fixtures/c/hostcalls.wasm'), app);
    const watched = await startServe(dist, app, [STAND_IN, '--watch'], { WITSHIM_CACHE_DIR: mkdtempSync(join(tmpdir(), 'witshim-stand-in-')) });
    try {
      await watched.waitForLine(/^Switched from the stand-in glue/, 90_000);
      // hello.wasm imports other hostcalls than hostcalls.wasm: a shape this cache has not seen.
      copyFileSync(join(here, 'fixtures/c/hello.wasm'), app);
      await watched.waitForLine(/^Reloaded in \d+ms$/, 60_000);
      expect(watched.stdout.filter((line) => line.startsWith('Serving through the stand-in glue'))).toHaveLength(2);
      expect(await (await fetch(watched.url)).text()).toContain('hello from C');
      await expect.poll(() => watched.stdout.filter((line) => line.startsWith('Switched from the stand-in glue')).length, { timeout: 90_000 }).toBe(2);
      expect(await (await fetch(watched.url)).text()).toContain('hello from C');
    } finally {
      await watched.stop();
    }
  }, 180_000);

  it('stopping the server stops a background build', async () => {
    // The js-compute app's own glue takes seconds to build: it is still building when listening.
    const early = await startServe(dist, jsApp, [STAND_IN], { WITSHIM_CACHE_DIR: mkdtempSync(join(tmpdir(), 'witshim-stand-in-')) });
    const builders = execFileSync('ps', ['-o', 'pid=,args=', '--ppid', String(early.child.pid)], { encoding: 'utf8' })
      .split('\n')
      .filter((line) => line.includes('background-builder'))
      .map((line) => Number(line.trim().split(/\s+/)[0]));
    expect(builders).toHaveLength(1);
    await early.stop();
    const alive = (pid: number) => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    await expect.poll(() => builders.filter(alive), { timeout: 10_000 }).toEqual([]);
  }, 60_000);
});
