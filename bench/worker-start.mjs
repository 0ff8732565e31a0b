// Cost of starting one guest worker (WorkerPool.warm with one worker), with the glue compiled from
// its classic-script copy against the code cache ("script") and imported as an ES module ("module"),
// alternating, 6 rounds each: `node bench/worker-start.mjs app.wasm` after `npm run build`.
import { prepareGuest } from '../dist/server/artifacts.js';
import { WorkerPool } from '../dist/server/pool.js';
import { emptyHostConfig } from '../dist/host/config.js';
import { readFileSync } from 'node:fs';
process.env.WITSHIM_CACHE_DIR ??= new URL('../node_modules/.cache/witshim/bench', import.meta.url).pathname;
const artifacts = await prepareGuest(readFileSync(process.argv[2]));
const noScript = { ...artifacts, guestScript: undefined };
const rows = { script: [], module: [] };
for (let i = 0; i < 6; i++) {
  for (const [name, a] of [['script', artifacts], ['module', noScript]]) {
    const pool = new WorkerPool(a, emptyHostConfig(), { computeLimit: 1, spareWorkers: 0 });
    const c0 = process.cpuUsage(); const t0 = performance.now();
    await pool.warm();
    const cpu = process.cpuUsage(c0); const wall = performance.now() - t0;
    rows[name].push([(cpu.user + cpu.system) / 1000, wall]);
    await pool.close();
  }
}
const med = (xs) => xs.sort((a, b) => a - b)[xs.length >> 1];
for (const [name, r] of Object.entries(rows)) console.log(name, 'cpu ms median', med(r.map(x => x[0])).toFixed(0), 'wall ms median', med(r.map(x => x[1])).toFixed(0), JSON.stringify(r.map(x => x.map(v => Math.round(v)))));
