/**
 * The core cache hit path, in one run: `witshim serve` of bench/fixtures/cachehit.wasm (a legacy
 * C module), loaded by autocannon at concurrency 16 on its `/constant` route (a fixed 1 KiB body)
 * and its `/cache` route (the same body served from the core cache: lookup, get_body, send),
 * alternating A B A B in short runs so that drift on a shared machine hits both alike. Reports
 * requests per second of each, and the median over rounds of the ratio within a round (robust to
 * the load of other jobs drifting between rounds; target: cache ≥ 70 % of constant). Also the
 * server's CPU time per request on each route (from /proc, all its threads), which other jobs
 * on the machine disturb far less than throughput.
 * Run: `npm run bench:cache` (BENCH_SECONDS=n per load run, default 3; BENCH_ROUNDS, default 5).
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import autocannon from 'autocannon';

const root = join(import.meta.dirname, '..');
const seconds = Number(process.env.BENCH_SECONDS ?? 3);
const rounds = Number(process.env.BENCH_ROUNDS ?? 5);
const cache = join(root, 'node_modules/.cache/witshim/bench');
mkdirSync(cache, { recursive: true });

const launcher = join(root, 'dist/cli/serve-only.js');

/** CPU seconds the server process has used so far, all threads (Linux `/proc/<pid>/stat`, 100 ticks a second). */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

const child = spawn(process.execPath, [launcher, 'serve', join(root, 'bench/fixtures/cachehit.wasm'), '--addr', '127.0.0.1:0'], {
  cwd: root,
  // Its stderr would only show requests cut off when it is stopped at the end.
  stdio: ['ignore', 'pipe', 'ignore'],
  env: { ...process.env, WITSHIM_CACHE_DIR: cache },
});
const url = await new Promise<string>((resolve, reject) => {
  let out = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    out += chunk.toString();
    const match = /Listening on (\S+)/.exec(out);
    if (match) {
      child.stdout!.removeAllListeners('data');
      child.stdout!.resume();
      resolve(match[1]!);
    }
  });
  child.once('exit', (code) => reject(new Error(`serve exited with ${code}`)));
});

try {
  for (const path of ['/constant', '/cache']) {
    const res = await fetch(`${url}${path}`);
    const body = await res.text();
    if (res.status !== 200 || body !== 'x'.repeat(1024)) throw new Error(`${path}: ${res.status} ${body.slice(0, 80)}`);
  }
  // Warm both routes (workers started, code compiled) before measuring.
  for (const path of ['/constant', '/cache']) await autocannon({ url: `${url}${path}`, connections: 16, amount: 2000 });
  const rps: Record<string, number[]> = { '/constant': [], '/cache': [] };
  const cpu: Record<string, { seconds: number; requests: number }> = { '/constant': { seconds: 0, requests: 0 }, '/cache': { seconds: 0, requests: 0 } };
  for (let round = 0; round < rounds; round++) {
    for (const path of ['/constant', '/cache']) {
      const before = cpuSeconds(child.pid!);
      const result = await autocannon({ url: `${url}${path}`, connections: 16, duration: seconds });
      cpu[path]!.seconds += cpuSeconds(child.pid!) - before;
      // autocannon reports the count as `requests.total` (not in our slim typings).
      cpu[path]!.requests += (result.requests as { total?: number }).total ?? result.requests.average * seconds;
      if (result.errors + result.timeouts + result.non2xx > 0) throw new Error(`${path}: ${result.errors} errors, ${result.non2xx} non-2xx`);
      rps[path]!.push(result.requests.average);
    }
  }
  const mean = (values: number[]) => values.reduce((sum, v) => sum + v, 0) / values.length;
  const constant = mean(rps['/constant']!);
  const cached = mean(rps['/cache']!);
  console.log(`${rounds} rounds × ${seconds} s per route, c=16, 1 KiB body`);
  console.log('\n| route | req/s per round | mean req/s |');
  console.log('| --- | ---: | ---: |');
  console.log(`| constant body | ${rps['/constant']!.map((v) => v.toFixed(0)).join(' / ')} | ${constant.toFixed(0)} |`);
  console.log(`| core cache hit | ${rps['/cache']!.map((v) => v.toFixed(0)).join(' / ')} | ${cached.toFixed(0)} |`);
  const ratios = rps['/cache']!.map((value, round) => value / rps['/constant']![round]!).sort((a, b) => a - b);
  const median = ratios[Math.floor(ratios.length / 2)]!;
  console.log(`\ncache hit / constant within each round: ${ratios.map((r) => `${(100 * r).toFixed(0)} %`).join(', ')}`);
  console.log(`median: ${(100 * median).toFixed(0)} %; of the means: ${((100 * cached) / constant).toFixed(0)} % (target ≥ 70 %)`);
  const perRequest = (path: string) => (1000 * cpu[path]!.seconds) / cpu[path]!.requests;
  console.log(
    `server CPU per request: constant ${perRequest('/constant').toFixed(2)} ms, cache hit ${perRequest('/cache').toFixed(2)} ms — the rate CPU allows the hit path: ${((100 * perRequest('/constant')) / perRequest('/cache')).toFixed(0)} % of the constant body's`,
  );
} finally {
  child.kill('SIGTERM');
}
