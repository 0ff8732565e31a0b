// Where `witshim serve`'s start-up goes for a legacy module, in process on the compiled dist/:
// `node bench/startup.mjs <legacy.wasm>` prints JSON with ms for each step of making a module's
// glue and serving it — the stub serve adapts and transpiles for a new shape (stub, adapt,
// transpile), then the full path for comparison: adapt (of which wit-component), transpile,
// compile (the core modules), load (import of the transpiled glue) and the first instance + request.
import { readFileSync } from 'node:fs';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { adapt } from '../dist/adapt/index.js';
import { emptyHostConfig } from '../dist/host/config.js';
import { createRunner } from '../dist/host/runner.js';
import { prepareCoreModules } from '../dist/server/core-modules.js';
import { transpileGuest } from '../dist/server/transpile.js';
import { shapeStub } from '../dist/wasm/shape-stub.js';

const legacy = new Uint8Array(readFileSync(process.argv[2]));
const times = {};
const step = async (name, fn) => {
  const started = performance.now();
  const value = await fn();
  times[name] = performance.now() - started;
  return value;
};
// What `serve` does to make a new shape's glue (src/server/artifacts.ts): adapt and transpile the
// module's stub, then the module stands in for it. The full path (`witshim adapt`) for comparison.
const stubbed = await step('stubMs', () => shapeStub(legacy));
const stubComponent = await step('adaptStubMs', () => adapt(stubbed, { unknownImports: 'trap' }));
await step('transpileStubMs', () => transpileGuest(stubComponent));
const component = await step('adaptMs', () => adapt(legacy, { unknownImports: 'trap', onWitComponent: (ms) => (times.witComponentMs = ms) }));
const { files } = await step('transpileMs', () => transpileGuest(component));
const dir = mkdtempSync(join(tmpdir(), 'witshim-startup-'));
for (const [name, bytes] of Object.entries(files)) writeFileSync(join(dir, name.replace(/\//g, '_')), bytes);
const modules = await step('compileMs', async () => {
  const prepared = prepareCoreModules(Object.fromEntries(Object.entries(files).filter(([file]) => file.endsWith('.wasm'))), 'guest.core.wasm');
  const coreModules = {};
  for (const [name, bytes] of Object.entries(prepared.files)) coreModules[name] = await WebAssembly.compile(bytes);
  return { ...prepared, coreModules };
});
const { instantiate } = await step('loadGlueMs', () => import(pathToFileURL(join(dir, 'guest.js')).href));
const channel = { call: (call) => (call.op === 'read' ? { op: 'read', end: true } : { op: 'wait', index: 0 }), notify() {}, post() {} };
const downstream = { id: 'startup', method: 'GET', uri: 'http://127.0.0.1/', version: 'http11', headers: [], originalHeaderNames: [], body: 1, knownLength: 0n };
await step('firstInstanceMs', () => {
  const finished = createRunner({ instantiate, modules, config: emptyHostConfig(), channel }).run({ kind: 'run', request: downstream, env: {} });
  if (finished.outcome !== 'ok') throw new Error(`first request: ${finished.outcome} ${finished.message ?? ''}`);
});
console.log(JSON.stringify(times));
