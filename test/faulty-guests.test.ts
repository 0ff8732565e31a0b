/**
 * Faulty guests (issue 11, item 3): each fault costs only the request that hit it; the server
 * logs the request and the fault, replaces a killed worker, and serves the next request.
 * test/fixtures/c/faulty.c has one fault per path.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileSources, startServe, type ServeProcess } from './fixtures/components/harness.js';

const app = join(import.meta.dirname, 'fixtures/c/faulty.wasm');
let serve: ServeProcess;

/** The request id (32 hex digits, as the platform's) of the access line for `request` (e.g. `GET /trap`) with `status`. */
async function accessId(request: string, status: number): Promise<string> {
  const line = await serve.waitForLine(new RegExp(`^[0-9a-f]{32} "${request.replace(/[?]/g, '\\?')}" ${status} `));
  return line.slice(0, 32);
}

async function stderrLine(pattern: RegExp, timeoutMs = 30_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = serve.stderr.find((line) => pattern.test(line));
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error(`no stderr line matching ${pattern}; stderr:\n${serve.stderr.join('\n')}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function get(path: string): Promise<{ status: number; text: string }> {
  const res = await fetch(`${serve.url}${path}`);
  return { status: res.status, text: await res.text() };
}

/** The latest `--stats` line as numbers. */
async function stats(): Promise<Record<string, number>> {
  const before = serve.stdout.filter((line) => line.startsWith('stats ')).length;
  await serve.waitForLine(/^stats /);
  // A fresh line, taken after the caller's requests finished.
  while (serve.stdout.filter((line) => line.startsWith('stats ')).length <= before) await new Promise((resolve) => setTimeout(resolve, 50));
  const line = serve.stdout.filter((l) => l.startsWith('stats ')).at(-1)!;
  return Object.fromEntries(line.slice(6).split(' ').map((pair) => pair.split('=')).map(([name, value]) => [name!, Number(value)]));
}

beforeAll(async () => {
  const dist = await compileSources();
  serve = await startServe(dist, app, ['--cpu-limit', '1000', '--time-limit', '8000', '--memory-limit', '16', '--stats', '1']);
}, 180_000);

afterAll(async () => {
  await serve?.stop();
});

describe('faulty guests', () => {
  it('a trap mid-request: 500, a log line naming the request and the trap, the next request served', async () => {
    expect((await get('/trap')).status).toBe(500);
    const id = await accessId('GET /trap', 500);
    expect(await stderrLine(new RegExp(`^${id}: guest trapped: .*unreachable`))).toBeTruthy();
    expect(await get('/ok')).toEqual({ status: 200, text: 'ok\n' });
  });

  it('an infinite loop is killed at the CPU limit, alone: requests alongside it are served, its worker replaced', async () => {
    const loop = get('/loop');
    // Served while the loop spins on one core.
    for (let i = 0; i < 5; i++) expect((await get('/ok')).status).toBe(200);
    expect((await loop).status).toBe(500);
    const id = await accessId('GET /loop', 500);
    await stderrLine(new RegExp(`^${id}: guest trapped: killed: used more than the CPU time limit of 1000 ms`));
    expect((await get('/ok')).status).toBe(200);
    const after = await stats();
    expect(after.killed).toBeGreaterThanOrEqual(1);
    expect(after.exited).toBeGreaterThanOrEqual(1);
    // Replaced: started workers outnumber the exited ones by the live ones.
    expect(after.started - after.exited).toBe(after.workers - after.starting);
  }, 60_000);

  it('a loop after the response: the client has its answer, then the guest is killed', async () => {
    expect(await get('/loop-after')).toEqual({ status: 200, text: 'answered, now spinning\n' });
    await stderrLine(/: guest trapped: killed: used more than the CPU time limit of 1000 ms/);
    expect((await get('/ok')).status).toBe(200);
  });

  it('runaway memory stops at the memory limit: allocation fails in the guest, which aborts', async () => {
    expect((await get('/grow')).status).toBe(500);
    const id = await accessId('GET /grow', 500);
    // abort() after malloc returned NULL: 16 MiB reached, long before any time limit.
    await stderrLine(new RegExp(`^${id}: guest trapped: .*unreachable`));
    expect((await get('/ok')).status).toBe(200);
  });

  it('proc_exit non-zero without a response: 500 and the exit code in the log', async () => {
    expect((await get('/exit?code=3')).status).toBe(500);
    const id = await accessId('GET /exit?code=3', 500);
    await stderrLine(new RegExp(`^${id}: guest exited with proc_exit\\(3\\)`));
    expect((await get('/ok')).status).toBe(200);
  });

  it('a guest that never responds is killed at the wall-clock limit', async () => {
    expect((await get('/sleep')).status).toBe(500);
    const id = await accessId('GET /sleep', 500);
    await stderrLine(new RegExp(`^${id}: guest trapped: killed: ran past the wall-clock limit of 8000 ms`));
    expect((await get('/ok')).status).toBe(200);
  }, 60_000);

  it('a guest that opens thousands of handles: answered, and they go with its instance', async () => {
    for (let round = 0; round < 3; round++) expect(await get('/handles?n=1000')).toEqual({ status: 200, text: 'opened 1000 bodies and 1000 requests\n' });
    expect((await get('/ok')).status).toBe(200);
    // A response goes out before its guest returns: on a loaded machine a stats line can fall
    // between the two, so wait (bounded) for one that shows the worker released.
    let after = await stats();
    for (let line = 0; line < 20 && after.busy !== 0; line++) after = await stats();
    expect(after.inflight).toBe(0);
    expect(after.busy).toBe(0);
  }, 60_000);
});
