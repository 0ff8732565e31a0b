/**
 * `witshim adapt` of the js-compute module end to end, against `componentNew` alone on the
 * already-folded module with the same adapters (the irreducible wit-component cost), measured
 * side by side in one run; plus a cold `witshim adapt` process. Run: `npm run bench`.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { componentNew } from '@bytecodealliance/jco-transpile/wasm-tools';
import { adapt } from '../src/adapt/index.js';
import { ADAPTER_MODULE, adapterModule } from '../src/adapter/build.js';
import { classifyImport } from '../src/adapt/classify.js';
import { renameImports } from '../src/wasm/imports.js';
import { hostcallNames, loadWitxDir } from '../src/witx/index.js';
import { buildJsApp } from '../test/support/js-app.js';
import { measureCheckCost } from './hostcall-cost.js';

const ROUNDS = 7;
const root = join(import.meta.dirname, '..');
const appPath = await buildJsApp();
const app = new Uint8Array(readFileSync(appPath));
const known = new Set(hostcallNames(loadWitxDir(join(root, 'witx'))));
const folded = renameImports(app, (module, name) => {
  const c = classifyImport(known, { module, name, kind: 'function' });
  return c.kind === 'hostcall' ? { module: ADAPTER_MODULE, name: c.hostcall } : undefined;
});
const jcoMain = createRequire(import.meta.url).resolve('@bytecodealliance/jco');
const reactor = new Uint8Array(readFileSync(join(jcoMain, '..', '..', 'lib', 'wasi_snapshot_preview1.reactor.wasm')));
const adapters: Array<[string, Uint8Array]> = [
  [ADAPTER_MODULE, await adapterModule('command')],
  ['wasi_snapshot_preview1', reactor],
];

async function median(fn: () => Promise<unknown>): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const t = performance.now();
    await fn();
    times.push(performance.now() - t);
  }
  return times.sort((a, b) => a - b)[Math.floor(ROUNDS / 2)];
}

// Interleave the two so machine noise hits both alike.
await adapt(app);
const adaptMs = await median(() => adapt(app));
const newMs = await median(() => componentNew(folded, adapters));
const cold: number[] = [];
for (let i = 0; i < 3; i++) {
  const t = performance.now();
  execFileSync(process.execPath, [join(root, 'bin', 'witshim.js'), 'adapt', appPath, '-o', join(tmpdir(), 'witshim-bench.wasm')], { stdio: 'ignore' });
  cold.push(performance.now() - t);
}
cold.sort((a, b) => a - b);
console.log(`js-compute module: ${(app.length / 1e6).toFixed(1)} MB, median of ${ROUNDS}`);
console.log(`adapt (in process, warm):        ${adaptMs.toFixed(0)} ms`);
console.log(`componentNew alone (same input): ${newMs.toFixed(0)} ms`);
console.log(`ratio adapt / componentNew:      ${(adaptMs / newMs).toFixed(2)} (target <= 1.3)`);
console.log(`cold witshim adapt process:      ${cold[1].toFixed(0)} ms median of 3 (target < 1500)`);

await measureCheckCost();
