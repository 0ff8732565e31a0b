import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { hostDeclarations } from '../src/wit/host-types.js';

const repo = join(import.meta.dirname, '..');
const committed = join(repo, 'src/host/wit-types');
// Inside the repository so that the copy resolves node_modules as src/ does.
const scratch = join(repo, 'node_modules/.cache/witshim', `host-types-${process.pid}`);

afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => (statSync(join(dir, name)).isDirectory() ? filesUnder(join(dir, name)) : [join(dir, name)]));
}

describe("the host's WIT declarations", () => {
  it('are what jco generates from wit/ today (run `npm run gen:host-types` after a WIT change)', async () => {
    const generated = await hostDeclarations();
    const onDisk = Object.fromEntries(filesUnder(committed).map((path) => [relative(committed, path), readFileSync(path, 'utf8')]));
    expect(Object.keys(onDisk).sort()).toEqual(Object.keys(generated).sort());
    for (const [name, text] of Object.entries(generated)) expect(onDisk[name], name).toBe(text);
    // Every Fastly interface the host serves or will serve has its declaration.
    expect(Object.keys(generated).filter((name) => name.startsWith('interfaces/fastly-')).length).toBe(25);
  });

  it('make tsc fail on a host interface that misses a function, misspells one or fails with a case the WIT lacks', { timeout: 60_000 }, async () => {
    cpSync(join(repo, 'src'), join(scratch, 'src'), { recursive: true });
    writeFileSync(join(scratch, 'tsconfig.json'), JSON.stringify({ extends: join(repo, 'tsconfig.json'), compilerOptions: { rootDir: '.' }, include: ['src'] }));
    const breakFile = (file: string, from: string, to: string) => {
      const path = join(scratch, 'src/host/interfaces', file);
      const text = readFileSync(path, 'utf8');
      expect(text, `${file} has ${from}`).toContain(from);
      writeFileSync(path, text.replace(from, to));
    };
    // A function the WIT declares, gone.
    breakFile('http-body.ts', '    getKnownLength: (body: Pollable) => asBody(body).knownLength(),\n', '');
    // A name that is not jco's camelCase of the WIT name.
    breakFile('async-io.ts', 'selectWithTimeout(', 'selectWithTimout(');
    // An open-error case the WIT does not have.
    breakFile('lookups.ts', "failOpen('not-found')", "failOpen('no-such-store')");
    mkdirSync(scratch, { recursive: true });
    const result = await promisify(execFile)(process.execPath, [join(repo, 'node_modules/typescript/bin/tsc'), '--noEmit', '-p', scratch], { cwd: scratch }).then(
      () => ({ failed: false, stdout: '' }),
      (err: { stdout: string }) => ({ failed: true, stdout: err.stdout }),
    );
    expect(result.failed).toBe(true);
    // tsc names files relative to where it runs; only the part under src/ matters.
    const errors = result.stdout
      .split('\n')
      .map((line) => /(src\/[\w/.-]+\.ts)\(\d+,\d+\): error (TS\d+): (.*)$/.exec(line))
      .filter((match) => match !== null)
      .map(([, file, code, message]) => ({ file, code, message }));
    const inFile = (file: string) => errors.filter((error) => error.file === file).map((error) => error.message).join('\n');
    expect(result.stdout).toMatch(/Property 'getKnownLength' is missing/);
    expect(inFile('src/host/interfaces/http-body.ts')).toMatch(/does not satisfy/);
    expect(result.stdout).toMatch(/Property 'selectWithTimeout' is missing/);
    expect(inFile('src/host/interfaces/async-io.ts')).toMatch(/does not satisfy/);
    expect(inFile('src/host/interfaces/lookups.ts')).toMatch(/'"no-such-store"' is not assignable to parameter of type 'OpenError'/);
    // Nothing else broke: each error is in a file we broke, or the import table that lists them.
    for (const error of errors) expect(error.file).toMatch(/^src\/host\/(interfaces\/(http-body|async-io|lookups)|imports)\.ts$/);
  });
});
