import { describe, expect, it } from 'vitest';
import { limitMemories, MemoryLimitError } from '../src/wasm/memory-limit.js';
import { threadCpuMs } from '../src/host/cpu.js';
import { PLATFORM_GUEST_LIMITS, PLATFORM_REQUEST_LIMITS } from '../src/server/limits.js';

const header = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
/** A module with one memory section: `(memory min max?)`, and a custom section after it. */
function moduleWith(memories: Array<[min: number, max?: number]>): Uint8Array<ArrayBuffer> {
  const body: number[] = [memories.length];
  for (const [min, max] of memories) body.push(max === undefined ? 0 : 1, min, ...(max === undefined ? [] : [max]));
  return new Uint8Array([...header, 5, body.length, ...body, 0, 3, 1, 0x78, 0x79]);
}

describe('limitMemories', () => {
  it('caps a memory without a maximum, and memory.grow past it fails', () => {
    const capped = limitMemories(moduleWith([[1]]), 4);
    // The same module with an export section (in place of the custom one) to grow the memory.
    const bytes = new Uint8Array([...capped.subarray(0, capped.length - 5), 7, 5, 1, 1, 0x6d, 2, 0]);
    const memory = new WebAssembly.Instance(new WebAssembly.Module(bytes)).exports.m as WebAssembly.Memory;
    expect(memory.grow(3)).toBe(1);
    expect(() => memory.grow(1)).toThrow(RangeError);
  });

  it('keeps a smaller maximum, lowers a larger one, and leaves the rest of the module as it was', () => {
    expect([...limitMemories(moduleWith([[1, 2]]), 4)]).toEqual([...moduleWith([[1, 2]])]);
    expect([...limitMemories(moduleWith([[1, 100]]), 4)]).toEqual([...moduleWith([[1, 4]])]);
    const none = new Uint8Array([...header, 0, 3, 1, 0x78, 0x79]);
    expect(limitMemories(none, 4)).toBe(none);
  });

  it('refuses a memory that starts above the limit, and a truncated section', () => {
    expect(() => limitMemories(moduleWith([[8]]), 4)).toThrow(/starts at 8 pages .* over the memory limit of 4 pages/);
    const truncated = moduleWith([[1]]).subarray(0, 11);
    expect(() => limitMemories(truncated, 4)).toThrow(MemoryLimitError);
  });
});

describe('limits', () => {
  it("defaults follow the platform's documented figures where they apply", () => {
    expect(PLATFORM_GUEST_LIMITS.wallMs).toBe(120_000);
    expect(PLATFORM_GUEST_LIMITS.memoryBytes).toBe(128 * 1024 * 1024);
    expect(PLATFORM_REQUEST_LIMITS.urlBytes).toBe(8192);
    expect(PLATFORM_REQUEST_LIMITS.headerBytes).toBe(69 * 1024);
  });

  it("reads this thread's CPU clock from /proc on Linux, advancing as it computes", () => {
    const before = threadCpuMs('/proc/thread-self/stat');
    if (before === undefined) return expect(process.platform).not.toBe('linux');
    const until = performance.now() + 100;
    while (performance.now() < until);
    expect(threadCpuMs('/proc/thread-self/stat')!).toBeGreaterThanOrEqual(before);
    expect(threadCpuMs('/proc/nonexistent/stat')).toBeUndefined();
  });
});

describe('limit flags', () => {
  it('serve defaults to the platform limits, run to none on time; flags override; bad values are usage errors', async () => {
    const { guestLimits, RUN_LIMITS } = await import('../src/cli/limit-flags.js');
    expect(guestLimits({})).toEqual(PLATFORM_GUEST_LIMITS);
    expect(guestLimits({}, RUN_LIMITS)).toMatchObject({ cpuMs: Infinity, wallMs: Infinity, memoryBytes: 128 * 1024 * 1024 });
    expect(guestLimits({ cpuLimit: '50', timeLimit: '2000', memoryLimit: '16' })).toEqual({ cpuMs: 50, wallMs: 2000, memoryBytes: 16 * 1024 * 1024 });
    expect(() => guestLimits({ cpuLimit: '-5' })).toThrow(/--cpu-limit must be a positive integer, got -5/);
    expect(() => guestLimits({ memoryLimit: '1.5' })).toThrow(/--memory-limit must be a positive integer/);
  });
});
