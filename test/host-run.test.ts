import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { componentNew } from '@bytecodealliance/jco-transpile/wasm-tools';
import { beforeAll, describe, expect, it } from 'vitest';
import { compileSources } from './fixtures/components/harness.js';

const here = dirname(fileURLToPath(import.meta.url));
const exit3 = join(here, 'fixtures/run/exit3.wasm');
let launcher: string;
let scratch: string;

interface Outcome {
  code: number | null;
  stdout: string;
  stderr: string;
}

function witshim(...args: string[]): Promise<Outcome> {
  return new Promise((resolve) => {
    execFile(process.execPath, [launcher, ...args], { env: { ...process.env, WITSHIM_CACHE_DIR: join(scratch, 'cache') }, timeout: 120_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? null) : 0, stdout, stderr }),
    );
  });
}

beforeAll(async () => {
  const dist = await compileSources();
  scratch = mkdtempSync(join(tmpdir(), 'witshim-run-'));
  launcher = join(dist, 'launch-main.mjs');
  writeFileSync(launcher, `import { main } from ${JSON.stringify(pathToFileURL(join(dist, 'cli/main.js')).href)};\nprocess.exitCode = await main(process.argv.slice(2));\n`);
}, 120_000);

describe('witshim run', () => {
  it("runs a legacy module's _start: arguments in, stdout and stderr through, its exit code out", async () => {
    const result = await witshim('run', exit3, 'one', 'two words');
    expect(result).toEqual({ code: 3, stdout: 'hello from stdout, 3 args: one two words\n', stderr: 'hello from stderr\n' });
  });

  it('runs a WASI command component (wasi:cli/run) and keeps its exit code', async () => {
    const jcoLib = join(dirname(createRequire(import.meta.url).resolve('@bytecodealliance/jco')), '..', 'lib');
    const adapter = new Uint8Array(readFileSync(join(jcoLib, 'wasi_snapshot_preview1.command.wasm')));
    const component = await componentNew(new Uint8Array(readFileSync(exit3)), [['wasi_snapshot_preview1', adapter]]);
    const path = join(scratch, 'exit3.component.wasm');
    writeFileSync(path, component);
    const result = await witshim('run', path, 'x');
    expect(result).toEqual({ code: 3, stdout: 'hello from stdout, 2 args: x\n', stderr: 'hello from stderr\n' });
  });

  it('exits 2 with one line on stderr for a file that is not wasm', async () => {
    const path = join(scratch, 'not.wasm');
    writeFileSync(path, 'hello');
    const result = await witshim('run', path);
    expect(result.code).toBe(2);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(/^witshim: .*not\.wasm: not a WebAssembly module or component/);
  });
});
