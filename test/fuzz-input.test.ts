/**
 * Bad input (issue 11, item 2): seeded, reproducible mutations of the committed fixtures through
 * the API in process (every failure must be the user-facing error type, never a crash), and a
 * handful through the real CLI (one line on stderr, exit 2, no stack trace, no output file, no
 * hang). FUZZ_SEED and FUZZ_MUTATIONS override the seed and the count.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { adapt, AdaptError, inspectModule } from '../src/adapt/index.js';
import { ConfigError, parseFastlyToml } from '../src/server/config.js';
import { watString } from '../src/adapt/trap-stubs.js';
import { compileSources } from './fixtures/components/harness.js';

const repo = join(import.meta.dirname, '..');
const SEED = Number(process.env.FUZZ_SEED ?? 0x5eed);
const MUTATIONS = Number(process.env.FUZZ_MUTATIONS ?? 2400);
/** Mutations that stay valid modules with the fixture's interface are adapted in full only this often: each costs ~0.5 s in wit-component. */
const FULL_ADAPTS_OF_BENIGN = 4;

const fixtureDir = join(repo, 'test/fixtures/c');
const fixtures = [
  ...readdirSync(fixtureDir)
    .filter((name) => name.endsWith('.wasm'))
    .map((name) => join(fixtureDir, name)),
  join(repo, 'examples/inspector.wasm'),
  join(repo, 'bench/fixtures/hello.wasm'),
].map((path) => ({ path, bytes: new Uint8Array(readFileSync(path)) }));

/** mulberry32: small, seeded, the same sequence everywhere. */
function prng(seed: number) {
  let state = seed | 0;
  const next = () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return { next, int: (n: number) => Math.floor(next() * n) };
}

type Mutation = 'truncate' | 'bit-flips' | 'byte-writes' | 'insert' | 'random';

function mutate(bytes: Uint8Array, rand: ReturnType<typeof prng>): { kind: Mutation; bytes: Uint8Array<ArrayBuffer> } {
  const out = new Uint8Array(bytes);
  const somewhere = () => 8 + rand.int(out.length - 8);
  const kinds: Mutation[] = ['truncate', 'bit-flips', 'byte-writes', 'insert', 'random'];
  const kind = kinds[rand.int(kinds.length)]!;
  switch (kind) {
    case 'truncate':
      return { kind, bytes: out.slice(0, rand.int(out.length)) };
    case 'bit-flips':
      for (let n = 1 + rand.int(8); n > 0; n--) out[somewhere()]! ^= 1 << rand.int(8);
      return { kind, bytes: out };
    case 'byte-writes':
      for (let n = 1 + rand.int(4); n > 0; n--) out[somewhere()] = rand.int(256);
      return { kind, bytes: out };
    case 'insert': {
      const at = somewhere();
      const extra = Uint8Array.from({ length: 1 + rand.int(16) }, () => rand.int(256));
      return { kind, bytes: new Uint8Array([...out.subarray(0, at), ...extra, ...out.subarray(at)]) };
    }
    case 'random':
      return { kind, bytes: Uint8Array.from({ length: rand.int(4096) }, (_, i) => (i < 8 && rand.next() < 0.5 ? out[i]! : rand.int(256))) };
  }
}

const interfaceOf = (bytes: Uint8Array<ArrayBuffer>) => {
  const module = new WebAssembly.Module(bytes);
  return JSON.stringify([WebAssembly.Module.imports(module), WebAssembly.Module.exports(module)]);
};

describe('bad input through the API (seeded fuzz)', () => {
  it(`inspect and adapt answer ${MUTATIONS} mutations of the fixtures with a result or an AdaptError, nothing else`, async () => {
    const rand = prng(SEED);
    const originals = new Map(fixtures.map(({ path, bytes }) => [path, interfaceOf(bytes as Uint8Array<ArrayBuffer>)]));
    const outcomes: Record<string, number> = {};
    const unexpected: string[] = [];
    let benignAdapted = 0;
    for (let index = 0; index < MUTATIONS; index++) {
      const fixture = fixtures[rand.int(fixtures.length)]!;
      const { kind, bytes } = mutate(fixture.bytes, rand);
      const unknownImports = rand.next() < 0.5 ? 'error' : 'trap';
      const label = `#${index} ${kind} of ${fixture.path.split('/').pop()} (seed ${SEED})`;
      const tally = (outcome: string) => (outcomes[`${kind}: ${outcome}`] = (outcomes[`${kind}: ${outcome}`] ?? 0) + 1);
      try {
        inspectModule(bytes);
      } catch (err) {
        if (!(err instanceof AdaptError)) unexpected.push(`${label}: inspect threw ${(err as Error).constructor.name}: ${(err as Error).message}`);
        tally('refused by inspect');
        continue;
      }
      // A mutation that left a valid module with the same imports and exports (a changed
      // constant, say) adapts like the fixture; a few are adapted in full, the rest counted.
      if (WebAssembly.validate(bytes) && interfaceOf(bytes) === originals.get(fixture.path) && benignAdapted >= FULL_ADAPTS_OF_BENIGN) {
        tally('benign, not adapted again');
        continue;
      }
      try {
        const component = await adapt(bytes, { unknownImports });
        expect(component.subarray(0, 8)).toEqual(Uint8Array.of(0, 0x61, 0x73, 0x6d, 0x0d, 0, 1, 0));
        if (WebAssembly.validate(bytes) && interfaceOf(bytes) === originals.get(fixture.path)) benignAdapted++;
        tally('adapted');
      } catch (err) {
        if (!(err instanceof AdaptError)) unexpected.push(`${label}: adapt threw ${(err as Error).constructor.name}: ${(err as Error).message.split('\n')[0]}`);
        else if (err.message.includes('\n')) unexpected.push(`${label}: a message of more than one line: ${err.message}`);
        tally('refused by adapt');
      }
    }
    console.log(`fuzz seed ${SEED}, ${MUTATIONS} mutations:`, outcomes);
    expect(unexpected).toEqual([]);
    // Every kind of mutation was tried, and both paths were reached.
    expect(Object.keys(outcomes).some((key) => key.endsWith('refused by adapt'))).toBe(true);
    expect(Object.keys(outcomes).some((key) => key.endsWith('refused by inspect'))).toBe(true);
  }, 240_000);

  it('components where modules are expected, huge section counts, unknown hostcalls', async () => {
    const component = Uint8Array.of(0, 0x61, 0x73, 0x6d, 0x0d, 0, 1, 0);
    expect(() => inspectModule(component)).toThrow(/already a component/);
    // An import section claiming 2^32-1 entries in 6 bytes.
    const huge = Uint8Array.of(0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 2, 5, 0xff, 0xff, 0xff, 0xff, 0x0f);
    expect(() => inspectModule(huge)).toThrow(AdaptError);
    // A type section of 2^32-1 function types.
    const types = Uint8Array.of(0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 1, 5, 0xff, 0xff, 0xff, 0xff, 0x0f);
    await expect(adapt(types)).rejects.toThrow(AdaptError);
    // A well-formed module importing a hostcall the ABI does not have.
    const unknownHostcall = new Uint8Array([
      ...[0, 0x61, 0x73, 0x6d, 1, 0, 0, 0],
      ...[1, 4, 1, 0x60, 0, 0], // type 0: [] -> []
      ...[2, 25, 1, 15, ...new TextEncoder().encode('fastly_http_req'), 5, ...new TextEncoder().encode('nope!'), 0, 0],
      ...[5, 3, 1, 0, 1], // memory 1
      ...[7, 10, 1, 6, ...new TextEncoder().encode('memory'), 2, 0],
    ]);
    expect(WebAssembly.validate(unknownHostcall)).toBe(true);
    await expect(adapt(unknownHostcall)).rejects.toThrow(/imports that the Fastly ABI does not define: fastly_http_req::nope!/);
  });

  it('trap stubs spell any import name as a WAT string', () => {
    expect(watString('a"b\\c\u0016é')).toBe('"a\\22b\\5cc\\16\\c3\\a9"');
  });

  it(`fastly.toml: ${MUTATIONS} mutations parse or fail with a ConfigError naming the file`, () => {
    const rand = prng(SEED + 1);
    const sample = readFileSync(join(import.meta.dirname, 'support/serve-harness.ts'), 'utf8').match(/`(manifest_version = 3[^`]*)`/)![1]!;
    const text = new TextEncoder().encode(sample.replace(/\$\{\w+\}/g, '8080'));
    const unexpected: string[] = [];
    let refused = 0;
    for (let index = 0; index < MUTATIONS; index++) {
      const { bytes } = mutate(text, rand);
      try {
        parseFastlyToml(new TextDecoder().decode(bytes), 'fastly.toml', () => {});
      } catch (err) {
        if (!(err instanceof ConfigError)) unexpected.push(`#${index}: ${(err as Error).constructor.name}: ${(err as Error).message}`);
        else if (!err.message.startsWith('fastly.toml') || err.message.includes('\n')) unexpected.push(`#${index}: ${err.message}`);
        refused++;
      }
    }
    expect(unexpected).toEqual([]);
    expect(refused).toBeGreaterThan(MUTATIONS / 4);
  });
});

describe('bad input through the CLI', () => {
  let launcher: string;
  const dir = mkdtempSync(join(tmpdir(), 'witshim-fuzz-'));
  const file = (name: string, bytes: Uint8Array | string) => {
    const path = join(dir, name);
    writeFileSync(path, bytes);
    return path;
  };

  beforeAll(async () => {
    const dist = await compileSources();
    launcher = join(dist, 'launch-cli.mjs');
    writeFileSync(launcher, `import { main } from ${JSON.stringify(pathToFileURL(join(dist, 'cli/main.js')).href)};\nprocess.exitCode = await main(process.argv.slice(2));\n`);
  }, 120_000);

  /** Runs the CLI in its own process, killed if it runs past `timeoutMs` (a hang fails the test). */
  const witshim = (...args: string[]) =>
    new Promise<{ code: number | null; stdout: string; stderr: string; killed: boolean }>((resolve) => {
      const child = execFile(process.execPath, [launcher, ...args], { cwd: dir, timeout: 60_000, env: { ...process.env, WITSHIM_CACHE_DIR: join(dir, 'cache') } }, (_err, stdout, stderr) =>
        resolve({ code: child.exitCode, stdout, stderr, killed: child.killed }),
      );
    });

  const expectRefused = (result: Awaited<ReturnType<typeof witshim>>, pattern: RegExp) => {
    expect(result.killed).toBe(false);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^witshim: [^\n]+\n$/);
    expect(result.stderr).toMatch(pattern);
    expect(result.stderr).not.toMatch(/\n\s+at /);
  };

  const rand = prng(SEED + 2);
  const hello = fixtures.find((f) => f.path.endsWith('c/hello.wasm'))!.bytes;

  it('adapt: random bytes, a truncated module, a bit-flipped module, a component: exit 2, nothing written', async () => {
    const inputs = {
      random: file('random.wasm', Uint8Array.from({ length: 512 }, () => rand.int(256))),
      truncated: file('truncated.wasm', hello.slice(0, hello.length >> 1)),
      flipped: file('flipped.wasm', new Uint8Array([...hello.subarray(0, 8), 0xff, ...hello.subarray(9)])),
      component: file('component.wasm', Uint8Array.of(0, 0x61, 0x73, 0x6d, 0x0d, 0, 1, 0)),
    };
    const results = await Promise.all(Object.values(inputs).map((input) => witshim('adapt', input, '-o', `${input}.out`)));
    for (const result of results) expectRefused(result, /(not a valid wasm module|already a component)/);
    for (const input of Object.values(inputs)) expect(existsSync(`${input}.out`)).toBe(false);
  }, 120_000);

  it('inspect, serve and run refuse the same with one line; serve refuses a malformed fastly.toml', async () => {
    const random = file('random2.wasm', Uint8Array.from({ length: 300 }, () => rand.int(256)));
    const flipped = file('flipped2.wasm', hello.slice(0, 40));
    // Elsewhere than the working directory, where serve and run would pick it up for every app.
    const toml = join(mkdtempSync(join(tmpdir(), 'witshim-fuzz-toml-')), 'fastly.toml');
    writeFileSync(toml, '[local_server.backends.origin]\nurl = "http://127.0.0.1:1"\nbroken = [\n');
    const [inspect, serve, run, config] = await Promise.all([
      witshim('inspect', flipped),
      witshim('serve', random, '--addr', '127.0.0.1:0'),
      witshim('run', random),
      witshim('serve', join(repo, 'test/fixtures/c/hello.wasm'), '-C', toml, '--addr', '127.0.0.1:0'),
    ]);
    expectRefused(inspect, /not a valid wasm module/);
    expectRefused(serve, /random2\.wasm: not a WebAssembly module or component/);
    expectRefused(run, /random2\.wasm: not a WebAssembly module or component/);
    expectRefused(config, /fastly\.toml:\d+:\d+: /);
  }, 120_000);
});
