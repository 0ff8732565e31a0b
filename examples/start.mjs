// `npm start`: compiles witshim if dist/ is missing or older than src/, rebuilds the example
// module when its C source changed and clang is at hand (the built .wasm is committed, so
// clang is optional), then serves it: `npm start -- --addr 0.0.0.0:8080` passes flags on.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const newest = (dir) =>
  readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile())
    .reduce((max, entry) => Math.max(max, statSync(join(entry.parentPath ?? entry.path, entry.name)).mtimeMs), 0);

const main = join(root, 'dist/cli/main.js');
if (!existsSync(main) || newest(join(root, 'src')) > statSync(main).mtimeMs) {
  console.log('building witshim (npm run build)');
  execFileSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(root, 'tsconfig.build.json')], { stdio: 'inherit' });
}

const app = join(root, 'examples/inspector.wasm');
const source = join(root, 'examples/inspector.c');
if (!existsSync(app) || statSync(source).mtimeMs > statSync(app).mtimeMs) {
  try {
    execFileSync('sh', [join(root, 'examples/build.sh')], { stdio: 'inherit' });
  } catch (err) {
    if (!existsSync(app)) throw err;
    console.log('examples/inspector.c is newer than its .wasm but could not be rebuilt (no clang?); serving the committed build');
  }
}

const { main: run } = await import(new URL('../dist/cli/main.js', import.meta.url).href);
const args = process.argv.slice(2);
process.exitCode = await run(['serve', app, ...(args.some((arg) => arg === '--addr' || arg.startsWith('--addr=')) ? [] : ['--addr', '127.0.0.1:7676']), ...args]);
