/**
 * Cheaper worker starts: the glue as a classic script compiled against V8's code cache, which
 * the first worker writes after its first instance and later ones load.
 */
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadGlue } from '../src/host/glue-loader.js';
import { glueScript } from '../src/server/glue.js';
import { createWasi } from '../src/host/wasi.js';

const glue = `const base = 40;
export function instantiate(getCoreModule, imports) {
  return { answer: () => base + imports.two };
}
export const _util = { ok: true };
`;

describe('glue as a script', () => {
  it('turns the two exports into a script whose value is { instantiate }', () => {
    const script = glueScript(glue)!;
    expect(script).not.toMatch(/^\s*export/m);
    const { instantiate } = (0, eval)(script) as { instantiate: (g: unknown, i: { two: number }) => { answer(): number } };
    expect(instantiate(undefined, { two: 2 }).answer()).toBe(42);
  });

  it('also without `_util`, which jco 1.11 (jco-glue) does not export', () => {
    const script = glueScript(glue.replace('export const _util', 'const _util'))!;
    const { instantiate } = (0, eval)(script) as { instantiate: (g: unknown, i: { two: number }) => { answer(): number } };
    expect(instantiate(undefined, { two: 2 }).answer()).toBe(42);
  });

  it('leaves any other module shape to import()', () => {
    expect(glueScript(`import x from 'y';\n${glue}`)).toBeUndefined();
    expect(glueScript(`${glue}export const more = 1;\n`)).toBeUndefined();
    expect(glueScript(glue.replace('const base = 40;', 'const base = import.meta.url.length;'))).toBeUndefined();
    expect(glueScript(glue.replace('export const _util', 'export function other() {}\nconst _util'))).toBeUndefined();
    expect(glueScript(glue.replace('export function instantiate(', 'export function instantiated('))).toBeUndefined();
  });

  it('the first load writes the code cache after its first instance, the next loads it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'witshim-glue-'));
    const guestScript = { path: join(dir, 'guest.script.js'), codeCache: join(dir, 'guest.code-cache') };
    writeFileSync(guestScript.path, glueScript(glue)!);
    const first = await loadGlue({ guestModule: 'unused', guestScript });
    expect(existsSync(guestScript.codeCache)).toBe(false);
    expect(first.fromCache).toBe(false);
    first.afterFirstInstance();
    expect(existsSync(guestScript.codeCache)).toBe(true);
    const second = await loadGlue({ guestModule: 'unused', guestScript });
    expect(second.fromCache).toBe(true);
    expect((second.instantiate as unknown as (g: unknown, i: { two: number }) => { answer(): number })(undefined, { two: 2 }).answer()).toBe(42);
  });
});

describe('randomness without preview2-shim', () => {
  it('gives bytes of the asked length, u64s as bigints, and one insecure seed', () => {
    const { imports } = createWasi({ env: {}, args: [], lines: true, output() {} }) as unknown as { imports: Record<string, Record<string, (...args: unknown[]) => unknown>> };
    const random = imports['wasi:random/random']!;
    const bytes = random.getRandomBytes!(32n) as Uint8Array;
    expect(bytes).toHaveLength(32);
    expect(bytes.some((byte) => byte !== 0)).toBe(true);
    expect(typeof random.getRandomU64!()).toBe('bigint');
    expect(imports['wasi:random/insecure']!.getInsecureRandomBytes!(5n)).toHaveLength(5);
    const seed = imports['wasi:random/insecure-seed']!.insecureSeed!();
    expect(imports['wasi:random/insecure-seed']!.insecureSeed!()).toEqual(seed);
  });
});
