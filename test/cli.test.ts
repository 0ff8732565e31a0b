import { afterEach, describe, expect, it, vi } from 'vitest';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../src/cli/main.js';
import { packageVersion } from '../src/version.js';

const repo = join(import.meta.dirname, '..');
const cGuest = join(repo, 'test', 'fixtures', 'c', 'hello.wasm');

/** Runs the CLI in process, capturing what it prints and the exit code it returns. */
async function witshim(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const stdout = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => ((out += String(chunk)), true));
  const stderr = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => ((err += String(chunk)), true));
  const log = vi.spyOn(console, 'log').mockImplementation((...args) => void (out += `${args.join(' ')}\n`));
  try {
    const code = await main(argv);
    return { code, out, err };
  } finally {
    stdout.mockRestore();
    stderr.mockRestore();
    log.mockRestore();
    process.exitCode = undefined;
  }
}

afterEach(() => {
  process.exitCode = undefined;
});

describe('witshim CLI', () => {
  it('prints its version and help', async () => {
    expect(await witshim('--version')).toMatchObject({ code: 0, out: `${packageVersion()}\n` });
    const help = await witshim('--help');
    expect(help.code).toBe(0);
    for (const command of ['abi', 'adapt', 'inspect', 'serve', 'run']) expect(help.out).toContain(command);
  });

  it('adapt writes a component and says so; again gives the same bytes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'witshim-cli-'));
    const first = await witshim('adapt', cGuest, '-o', join(dir, 'a.wasm'));
    expect(first.code).toBe(0);
    expect(first.err).toMatch(/^adapted .*hello\.wasm -> .*a\.wasm \(\d+ bytes, \d+ ms\)\n$/);
    await witshim('adapt', cGuest, '-o', join(dir, 'b.wasm'));
    expect(readFileSync(join(dir, 'a.wasm')).equals(readFileSync(join(dir, 'b.wasm')))).toBe(true);
  });

  it('serve refuses a --max-waiting-sandboxes that is not a count, with one line and exit 2', async () => {
    for (const value of ['many', '-1', '1.5']) {
      const r = await witshim('serve', cGuest, '--max-waiting-sandboxes', value, '--addr', '127.0.0.1:0');
      expect(r.code).toBe(2);
      expect(r.err).toMatch(/--max-waiting-sandboxes must be a whole number/);
      expect(r.err.trim().split('\n')).toHaveLength(1);
    }
  });

  it('adapt refuses bad input with one line and exit 2, writing nothing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'witshim-cli-'));
    const junk = join(dir, 'junk.wasm');
    writeFileSync(junk, 'not wasm');
    const cases: Array<[string[], RegExp]> = [
      [[join(dir, 'missing.wasm')], /cannot read/],
      [[junk], /not a valid wasm module/],
      [[cGuest, '--unknown-imports', 'maybe'], /--unknown-imports must be/],
    ];
    for (const [args, message] of cases) {
      const r = await witshim('adapt', ...args, '-o', join(dir, 'out.wasm'));
      expect(r.code).toBe(2);
      expect(r.err).toMatch(message);
      expect(r.err.trim().split('\n')).toHaveLength(1);
    }
    const unwritable = await witshim('adapt', cGuest, '-o', join(dir, 'no', 'such', 'dir', 'out.wasm'));
    expect(unwritable).toMatchObject({ code: 2 });
    expect(unwritable.err).toMatch(/cannot write/);
    expect(() => readFileSync(join(dir, 'out.wasm'))).toThrow();
  });

  it('inspect reports a module\'s hostcalls and a component\'s origin', async () => {
    const module = JSON.parse((await witshim('inspect', cGuest, '--json')).out);
    expect(module.kind).toBe('module');
    expect(module.hostcalls.fastly_http_resp).toContain('send_downstream');
    expect(module.unknown).toEqual([]);
    const dir = mkdtempSync(join(tmpdir(), 'witshim-cli-'));
    await witshim('adapt', cGuest, '-o', join(dir, 'c.wasm'));
    const component = JSON.parse((await witshim('inspect', join(dir, 'c.wasm'), '--json')).out);
    expect(component).toMatchObject({ kind: 'component', producedByWitshim: true });
    expect(component.exports).toContain('fastly:compute/http-incoming@0.1.0');
  });

  it('abi counts both ABIs and maps every hostcall', async () => {
    const summary = JSON.parse((await witshim('abi', '--json')).out) as { witx: Array<{ functions: number }> };
    expect(summary.witx.reduce((n, m) => n + m.functions, 0)).toBe(251);
    const mapping = JSON.parse((await witshim('abi', '--mapping', '--json')).out) as Array<{ hostcall: string; unsupported?: string; calls: string[] }>;
    expect(mapping).toHaveLength(251);
    // The ABI handshake and the recorded downstream request need no call to the host.
    expect(mapping.filter((r) => !r.unsupported && !r.calls.length).map((r) => r.hostcall)).toEqual(['fastly_abi#init', 'fastly_http_req#body_downstream_get']);
    expect(mapping.filter((r) => r.unsupported).every((r) => /WIT has no/.test(r.unsupported!))).toBe(true);
  });

  it('abi --compare exits 0 against an identical copy and 1 naming what moved', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'witshim-cli-'));
    cpSync(join(repo, 'witx'), join(dir, 'witx'), { recursive: true });
    cpSync(join(repo, 'wit'), join(dir, 'wit'), { recursive: true });
    expect((await witshim('abi', '--compare', dir)).code).toBe(0);
    const file = join(dir, 'witx', 'compute-at-edge.witx');
    writeFileSync(file, readFileSync(file, 'utf8').replace('(export "uri_set")', '(export "uri_put")'));
    const r = await witshim('abi', '--compare', dir);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/fastly_http_req#uri_set: only in ours/);
    expect(r.out).toMatch(/fastly_http_req#uri_put: only in theirs/);
    expect((await witshim('abi', '--compare', join(dir, 'nowhere'))).code).toBe(2);
  });
});
