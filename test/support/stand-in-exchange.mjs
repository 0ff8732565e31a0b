// `node stand-in-exchange.mjs <dist> <app.wasm> <cache root> stand-in|own`: serves one
// `GET http://localhost/` in process through the app's stand-in glue (src/server/stand-in.ts) or
// its own, and prints JSON { glue, status, body } (glue `none`: no stand-in serves it now).
// A child of test/stand-in.test.ts, so that building the own glue takes no core from the tests.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const [dist, app, root, mode] = process.argv.slice(2);
const load = (path) => import(pathToFileURL(join(dist, path)).href);
const [{ prepareGuest, prepareServable }, { startServerCore }, { emptyHostConfig }] = await Promise.all([load('server/artifacts.js'), load('api/server.js'), load('host/config.js')]);
const bytes = new Uint8Array(readFileSync(app));
const servable = mode === 'stand-in' ? await prepareServable(bytes, root) : { artifacts: await prepareGuest(bytes, root), standIn: false };
const { artifacts } = servable;
if (mode === 'stand-in' && !servable.standIn) {
  console.log(JSON.stringify({ glue: 'none' }));
} else {
  const quiet = { info() {}, error() {}, guestOutput() {}, endpoint() {} };
  const server = await startServerCore({ artifacts, config: emptyHostConfig(), logger: quiet, maxWorkers: 1, spareWorkers: 0 });
  const response = await server.fetch('/');
  console.log(JSON.stringify({ glue: artifacts.guestModule, status: response.status, body: await response.text() }));
  await server.close();
}
