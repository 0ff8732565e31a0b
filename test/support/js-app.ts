import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const appSource = join(repoRoot, 'test/fixtures/js-app/index.js');
const runtimePackage = join(repoRoot, 'node_modules/@fastly/js-compute');
const cacheDir = join(repoRoot, 'node_modules/.cache/witshim');

/**
 * Builds a js-compute app (by default the minimal fixture app) into a legacy (WITX) core module
 * with the installed js-compute-runtime and returns its path; `flags` go to the runtime's CLI
 * (such as `--enable-http-cache`). The result is cached under a hash of the source, runtime
 * version and flags; concurrent callers each build to a private temp file and
 * rename, so none sees a partial file.
 */
export async function buildJsApp(source = appSource, flags: string[] = []): Promise<string> {
  const pkg = JSON.parse(readFileSync(join(runtimePackage, 'package.json'), 'utf8')) as {
    version: string;
    bin: Record<string, string>;
  };
  const hash = createHash('sha256')
    .update(readFileSync(source))
    .update(`\0@fastly/js-compute@${pkg.version}`)
    .update(flags.map((flag) => `\0${flag}`).join(''))
    .digest('hex')
    .slice(0, 16);
  const output = join(cacheDir, `js-app-${hash}.wasm`);
  if (existsSync(output)) return output;

  mkdirSync(cacheDir, { recursive: true });
  const temp = join(cacheDir, `js-app-${hash}.${process.pid}-${Math.random().toString(36).slice(2)}.tmp.wasm`);
  const cli = join(runtimePackage, pkg.bin['js-compute-runtime']);
  try {
    await promisify(execFile)(process.execPath, [cli, ...flags, source, temp], {
      cwd: repoRoot,
      timeout: 120_000,
      maxBuffer: 16 * 1024 * 1024,
    });
    if (!existsSync(temp) || statSync(temp).size === 0) throw new Error(`js-compute-runtime produced no output at ${temp}`);
    renameSync(temp, output);
  } finally {
    rmSync(temp, { force: true });
  }
  return output;
}
