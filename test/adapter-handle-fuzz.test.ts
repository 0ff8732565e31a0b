import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAPPINGS } from '../src/adapter/mappings/index.js';
import { ADAPTER_TARGETS, type AdapterTarget } from '../src/adapter/target.js';
import { hostcallShape, type Input } from '../src/adapter/shape.js';
import { projectRoot } from '../src/version.js';
import { loadWitxDir, resolveType, type WitxType } from '../src/witx/index.js';
import { CACHE_TAG, Guest } from './adapter-harness.js';

/**
 * Handle fuzzing through the shim: every hostcall that takes a handle (and select / is_ready)
 * is fed random dead handles — arbitrary u32s, tagged values of every nibble, the SDKs' invalid
 * markers, handles that were live and were consumed — with zeroed other arguments, against a
 * host whose every import throws. Each call must answer `badf` (`unsupported` for the three
 * hostcalls the WIT has no counterpart for), never trap and never reach the host.
 */
const abi = loadWitxDir(join(projectRoot, 'witx'));
const BADF = 3;
const UNSUPPORTED = 5;
/** Handle numbers made live in every resource type before fuzzing: fuzzed values avoid them. */
const LIVE = [1, 2, 3, 4, 5, 6, 7, 8];
/** Handle numbers that were live once and were consumed by the guest. */
const CONSUMED = [20, 21, 22];
const CONSUMED_CACHE = (CACHE_TAG | 23) >>> 0;
const SEED = 20261201;

const isHandle = (t: WitxType): boolean => resolveType(abi, t).kind === 'handle';
function takesHandles(input: Input): boolean {
  if (input.kind === 'value') return isHandle(input.type);
  if (input.kind !== 'list') return false;
  const list = resolveType(abi, input.type);
  return list.kind === 'list' && isHandle(list.element);
}

const targets = abi.modules.flatMap((m) =>
  m.functions
    .map((fn) => ({ name: `${m.name}#${fn.name}`, shape: hostcallShape(abi, fn), mapping: MAPPINGS[m.name]?.[fn.name] }))
    .filter((t) => t.shape.inputs.some(takesHandles)),
);

/** A u32 that is not live for any resource type: never one of LIVE under any tag. */
const deadHandle = fc.oneof(
  fc.integer({ min: 0, max: 0xffff_ffff }).filter((v) => (v & 0x8000_0000) !== 0 || !LIVE.includes(v & 0x0fff_ffff)),
  fc.tuple(fc.integer({ min: 0, max: 7 }), fc.integer({ min: 9, max: 64 })).map(([nibble, h]) => ((nibble << 28) | h) >>> 0),
  fc.tuple(fc.integer({ min: 1, max: 7 }), fc.constantFrom(...LIVE)).map(([nibble, h]) => ((nibble << 28) | h) >>> 0).filter((v) => (v & 0xf000_0000) >>> 0 > 0x3000_0000),
  fc.constantFrom(0xffff_ffff, 0xffff_fffe, 0x8000_0000, 0),
  fc.constantFrom(...CONSUMED, CONSUMED_CACHE),
);

async function fuzzGuest(target: AdapterTarget): Promise<Guest> {
  const g = await Guest.create(target);
  const types = ['http-req/request', 'async-io/pollable', 'http-resp/response', 'cache/entry', 'cache/replace-entry', 'http-cache/entry', 'kv-store/store', 'secret-store/secret', 'secret-store/store', 'log/endpoint', 'acl/acl', 'config-store/store'];
  for (const t of types) {
    try {
      g.live(t, ...LIVE);
    } catch {
      // a type the adapter does not track has nothing to make live
    }
  }
  // Consume some handles the way a guest would: close the bodies and the cache entry.
  g.live('async-io/pollable', ...CONSUMED).live('cache/entry', CONSUMED_CACHE & 0x0fff_ffff);
  g.returns('http-body/close', () => ({ ok: undefined })).returns('cache/close-entry', () => ({ ok: undefined }));
  for (const h of CONSUMED) expect(g.call('fastly_http_body#close', h)).toBe(0);
  expect(g.call('fastly_cache#close', CONSUMED_CACHE)).toBe(0);
  g.calls.length = 0;
  return g;
}

/** Core arguments: fuzzed handles where the hostcall takes them, zeroed memory everywhere else. */
function argsFor(g: Guest, shape: ReturnType<typeof hostcallShape>, handles: number[], zeroes: number): Array<number | bigint> {
  let next = 0;
  const byParam = new Map<string, number | bigint>();
  for (const input of shape.inputs) {
    if (!takesHandles(input)) continue;
    if (input.kind === 'value') byParam.set(input.param.name, handles[next++ % handles.length]);
    else if (input.kind === 'list') {
      byParam.set(input.ptr.name, g.u32s(handles));
      byParam.set(input.len.name, handles.length);
    }
  }
  return shape.core.map((p) => byParam.get(p.name) ?? (p.core === 'i64' ? 0n : p.role === 'value' ? 0 : zeroes));
}

describe('handle fuzzing through the shim', () => {
  it('covers every handle-taking hostcall, select and is_ready included', () => {
    const names = targets.map((t) => t.name);
    expect(names).toContain('fastly_async_io#select');
    expect(names).toContain('fastly_async_io#is_ready');
    expect(names).toContain('fastly_http_body#append');
    expect(names.length).toBeGreaterThan(100);
  });

  it.each(ADAPTER_TARGETS)('answers badf to dead handles, never traps, never calls the host (%s target)', async (target) => {
    const g = await fuzzGuest(target);
    const zeroes = g.alloc(4096, 8);
    const reset = () => new Uint8Array(g.memory.buffer, zeroes, 4096).fill(0);
    for (const target of targets) {
      const expected = typeof target.mapping === 'object' && 'unsupported' in target.mapping ? UNSUPPORTED : BADF;
      fc.assert(
        fc.property(fc.array(deadHandle, { minLength: 1, maxLength: 4 }), (handles) => {
          reset();
          const status = g.call(target.name, ...argsFor(g, target.shape, handles, zeroes));
          if (status !== expected || g.calls.length) {
            throw new Error(`${target.name}(${handles.map((h) => `0x${h.toString(16)}`).join(', ')}): status ${status}, host calls ${JSON.stringify(g.calls.map((c) => c.ref))}`);
          }
        }),
        { seed: SEED, numRuns: 40 },
      );
    }
  });
});
