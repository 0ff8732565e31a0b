/**
 * First-burst latency of a fresh `witshim serve` (issue 11, item 1): the componentize-js test
 * app (test/fixtures/components/app.js, 20 MB) just after "Listening", 20 concurrent `/hello`,
 * then 10 `/proxy?path=/slow` (the origin answers after 3 s) and 300 ms later 10 `/hello`; the
 * same again on the same server. Prints one table row per round. Run alone with
 * `npx tsx bench/first-burst.ts` (after `npm run build`); `bench/serve.ts` runs it too.
 * FIRST_BURST_DIST=dir serves from another compiled tree (for A/B against an older build).
 */
import { spawn } from 'node:child_process';
import http from 'node:http';
import { mkdirSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { buildTestApp } from '../test/fixtures/components/harness.js';

const root = join(import.meta.dirname, '..');
const SLOW_MS = 3000;
const FAST_DELAY_MS = 300;

export interface BurstRound {
  /** Slowest of the 20 concurrent /hello. */
  burstMaxMs: number;
  fastMs: number[];
  slowMs: number[];
}

const timed = async (url: string): Promise<number> => {
  const started = performance.now();
  const res = await fetch(url);
  await res.text();
  if (res.status >= 300) throw new Error(`${url}: status ${res.status}`);
  return performance.now() - started;
};

async function round(url: string): Promise<BurstRound> {
  const burst = await Promise.all(Array.from({ length: 20 }, () => timed(`${url}/hello`)));
  const slow = Array.from({ length: 10 }, () => timed(`${url}/proxy?path=/slow`));
  await new Promise((resolve) => setTimeout(resolve, FAST_DELAY_MS));
  const fast = Array.from({ length: 10 }, () => timed(`${url}/hello`));
  return { burstMaxMs: Math.max(...burst), fastMs: await Promise.all(fast), slowMs: await Promise.all(slow) };
}

export async function firstBurst(dist = join(root, 'dist'), cache = join(root, 'node_modules/.cache/witshim/bench')): Promise<BurstRound[]> {
  const app = await buildTestApp();
  const origin = http.createServer((req, res) => (req.url === '/slow' ? setTimeout(() => res.end('slow'), SLOW_MS) : res.end('origin')));
  await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', resolve));
  mkdirSync(cache, { recursive: true });
  const toml = join(cache, 'first-burst.toml');
  writeFileSync(toml, `[local_server.backends.origin]\nurl = "http://127.0.0.1:${(origin.address() as AddressInfo).port}"\n`);
  const launcher = join(dist, 'cli/serve-only.js');
  const child = spawn(process.execPath, [launcher, 'serve', app, '-C', toml, '--addr', '127.0.0.1:0'], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, WITSHIM_CACHE_DIR: cache } });
  try {
    const url = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout!.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        const match = /Listening on (\S+)/.exec(out);
        if (match) resolve(match[1]!);
      });
      child.once('exit', (code) => reject(new Error(`server exited with ${code}`)));
    });
    child.stdout!.resume();
    return [await round(url), await round(url)];
  } finally {
    child.kill('SIGTERM');
    origin.close();
  }
}

const span = (values: number[]) => `${Math.min(...values).toFixed(0)}–${Math.max(...values).toFixed(0)}`;

export function printFirstBurst(rounds: BurstRound[]): void {
  console.log(`\n| first burst (20 × /hello, then 10 × ${SLOW_MS} ms backend + 10 × /hello) | 20 × /hello max ms | fast ms | slow ms |`);
  console.log('| --- | ---: | ---: | ---: |');
  rounds.forEach((r, index) => console.log(`| ${index === 0 ? 'fresh server' : 'same server, again'} | ${r.burstMaxMs.toFixed(0)} | ${span(r.fastMs)} | ${span(r.slowMs)} |`));
}

if (import.meta.url === pathToFileURL(process.argv[1]!).href) {
  printFirstBurst(await firstBurst(process.env.FIRST_BURST_DIST));
}
