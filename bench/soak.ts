/**
 * Load and soak (issue 11): `witshim serve` of each app under autocannon at a fixed concurrency
 * for a while, with the server's `--stats 1` line sampled throughout. Reports failed requests
 * (errors, timeouts, non-2xx), the RSS trend after warm-up (least-squares slope over the last
 * three quarters of the run), and the live counts when the load stops: workers, requests in
 * flight, open file descriptors and sockets, against those before the load.
 *
 *   npm run soak -- [--seconds 60] [--concurrency 64] [app.wasm ...]
 *
 * Without apps: the js-compute hello (test/fixtures/js-app, a legacy module) and the C hello
 * (bench/fixtures/hello.wasm). Serves from dist/ (npm run build first) unless given `dist`.
 */
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import autocannon from 'autocannon';

const root = join(import.meta.dirname, '..');

export interface SoakOptions {
  apps: string[];
  seconds: number;
  concurrency: number;
  /** Compiled tree to serve from. */
  dist?: string;
  cache?: string;
}

type Stats = Record<string, number>;

export interface SoakResult {
  app: string;
  requests: number;
  failed: number;
  rps: number;
  p99Ms: number;
  /** RSS (MB) when the load started and when it stopped, and its slope after warm-up (MB per minute). */
  rssStartMb: number;
  rssEndMb: number;
  rssSlopeMbPerMin: number;
  maxWorkers: number;
  /** The stats line before the load and once it stopped and settled. */
  before: Stats;
  after: Stats;
}

function parseStats(line: string): Stats {
  return Object.fromEntries(line.slice('stats '.length).split(' ').map((pair) => pair.split('=')).map(([name, value]) => [name!, Number(value)]));
}

/** Least-squares slope of y over x. */
function slope(points: Array<[x: number, y: number]>): number {
  if (points.length < 2) return 0;
  const n = points.length;
  const mx = points.reduce((sum, [x]) => sum + x, 0) / n;
  const my = points.reduce((sum, [, y]) => sum + y, 0) / n;
  let num = 0;
  let den = 0;
  for (const [x, y] of points) {
    num += (x - mx) * (y - my);
    den += (x - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

async function soakOne(app: string, options: SoakOptions): Promise<SoakResult> {
  const dist = options.dist ?? join(root, 'dist');
  const cache = options.cache ?? join(root, 'node_modules/.cache/witshim/soak');
  mkdirSync(cache, { recursive: true });
  const launcher = join(dist, 'cli/serve-only.js');
  const child = spawn(process.execPath, [launcher, 'serve', app, '--addr', '127.0.0.1:0', '--stats', '1'], {
    cwd: cache,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, WITSHIM_CACHE_DIR: cache },
  });
  const samples: Array<{ at: number; stats: Stats }> = [];
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  try {
    const url = await new Promise<string>((resolve, reject) => {
      let partial = '';
      child.stdout!.setEncoding('utf8');
      child.stdout!.on('data', (chunk: string) => {
        const lines = (partial + chunk).split('\n');
        partial = lines.pop()!;
        for (const line of lines) {
          const listening = /^Listening on (\S+)/.exec(line);
          if (listening) resolve(listening[1]!);
          if (line.startsWith('stats ')) samples.push({ at: performance.now(), stats: parseStats(line) });
        }
      });
      child.once('exit', (code) => reject(new Error(`serve exited with ${code}: ${stderr}`)));
    });
    const nextSample = async () => {
      const count = samples.length;
      while (samples.length <= count) await new Promise((resolve) => setTimeout(resolve, 50));
      return samples.at(-1)!.stats;
    };
    const before = await nextSample();
    const started = performance.now();
    const result = await autocannon({ url: `${url}/`, connections: options.concurrency, duration: options.seconds, timeout: 30 });
    const ended = performance.now();
    // Let the last responses close and the pool settle, then take the counts.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const after = await nextSample();
    const during = samples.filter((sample) => sample.at >= started && sample.at <= ended);
    const warm = during.filter((sample) => sample.at >= started + (ended - started) / 4);
    const rss = (sample: { stats: Stats }) => sample.stats.rss_mb!;
    return {
      app: basename(app),
      requests: result.requests.total,
      failed: result.errors + result.timeouts + result.non2xx,
      rps: result.requests.average,
      p99Ms: result.latency.p99,
      rssStartMb: during.length ? rss(during[0]!) : before.rss_mb!,
      rssEndMb: during.length ? rss(during.at(-1)!) : after.rss_mb!,
      rssSlopeMbPerMin: slope(warm.map((sample) => [(sample.at - started) / 60_000, rss(sample)])),
      maxWorkers: Math.max(before.workers!, ...during.map((sample) => sample.stats.workers!)),
      before,
      after,
    };
  } finally {
    child.kill('SIGTERM');
    await new Promise((resolve) => (child.exitCode !== null ? resolve(undefined) : child.once('exit', resolve)));
  }
}

export async function soak(options: SoakOptions): Promise<SoakResult[]> {
  const results: SoakResult[] = [];
  for (const app of options.apps) results.push(await soakOne(app, options));
  return results;
}

export function printSoak(results: SoakResult[], options: Pick<SoakOptions, 'seconds' | 'concurrency'>): void {
  console.log(`\nsoak: ${options.seconds} s at concurrency ${options.concurrency}`);
  console.log('| app | requests | failed | req/s | p99 ms | RSS MB start → end | RSS slope after warm-up MB/min | workers max → end | in flight after | fds before → after | sockets before → after |');
  console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const r of results) {
    console.log(
      `| ${r.app} | ${r.requests} | ${r.failed} | ${r.rps.toFixed(0)} | ${r.p99Ms} | ${r.rssStartMb.toFixed(0)} → ${r.rssEndMb.toFixed(0)} | ${r.rssSlopeMbPerMin.toFixed(1)} | ${r.maxWorkers} → ${r.after.workers} | ${r.after.inflight} | ${r.before.fds} → ${r.after.fds} | ${r.before.sockets} → ${r.after.sockets} |`,
    );
  }
}

if (import.meta.url === pathToFileURL(process.argv[1]!).href) {
  const args = process.argv.slice(2);
  const flag = (name: string, fallback: number) => {
    const at = args.indexOf(name);
    if (at < 0) return fallback;
    const [, value] = args.splice(at, 2);
    return Number(value);
  };
  const seconds = flag('--seconds', 60);
  const concurrency = flag('--concurrency', 64);
  let apps = args.map((app) => resolve(app));
  if (apps.length === 0) {
    const { buildJsApp } = await import('../test/support/js-app.js');
    apps = [await buildJsApp(), join(root, 'bench/fixtures/hello.wasm')];
  }
  const results = await soak({ apps, seconds, concurrency });
  printSoak(results, { seconds, concurrency });
  if (results.some((r) => r.failed > 0 || r.after.inflight !== 0)) process.exitCode = 1;
}
