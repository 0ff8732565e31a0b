/**
 * The core cache hit path, in one run: `witshim serve` of bench/fixtures/cachehit.wasm (a legacy
 * C module), loaded by autocannon at concurrency 16 on its `/constant` route (a fixed 1 KiB body)
 * and its `/cache` route (the same body served from the core cache: lookup, get_body, send),
 * alternating A B A B so that drift on a shared machine hits both alike. Reports requests per
 * second of each and the ratio (target: cache ≥ 70 % of constant).
 * Run: `npm run bench:cache` (BENCH_SECONDS=n per load run, default 5; BENCH_ROUNDS, default 2).
 */
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import autocannon from 'autocannon';

const root = join(import.meta.dirname, '..');
const seconds = Number(process.env.BENCH_SECONDS ?? 5);
const rounds = Number(process.env.BENCH_ROUNDS ?? 2);
const cache = join(root, 'node_modules/.cache/witshim/bench');
mkdirSync(cache, { recursive: true });

const launcher = join(cache, 'launch-serve-cache.mjs');
writeFileSync(
  launcher,
  `import { Command } from 'commander';
import { registerServe } from ${JSON.stringify(pathToFileURL(join(root, 'dist/cli/serve.js')).href)};
const program = new Command().exitOverride();
registerServe(program);
await program.parseAsync(process.argv.slice(2), { from: 'user' });
`,
);

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
  for (let round = 0; round < rounds; round++) {
    for (const path of ['/constant', '/cache']) {
      const result = await autocannon({ url: `${url}${path}`, connections: 16, duration: seconds });
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
  console.log(`\ncache hit / constant: ${((100 * cached) / constant).toFixed(0)} % (target ≥ 70 %)`);
} finally {
  child.kill('SIGTERM');
}
