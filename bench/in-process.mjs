// The in-process side of bench/serve.ts: `node bench/in-process.mjs <legacy.wasm> <rounds>`
// prints JSON `{ runMs, instantiateMs, bareMs, ratio }`. Plain JavaScript on the compiled dist/, run by
// plain node, because a TypeScript loader (tsx) also transforms the transpiled guest glue it
// imports, and its keep-names wrappers slow every instantiation.
import { readFileSync } from 'node:fs';
import { emptyHostConfig } from '../dist/host/config.js';
import { createRunner } from '../dist/host/runner.js';
import { prepareGuest } from '../dist/server/artifacts.js';

const [path, roundsText] = process.argv.slice(2);
const rounds = Number(roundsText);
const legacy = new Uint8Array(readFileSync(path));

const stubChannel = {
  call: (call) => (call.op === 'read' ? { op: 'read', end: true } : call.op === 'wait' ? { op: 'wait', index: 0 } : { op: 'await-response', result: { err: 'internal-error', message: 'bench' } }),
  notify() {},
  post() {},
};

const downstream = {
  id: 'bench',
  method: 'GET',
  uri: 'http://127.0.0.1/',
  version: 'http11',
  headers: [['host', Buffer.from('127.0.0.1')], ['user-agent', Buffer.from('bench')]],
  originalHeaderNames: ['Host', 'User-Agent'],
  body: 1,
  knownLength: 0n,
  clientAddress: '127.0.0.1',
  serverAddress: '127.0.0.1',
};

function meanMs(fn) {
  for (let i = 0; i < Math.min(20, rounds); i++) fn();
  const started = performance.now();
  for (let i = 0; i < rounds; i++) fn();
  return (performance.now() - started) / rounds;
}

const artifacts = await prepareGuest(legacy);
const { instantiate } = await import(artifacts.guestModule);
const message = { kind: 'run', request: downstream, env: {} };
const { run } = createRunner({ instantiate, modules: artifacts, config: emptyHostConfig(), channel: stubChannel });
const check = run(message);
if (check.outcome !== 'ok') throw new Error(`in-process run failed: ${check.outcome} ${check.message ?? ''}`);
const runMs = meanMs(() => run(message));
// The same instantiation without calling the handler.
const noHandler = (getCoreModule, imports, instantiateCore) => (instantiate(getCoreModule, imports, instantiateCore), {});
const instantiateOnly = createRunner({ instantiate: noHandler, modules: artifacts, config: emptyHostConfig(), channel: stubChannel }).run;
const module = new WebAssembly.Module(legacy);
const stubs = {};
for (const entry of WebAssembly.Module.imports(module)) if (entry.kind === 'function') (stubs[entry.module] ??= {})[entry.name] = () => 0;
const { aMs: instantiateMs, bMs: bareMs, ratio } = sideBySide(() => instantiateOnly({ kind: 'command', args: [], env: {} }), () => new WebAssembly.Instance(module, stubs));
console.log(JSON.stringify({ runMs, instantiateMs, bareMs, ratio }));

/**
 * Two costs measured side by side: alternating batches (as many runs in all as `rounds` each),
 * so that the machine's load, which swings within seconds here, weighs on both alike; the
 * medians of the batches, and the median of the batch-by-batch ratios.
 */
function sideBySide(a, b) {
  const batches = 12;
  const perBatch = Math.max(3, Math.round(rounds / batches));
  meanMs(a);
  meanMs(b);
  const as = [];
  const bs = [];
  const ratios = [];
  for (let i = 0; i < batches; i++) {
    const x = batchMs(a, perBatch);
    const y = batchMs(b, perBatch);
    as.push(x);
    bs.push(y);
    ratios.push(x / y);
  }
  return { aMs: median(as), bMs: median(bs), ratio: median(ratios) };
}

function batchMs(fn, count) {
  const started = performance.now();
  for (let i = 0; i < count; i++) fn();
  return (performance.now() - started) / count;
}

function median(values) {
  const sorted = [...values].sort((x, y) => x - y);
  return sorted[Math.floor(sorted.length / 2)];
}
