import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { componentWit, print } from '@bytecodealliance/jco-transpile/wasm-tools';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { adapt, TARGET_SECTION } from '../src/adapt/index.js';
import { main } from '../src/cli/main.js';
import { prepareGuest } from '../src/server/artifacts.js';
import { readCustomSection } from '../src/wasm/custom-sections.js';

/** `--target subscribe|published` through adapt, inspect and serve's preparation of an app. */
const fixtures = join(import.meta.dirname, 'fixtures', 'c');
/** Uses `fastly_async_io#is_ready` on a cache handle: the adapter must wait on a cache entry. */
const cacheGuest = new Uint8Array(readFileSync(join(fixtures, 'cache.wasm')));

async function witshim(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const stdout = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => ((out += String(chunk)), true));
  const stderr = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => ((err += String(chunk)), true));
  const log = vi.spyOn(console, 'log').mockImplementation((...args) => void (out += `${args.join(' ')}\n`));
  try {
    return { code: await main(argv), out, err };
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

describe('adapter targets', () => {
  it('a published component imports no subscribe; the default one does; each names its target', async () => {
    const published = await adapt(cacheGuest, { target: 'published' });
    const subscribe = await adapt(cacheGuest);
    expect(readCustomSection(published, TARGET_SECTION)).toBe('published');
    expect(readCustomSection(subscribe, TARGET_SECTION)).toBe('subscribe');
    // The functions a component imports are named in its import types.
    const publishedText = await print(published);
    expect(publishedText).toContain('"[method]entry.step"');
    expect(publishedText).not.toContain('.subscribe"');
    expect(await print(subscribe)).toContain('"[method]entry.subscribe"');
    await componentWit(published);
  });

  it('witshim adapt --target published, and inspect shows the target', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'witshim-target-'));
    const out = join(dir, 'p.wasm');
    expect((await witshim('adapt', join(fixtures, 'cache.wasm'), '--target', 'published', '-o', out)).code).toBe(0);
    const text = await witshim('inspect', out);
    expect(text.out).toContain('adapter target: published');
    expect(JSON.parse((await witshim('inspect', out, '--json')).out)).toMatchObject({ kind: 'component', producedByWitshim: true, adapterTarget: 'published' });
  });

  it('an unknown target is one line on stderr, exit 2, nothing written', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'witshim-target-'));
    for (const argv of [
      ['adapt', join(fixtures, 'cache.wasm'), '--target', 'newest', '-o', join(dir, 'x.wasm')],
      ['serve', join(fixtures, 'cache.wasm'), '--target', 'newest', '--addr', '127.0.0.1:0'],
    ]) {
      const r = await witshim(...argv);
      expect(r.code).toBe(2);
      expect(r.err).toMatch(/--target must be "subscribe" or "published", not "newest"/);
      expect(r.err.trim().split('\n')).toHaveLength(1);
    }
    expect(readdirSync(dir)).toEqual([]);
  });

  it('serve adapts a legacy module for the target it is given', async () => {
    const root = mkdtempSync(join(tmpdir(), 'witshim-target-'));
    await prepareGuest(cacheGuest, root, { target: 'published' });
    await prepareGuest(cacheGuest, root);
    const targets = readdirSync(join(root, 'adapted')).map((f) => readCustomSection(readFileSync(join(root, 'adapted', f)), TARGET_SECTION));
    expect(targets.sort()).toEqual(['published', 'subscribe']);
  });
});
