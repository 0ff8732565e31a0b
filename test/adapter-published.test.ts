import { describe, expect, it } from 'vitest';
import { publishedWitSources, targetWit } from '../src/adapter/target.js';
import { coreImportName, resourceDropName } from '../src/wit/mangle.js';
import type { WitResolve } from '../src/wit/model.js';
import { CACHE_TAG, Guest, outs } from './adapter-harness.js';

/**
 * The `published` adapter target: generated against the published `fastly:compute@0.1.0` (no
 * `subscribe` on cache entries), so `select` / `is_ready` drive `step` for tagged handles.
 */
const BADF = 3;
const STEP = 'cache/entry.step';
const DROP = 'async-io/[resource-drop]pollable';

/** Every core import name (`module#name`) a component of `resolve` may import. */
function importable(resolve: WitResolve): Set<string> {
  const names = new Set<string>();
  for (const iface of resolve.interfaces.values()) {
    for (const fn of iface.functions.values()) {
      const { module, name } = coreImportName(fn);
      names.add(`${module}#${name}`);
    }
    for (const t of iface.types.values()) {
      if (t.kind !== 'resource') continue;
      const { module, name } = resourceDropName(t);
      names.add(`${module}#${name}`);
    }
  }
  return names;
}

describe('the published WIT', () => {
  it('is the project WIT without the three subscribe methods', () => {
    const sources = Object.values(publishedWitSources()).join('\n');
    expect(sources).not.toMatch(/subscribe: func/);
    const all = importable(targetWit('subscribe'));
    const published = importable(targetWit('published'));
    expect([...all].filter((n) => !published.has(n)).sort()).toEqual([
      'fastly:compute/cache@0.1.0#[method]entry.subscribe',
      'fastly:compute/cache@0.1.0#[method]replace-entry.subscribe',
      'fastly:compute/http-cache@0.1.0#[method]entry.subscribe',
    ]);
  });

  it('a published adapter imports only functions the published WIT has', async () => {
    const published = importable(targetWit('published'));
    const keys = (await Guest.importKeys('published')).filter((k) => k.startsWith('fastly:'));
    expect(keys.length).toBeGreaterThan(200);
    expect(keys.filter((k) => !published.has(k))).toEqual([]);
    expect(keys).toContain('fastly:compute/cache@0.1.0#[method]entry.step');
    expect(await Guest.importKeys('subscribe')).toContain('fastly:compute/cache@0.1.0#[method]entry.subscribe');
  });
});

/** A published-target guest whose cache entry 5 answers `step` from `steps` (null: none). */
async function stepper(steps: Array<number | null>, ready: Record<number, boolean> = {}): Promise<Guest> {
  const g = (await Guest.create('published')).live('cache/entry', 5).live('async-io/pollable', 4);
  return g
    .returns(STEP, () => steps.shift() ?? null)
    .returns('async-io/pollable.is-ready', (args) => ready[Number(args[0])] ?? false)
    .on(DROP, () => undefined);
}

const ENTRY = (CACHE_TAG | 5) >>> 0;

describe('is_ready on a tagged handle (published)', () => {
  it('ready when step returns none', async () => {
    const g = await stepper([null]);
    const [out] = outs(g, 1);
    expect(g.call('fastly_async_io#is_ready', ENTRY, out)).toBe(0);
    expect(g.u32(out)).toBe(1);
    expect(g.calls).toEqual([{ ref: STEP, args: [5] }]);
  });

  it('not ready when step gives a pollable that is not ready; the pollable is dropped', async () => {
    const g = await stepper([70]);
    const [out] = outs(g, 1);
    expect(g.call('fastly_async_io#is_ready', ENTRY, out)).toBe(0);
    expect(g.u32(out)).toBe(0);
    expect(g.refs()).toEqual([STEP, 'async-io/pollable.is-ready', DROP]);
    expect(g.calls.at(-1)!.args).toEqual([70]);
  });

  it('steps past pollables that are already ready', async () => {
    const g = await stepper([70, 71, null], { 70: true, 71: true });
    const [out] = outs(g, 1);
    expect(g.call('fastly_async_io#is_ready', ENTRY, out)).toBe(0);
    expect(g.u32(out)).toBe(1);
    expect(g.refs()).toEqual([STEP, 'async-io/pollable.is-ready', DROP, STEP, 'async-io/pollable.is-ready', DROP, STEP]);
  });

  it('dead, wrong-kind and invalid handles are badf with no host call', async () => {
    const g = await stepper([]);
    const [out] = outs(g, 1);
    for (const h of [(CACHE_TAG | 6) >>> 0, 0x5000_0005, 0xffff_fffe, 6]) expect(g.call('fastly_async_io#is_ready', h, out)).toBe(BADF);
    expect(g.calls).toEqual([]);
  });
});

describe('select over tagged handles (published)', () => {
  it('waits on the pollable step gives, steps again when it fires, answers the entry once step is none', async () => {
    const g = await stepper([70, null]);
    const lists: unknown[] = [];
    g.on('async-io/select', (ptr, len) => {
      lists.push([...new Uint32Array(g.memory.buffer, Number(ptr), Number(len))]);
      return 1;
    });
    const [out] = outs(g, 1);
    expect(g.call('fastly_async_io#select', g.u32s([4, ENTRY]), 2, 0, out)).toBe(0);
    expect(g.u32(out)).toBe(1);
    expect(lists).toEqual([[4, 70]]);
    expect(g.refs()).toEqual([STEP, 'async-io/pollable.is-ready', 'async-io/select', DROP, STEP]);
  });

  it('an untagged handle chosen is the answer; the entry pollable is dropped', async () => {
    const g = await stepper([70]);
    g.returns('async-io/select', () => 0);
    const [out] = outs(g, 1);
    expect(g.call('fastly_async_io#select', g.u32s([4, ENTRY]), 2, 0, out)).toBe(0);
    expect(g.u32(out)).toBe(0);
    expect(g.calls.filter((c) => c.ref === DROP).map((c) => c.args)).toEqual([[70]]);
  });

  it('an entry already ready answers at once, dropping the pollables made before it', async () => {
    const g = (await stepper([71])).live('cache/entry', 6);
    const entry6 = [null] as Array<number | null>;
    g.returns(STEP, (args) => (Number(args[0]) === 5 ? 71 : entry6.shift() ?? null));
    const [out] = outs(g, 1);
    expect(g.call('fastly_async_io#select', g.u32s([ENTRY, (CACHE_TAG | 6) >>> 0]), 2, 0, out)).toBe(0);
    expect(g.u32(out)).toBe(1);
    expect(g.calls.filter((c) => c.ref === DROP).map((c) => c.args)).toEqual([[71]]);
    expect(g.refs()).not.toContain('async-io/select');
  });

  it('a timeout writes u32::MAX and drops what it made', async () => {
    const g = await stepper([70]);
    g.returns('async-io/select-with-timeout', () => null);
    const [out] = outs(g, 1);
    expect(g.call('fastly_async_io#select', g.u32s([ENTRY]), 1, 50, out)).toBe(0);
    expect(g.u32(out)).toBe(0xffff_ffff);
    expect(g.calls.filter((c) => c.ref === DROP).map((c) => c.args)).toEqual([[70]]);
  });

  it('a list without tagged handles goes to the host as it is', async () => {
    const g = await stepper([]);
    g.returns('async-io/select', () => 0);
    const [out] = outs(g, 1);
    const hs = g.u32s([4]);
    expect(g.call('fastly_async_io#select', hs, 1, 0, out)).toBe(0);
    expect(g.calls).toEqual([{ ref: 'async-io/select', args: [hs, 1] }]);
  });

  it('empty lists are inval; a dead handle anywhere is badf before any step', async () => {
    const g = await stepper([70]);
    const [out] = outs(g, 1);
    expect(g.call('fastly_async_io#select', g.u32s([]), 0, 0, out)).toBe(2);
    expect(g.call('fastly_async_io#select', g.u32s([ENTRY, 9]), 2, 0, out)).toBe(BADF);
    expect(g.calls).toEqual([]);
  });
});
