import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

/*
 * witshim as a user gets it: the package is packed with `npm pack` (its `files` and `exports`
 * decide what ships), unpacked into a fresh project's node_modules as `npm install ./witshim.tgz`
 * lays it out, and a TypeScript program there imports `witshim` and `witshim/test` by name, is
 * type-checked against the shipped declarations, and run. npm itself cannot install offline (it
 * fetches the dependencies' metadata), so the dependencies are linked from this repository's
 * node_modules, where npm would nest them.
 */

const repo = join(import.meta.dirname, '..');
const run = promisify(execFile);
const scratch = mkdtempSync(join(tmpdir(), 'witshim-package-'));
const tsc = join(repo, 'node_modules/typescript/bin/tsc');

afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const consumer = `
import { readFileSync } from 'node:fs';
import { abi, adapt, createServer, inspect, runOnce, type Server } from 'witshim';
import { createTestServer, type BodyView, type KvEntryView } from 'witshim/test';

const legacy = new Uint8Array(readFileSync(process.argv[2]!));
const component = await adapt(legacy);
const report = await inspect(component);
const server: Server = await createServer(component, { config: {}, logger: { info() {} } });
const url = await server.listen({ port: 0 });
const served = await fetch(url + '/');
const body = await served.text();
await server.close();
const harness = await createTestServer(legacy);
const inProcess = await harness.fetch('/');
const inProcessBody = await inProcess.text();
// The state accessors' types ship with the package: a body's state is a union to switch on.
const kvEntries: Record<string, KvEntryView> | undefined = harness.kv('none');
const describeBody = (body: BodyView): string => {
  switch (body.state) {
    case 'complete':
      return body.text;
    case 'writing':
      return String(body.received);
  }
};
const cached = harness.cache.objects().map((object) => describeBody(object.body));
await harness.close();
console.log(JSON.stringify({
  kind: report.kind,
  producedByWitshim: report.kind === 'component' && report.producedByWitshim,
  status: served.status,
  body,
  inProcess: [inProcess.status, inProcess.headers.get('x-guest'), inProcessBody],
  witxModules: abi().witx.length,
  runOnce: typeof runOnce,
  state: [kvEntries === undefined, harness.cache.keys(), cached],
}));
`;

describe('the packed package', () => {
  it('installs into a fresh project, type-checks and runs there by its name', { timeout: 120_000 }, async () => {
    // The package as `npm run build` leaves it, with its own compiled dist/.
    const pkg = join(scratch, 'pkg');
    mkdirSync(join(pkg, 'adapter'), { recursive: true });
    for (const name of ['package.json', 'README.md', 'witx', 'wit', 'bin']) cpSync(join(repo, name), join(pkg, name), { recursive: true });
    cpSync(join(repo, 'adapter/build.mjs'), join(pkg, 'adapter/build.mjs'));
    await run(process.execPath, [tsc, '-p', join(repo, 'tsconfig.build.json'), '--outDir', join(pkg, 'dist')], { cwd: repo });
    await run(process.execPath, [join(repo, 'scripts/copy-declarations.mjs'), join(pkg, 'dist')], { cwd: repo });
    // The adapter modules `npm run build` makes ship too; ours are reused when their inputs match.
    if (existsSync(join(repo, 'adapter/build'))) cpSync(join(repo, 'adapter/build'), join(pkg, 'adapter/build'), { recursive: true });
    symlinkSync(join(repo, 'node_modules'), join(pkg, 'node_modules'));
    await run(process.execPath, [join(pkg, 'adapter/build.mjs')], { cwd: pkg });
    const { stdout: packed } = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', scratch], { cwd: pkg });
    const [{ filename, files }] = JSON.parse(packed) as Array<{ filename: string; files: Array<{ path: string }> }>;
    const shipped = files.map((file) => file.path);
    expect(shipped).toEqual(expect.arrayContaining(['dist/index.js', 'dist/index.d.ts', 'dist/testing/index.js', 'dist/host/worker.js', 'dist/host/wit-types/service.d.ts', 'bin/witshim.js', 'adapter/build.mjs', 'witx/typenames.witx', 'wit/compute.wit']));
    expect(shipped.some((path) => path.startsWith('src/') || path.startsWith('test/') || path.startsWith('node_modules/'))).toBe(false);
    for (const variant of ['command', 'library']) expect(shipped.some((path) => path.startsWith(`adapter/build/adapter.${variant}.`) && path.endsWith('.wasm'))).toBe(true);

    const app = join(scratch, 'app');
    const installed = join(app, 'node_modules/witshim');
    mkdirSync(installed, { recursive: true });
    await run('tar', ['xzf', join(scratch, filename), '-C', installed, '--strip-components=1']);
    symlinkSync(join(repo, 'node_modules'), join(installed, 'node_modules'));
    mkdirSync(join(app, 'node_modules/@types'), { recursive: true });
    symlinkSync(join(repo, 'node_modules/@types/node'), join(app, 'node_modules/@types/node'));
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module', dependencies: { witshim: `file:../${filename}` } }));
    writeFileSync(
      join(app, 'tsconfig.json'),
      JSON.stringify({ compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, types: ['node'], outDir: 'out', skipLibCheck: false } }),
    );
    writeFileSync(join(app, 'main.ts'), consumer);
    await run(process.execPath, [tsc, '-p', app], { cwd: app }).catch((err: { stdout: string }) => {
      throw new Error(`the consumer did not type-check:\n${err.stdout}`);
    });
    const { stdout } = await run(process.execPath, [join(app, 'out/main.js'), join(repo, 'test/fixtures/c/hello.wasm')], {
      cwd: app,
      env: { ...process.env, WITSHIM_CACHE_DIR: join(scratch, 'cache') },
    });
    expect(JSON.parse(stdout)).toEqual({
      kind: 'component',
      producedByWitshim: true,
      status: 200,
      body: 'hello from C',
      inProcess: [200, 'c-hello', 'hello from C'],
      witxModules: 24,
      runOnce: 'function',
      state: [true, [], []],
    });
    expect(readFileSync(join(installed, 'package.json'), 'utf8')).toContain('"./test"');
  });
});
