/**
 * `witshim serve` throughput and latency against the in-process bound, all in one run:
 *   (a) bench/fixtures/hello.wasm, a legacy C module answering "hello";
 *   (b) a js-compute "hello" app (test/fixtures/js-app, built with @fastly/js-compute);
 *   (c) the same hello opting in to reusable sandboxes (bench/fixtures/js-hello-reuse.js);
 *   (d) a bare Node `http` server answering "hello" (the ceiling).
 * Each is started as its own process and loaded with autocannon at concurrency 1 and 16.
 * In process, without HTTP: the time to instantiate a fresh instance of the transpiled guest and
 * run one request through it (stub channel) in a tight loop, giving the bound
 * cores / (instantiate + one request); plus a bare `new WebAssembly.Instance` of the legacy core
 * module for comparison. Start-up: from spawning `witshim serve` of the js-compute hello to its
 * first response, for a module never seen (empty cache) and a cached one, and in process where a
 * never-seen module's time goes (bench/startup.mjs). Run: `npm run bench` (BENCH_SECONDS=n per
 * load run, default 8).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { buildJsApp } from '../test/support/js-app.js';
import { firstBurst, printFirstBurst } from './first-burst.js';

const root = join(import.meta.dirname, '..');
const seconds = Number(process.env.BENCH_SECONDS ?? 8);
const cores = availableParallelism();
const cache = join(root, 'node_modules/.cache/witshim/bench');
process.env.WITSHIM_CACHE_DIR = cache;
mkdirSync(cache, { recursive: true });

// ---- in process ----

interface InProcess {
  /** Fresh instance + one request, ms. */
  runMs: number;
  /** Fresh instance alone (the transpiled instantiate with our imports), ms. */
  instantiateMs: number;
  /** `new WebAssembly.Instance` of the legacy core module with stub imports, ms. */
  bareMs: number;
  /** instantiateMs / bareMs, measured in alternating batches (the median of the batches' ratios). */
  ratio: number;
}

/** Measured by plain node in a child process (see bench/in-process.mjs for why). */
function inProcess(path: string, rounds: number): InProcess {
  const out = execFileSync(process.execPath, [join(root, 'bench/in-process.mjs'), path, String(rounds)], { env: process.env, encoding: 'utf8' });
  return JSON.parse(out) as InProcess;
}

// ---- over HTTP ----

interface Server {
  url: string;
  startMs: number;
  child: ChildProcess;
  /** Resolves with the ms from spawn to the log line saying it switched from a stand-in glue to the app's own (undefined: not started on one). */
  switched: Promise<number | undefined>;
}

function startProcess(args: string[], cacheDir = cache): Promise<Server> {
  const started = performance.now();
  const child = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, WITSHIM_CACHE_DIR: cacheDir } });
  let errors = '';
  child.stderr!.on('data', (chunk: Buffer) => (errors += chunk.toString()));
  let out = '';
  let listening = false;
  let onSwitched: (ms: number | undefined) => void = () => {};
  const switched = new Promise<number | undefined>((resolve) => (onSwitched = resolve));
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      // Only until the lines looked for are seen: the access log of a load run is not kept.
      if (!listening || out.length < 1 << 16) out += chunk.toString();
      if (/Switched from the stand-in glue/.test(out)) onSwitched(performance.now() - started);
      const match = /Listening on (\S+)/.exec(out);
      if (match && !listening) {
        listening = true;
        if (!/Serving through the stand-in glue/.test(out)) onSwitched(undefined);
        resolve({ url: match[1]!, startMs: performance.now() - started, child, switched });
      }
    });
    child.once('exit', (code) => reject(new Error(`server exited with ${code}: ${errors}`)));
  });
}


async function firstRequestMs(url: string): Promise<number> {
  const started = performance.now();
  const res = await fetch(url);
  await res.text();
  if (res.status !== 200) throw new Error(`first request: status ${res.status}`);
  return performance.now() - started;
}

interface Load {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
}

async function load(url: string, connections: number): Promise<Load> {
  const result = await autocannon({ url, connections, duration: seconds, pipelining: 1 });
  const bad = result.errors + result.timeouts + result.non2xx;
  return { rps: result.requests.average, p50: result.latency.p50, p99: result.latency.p99, errors: bad };
}

interface Row {
  name: string;
  startMs: number;
  firstMs: number;
  c1: Load;
  c16: Load;
}

async function measure(name: string, args: string[]): Promise<Row> {
  const server = await startProcess(args);
  try {
    const firstMs = await firstRequestMs(server.url);
    // A short warm-up so that both loads see compiled code.
    await autocannon({ url: server.url, connections: 4, amount: 200 });
    const c1 = await load(server.url, 1);
    const c16 = await load(server.url, 16);
    return { name, startMs: server.startMs, firstMs, c1, c16 };
  } finally {
    server.child.kill('SIGTERM');
    await new Promise((resolve) => server.child.once('exit', resolve));
  }
}

/**
 * From spawning `witshim serve` to its first 200, with the given cache directory; started on a
 * stand-in glue, also from spawning to the switch to the app's own (waited for, so that the cache
 * holds it afterwards).
 */
async function startToFirstResponse(launcher: string, app: string, cacheDir: string, flags: string[] = []): Promise<{ firstMs: number; switchedMs?: number }> {
  const started = performance.now();
  const server = await startProcess([launcher, 'serve', app, '--addr', '127.0.0.1:0', ...flags], cacheDir);
  try {
    await firstRequestMs(server.url);
    const firstMs = performance.now() - started;
    return { firstMs, switchedMs: await server.switched };
  } finally {
    server.child.kill('SIGTERM');
    await new Promise((resolve) => server.child.once('exit', resolve));
  }
}

const cPath = join(root, 'bench/fixtures/hello.wasm');
const jsPath = await buildJsApp();
const jsReusePath = await buildJsApp(join(root, 'bench/fixtures/js-hello-reuse.js'));

console.log(`${cores} cores, Node ${process.version}, ${seconds} s per load run, load average at start ${loadavg()[0]!.toFixed(1)}`);
const cIn = inProcess(cPath, 400);
const jsIn = inProcess(jsPath, 120);
/** The serve command alone (not the whole CLI), so a half-edited adapter elsewhere cannot stop it. */
const launcher = join(root, 'dist/cli/serve-only.js');
const rows = [
  await measure('C hello (legacy module)', [launcher, 'serve', cPath, '--addr', '127.0.0.1:0']),
  await measure('js-compute hello (legacy module)', [launcher, 'serve', jsPath, '--addr', '127.0.0.1:0']),
  await measure('js-compute hello, reusable sandboxes', [launcher, 'serve', jsReusePath, '--addr', '127.0.0.1:0']),
  await measure('bare Node http (ceiling)', [join(root, 'bench/fixtures/node-hello.mjs')]),
];
const bound = (runMs: number) => (cores * 1000) / runMs;
const inProc = [cIn, jsIn];

// Start-up of the js-compute hello: never seen (an empty cache: on the stand-in glue; and
// without it: adapt + transpile + compile first), then cached.
const coldCache = mkdtempSync(join(tmpdir(), 'witshim-bench-cold-'));
const neverSeen = await startToFirstResponse(launcher, jsPath, coldCache);
const neverSeenOwn = await startToFirstResponse(launcher, jsPath, mkdtempSync(join(tmpdir(), 'witshim-bench-cold-')), ['--no-stand-in']);
const cachedMs = (await startToFirstResponse(launcher, jsPath, coldCache)).firstMs;
// Another module (a rebuild, another app of the same runtime): never seen, of a shape seen.
const newModuleMs = (await startToFirstResponse(launcher, jsReusePath, coldCache)).firstMs;
const breakdown = JSON.parse(execFileSync(process.execPath, [join(root, 'bench/startup.mjs'), jsPath], { encoding: 'utf8' })) as Record<string, number>;

const f0 = (n: number) => n.toFixed(0);
const f1 = (n: number) => n.toFixed(1);
console.log('\n| app | req/s c=1 | p50 / p99 ms c=1 | req/s c=16 | p50 / p99 ms c=16 | first request ms | start → listening ms | in-process bound req/s | c=16 / bound |');
console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
rows.forEach((row, index) => {
  const inp = inProc[index];
  const b = inp ? bound(inp.runMs) : undefined;
  console.log(
    `| ${row.name} | ${f0(row.c1.rps)} | ${row.c1.p50} / ${row.c1.p99} | ${f0(row.c16.rps)} | ${row.c16.p50} / ${row.c16.p99} | ${f1(row.firstMs)} | ${f0(row.startMs)} | ${b ? f0(b) : '—'} | ${b ? `${f0((100 * row.c16.rps) / b)} %` : '—'} |`,
  );
  if (row.c1.errors || row.c16.errors) console.log(`  (${row.name}: ${row.c1.errors + row.c16.errors} errors / non-2xx)`);
});
console.log('\n| in process (no HTTP) | fresh instance + 1 request ms | fresh instance ms | bare WebAssembly.Instance of the legacy module ms | instance / bare |');
console.log('| --- | ---: | ---: | ---: | ---: |');
console.log(`| C hello | ${cIn.runMs.toFixed(2)} | ${cIn.instantiateMs.toFixed(2)} | ${cIn.bareMs.toFixed(3)} | — |`);
console.log(`| js-compute hello | ${jsIn.runMs.toFixed(2)} | ${jsIn.instantiateMs.toFixed(2)} | ${jsIn.bareMs.toFixed(2)} | ${jsIn.ratio.toFixed(2)} (target ≤ 1.5) |`);
printFirstBurst(await firstBurst());
console.log('\nTargets: c=16 throughput ≥ 70 % of the in-process bound; p50 at c=1 ≤ 5 ms (C), ≤ 15 ms (js-compute).');
const [, jsFresh, jsReuse] = rows;
console.log(
  `\nReusable sandboxes: js-compute hello c=16 ${f0(jsReuse!.c16.rps)} req/s vs ${f0(jsFresh!.c16.rps)} fresh (${(jsReuse!.c16.rps / jsFresh!.c16.rps).toFixed(1)}×, target ≥ 5×); p50 c=1 ${jsReuse!.c1.p50} ms (target ≤ 3 ms).`,
);
console.log('\n| js-compute hello start-up | serve start → first response ms | target |');
console.log('| --- | ---: | ---: |');
console.log(`| never seen, empty cache (on the stand-in glue) | ${f0(neverSeen.firstMs)} | ≤ 2500 |`);
console.log(`| … its own glue built in the background and switched to | ${neverSeen.switchedMs === undefined ? 'no switch seen' : f0(neverSeen.switchedMs)} | — |`);
console.log(`| never seen, empty cache, --no-stand-in (own glue first) | ${f0(neverSeenOwn.firstMs)} | — |`);
console.log(`| never seen, its shape known (a rebuild under --watch) | ${f0(newModuleMs)} | ≤ 2500 |`);
console.log(`| cached | ${f0(cachedMs)} | ≤ 800 |`);
console.log('\n| empty cache, in process | stub | adapt stub | transpile stub | adapt module | of which wit-component | transpile module | compile | load glue | first instance + request |');
console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
const b = breakdown;
console.log(`| ms | ${f0(b.stubMs!)} | ${f0(b.adaptStubMs!)} | ${f0(b.transpileStubMs!)} | ${f0(b.adaptMs!)} | ${f0(b.witComponentMs!)} | ${f0(b.transpileMs!)} | ${f0(b.compileMs!)} | ${f0(b.loadGlueMs!)} | ${f0(b.firstInstanceMs!)} |`);
