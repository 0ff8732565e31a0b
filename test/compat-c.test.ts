import type http from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileSources, startServe, type ServeProcess } from './fixtures/components/harness.js';
import { closedPort, fastWhileParked, startOrigin, stopOrigin, timedGet, writeFastlyToml } from './support/serve-harness.js';

/*
 * Legacy C guests (test/fixtures/c, built by build.sh and committed) served by `witshim serve`,
 * which adapts each module on the fly: every hostcall they make goes guest -> adapter -> host.
 * The checks that are one request and its answer are case files (test/compat/cases, run by
 * compat-cases.test.ts); what stays here needs timing, concurrency or generated payloads. The
 * builds themselves are checked in c-guests.test.ts.
 */

const here = dirname(fileURLToPath(import.meta.url));
const guestDir = join(here, 'fixtures/c');
const GUESTS = ['echo', 'proxy', 'stream', 'dynamic'] as const;
type Guest = (typeof GUESTS)[number];

let origin: http.Server;
let originPort: number;
let refusedPort: number;
const serves = {} as Record<Guest, ServeProcess>;
const url = (guest: Guest, path = '/') => `${serves[guest].url}${path}`;

beforeAll(async () => {
  const dist = await compileSources();
  ({ server: origin, port: originPort } = await startOrigin());
  refusedPort = await closedPort();
  const toml = writeFastlyToml(originPort, refusedPort);
  const start = async (guest: Guest) => {
    serves[guest] = await startServe(dist, join(guestDir, `${guest}.wasm`), ['-C', toml]);
  };
  // The first one builds the adapter when its inputs changed; the rest then reuse it rather
  // than each building it at once on two cores.
  await start(GUESTS[0]);
  await Promise.all(GUESTS.slice(1).map(start));
});

afterAll(async () => {
  await Promise.all(Object.values(serves).map((serve) => serve.stop()));
  stopOrigin(origin);
});

// A guest that spins should fail its test quickly, not hold the suite for the default 2 minutes.
describe('C guests under witshim serve', { timeout: 20_000 }, () => {
  it('echo: a 1 MiB request body streams back through 16 KiB reads and writes', async () => {
    const payload = Buffer.alloc(1 << 20);
    for (let i = 0; i < payload.length; i++) payload[i] = (i * 131 + (i >> 12)) & 0xff;
    const res = await fetch(url('echo', '/big'), { method: 'POST', body: payload });
    expect(res.status).toBe(200);
    expect(Buffer.from(await res.arrayBuffer()).equals(payload)).toBe(true);
    const line = await serves.echo.waitForLine(/ echoed 1048576 bytes in \d+ reads/, 10_000);
    expect(line).toMatch(/^\[[^\]]+\] echoed 1048576 bytes in \d+ reads \(last status 0\)$/);
    expect(Number(/in (\d+) reads/.exec(line)![1])).toBeGreaterThanOrEqual(64);
  });

  it('proxy: 10 requests on a fast path are served while 10 others wait on a backend', async () => {
    const slow = Array.from({ length: 10 }, () => url('proxy', '/held'));
    const fast = Array.from({ length: 10 }, (_, i) => url('proxy', `/fast/${i}`));
    const result = await fastWhileParked(slow, fast);
    expect(result.fast).toEqual(Array(10).fill(203));
    // All 10 waited at once, and none had finished when the fast ones had.
    expect(result.parkedAfterFast).toBe(10);
    expect(result.slow).toEqual(Array(10).fill(200));
  }, 120_000);

  it('dynamic: a first-byte timeout fails the send in time', async () => {
    const started = Date.now();
    const res = await fetch(url('dynamic', `/?name=dyn2&target=127.0.0.1:${originPort}&path=/hang&fbt=300`));
    expect(await res.text()).toBe('send_v2: status 1 detail 16\n');
    expect(res.status).toBe(502);
    expect(Date.now() - started).toBeLessThan(2500);
  });

  it('stream: the first bytes arrive while the guest still waits, select times out in between', async () => {
    const { status, first, end, chunks } = await timedGet(url('stream', '/?ms=1500'));
    const text = chunks.join('');
    expect(status).toBe(200);
    expect(text).toMatch(/^first\n(tick\n){5,}delayed 1500done\n$/);
    expect(chunks[0]).toBe('first\n');
    expect(first).toBeLessThan(1000);
    expect(end - first).toBeGreaterThan(1000);
  });
});
