import { copyFileSync, mkdtempSync, readFileSync, utimesSync } from 'node:fs';
import type http from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readModuleInterface } from '../src/wasm/imports.js';
import { coreSignature, findWitxFunction, loadWitxDir, lowerFunction } from '../src/witx/index.js';
import { compileSources, startServe, type ServeProcess } from './fixtures/components/harness.js';
import { buildJsApp } from './support/js-app.js';
import { closedPort, startOrigin, stopOrigin, writeFastlyToml } from './support/serve-harness.js';

/*
 * Reusable sandboxes through adapt + serve: a C guest that loops on next_request
 * (test/fixtures/c/reuse.c) and a js-compute app that sets setReusableSandboxOptions
 * (test/fixtures/js-apps/reuse.js). Both answer with `x-sandbox` (an id drawn in the sandbox)
 * and `x-served` (its count of requests), which live in guest memory.
 */

const here = dirname(fileURLToPath(import.meta.url));

/**
 * Time for a sandbox that answered to register for the next request before the client sends it:
 * the js-compute runtime asks only after its response is out. (The C guest asks before it
 * answers, as Viceroy's test guest does, so it needs none.)
 */
const SETTLE_MS = 200;

let origin: http.Server;
/** One sandbox may wait at a time, so which one serves a sequence of requests is known. */
let single: ServeProcess;
let many: ServeProcess;
let js: ServeProcess;
/** Serves a copy of the C guest with --watch. */
let watched: ServeProcess;
/** One waiting sandbox, with tight per-request limits. */
let limited: ServeProcess;
let watchedApp: string;

beforeAll(async () => {
  const [dist, jsApp] = await Promise.all([compileSources(), buildJsApp(join(here, 'fixtures/js-apps/reuse.js'))]);
  let port: number;
  ({ server: origin, port } = await startOrigin());
  const toml = writeFastlyToml(port, await closedPort());
  const cGuest = join(here, 'fixtures/c/reuse.wasm');
  single = await startServe(dist, cGuest, ['-C', toml, '--max-waiting-sandboxes', '1']);
  watchedApp = join(mkdtempSync(join(tmpdir(), 'witshim-reuse-')), 'reuse.wasm');
  copyFileSync(cGuest, watchedApp);
  [many, js, watched, limited] = await Promise.all([
    startServe(dist, cGuest, ['-C', toml]),
    startServe(dist, jsApp, ['-C', toml]),
    startServe(dist, watchedApp, ['-C', toml, '--watch']),
    startServe(dist, cGuest, ['-C', toml, '--max-waiting-sandboxes', '1', '--time-limit', '1500', '--cpu-limit', '40']),
  ]);
}, 180_000);

afterAll(async () => {
  await Promise.all([single, many, js, watched, limited].map((serve) => serve?.stop()));
  stopOrigin(origin);
});

interface Answer {
  status: number;
  sandbox: string | null;
  served: number;
  id: string;
}

async function get(serve: ServeProcess, path: string): Promise<Answer> {
  const res = await fetch(`${serve.url}${path}`);
  await res.text();
  return { status: res.status, sandbox: res.headers.get('x-sandbox'), served: Number(res.headers.get('x-served')), id: '' };
}

/** Sequential requests, each after the previous sandbox had time to ask for the next. */
async function sequence(serve: ServeProcess, paths: string[]): Promise<Answer[]> {
  const answers: Answer[] = [];
  for (const path of paths) {
    answers.push(await get(serve, path));
    await sleep(SETTLE_MS);
  }
  return answers;
}

/** Access log lines for `path`, in order. */
const logLines = (serve: ServeProcess, path: string) => serve.stdout.filter((line) => line.includes(`"GET ${path}"`));

describe('reusable sandboxes: a C guest looping on next_request', { timeout: 30_000 }, () => {
  it('the committed build imports each hostcall with the exact WITX-lowered signature', () => {
    const abi = loadWitxDir(join(here, '../witx'));
    const { imports } = readModuleInterface(readFileSync(join(here, 'fixtures/c/reuse.wasm')));
    const hostcalls = imports.filter((imp) => imp.module.startsWith('fastly_'));
    expect(hostcalls.map((imp) => imp.name)).toEqual(expect.arrayContaining(['next_request', 'next_request_wait', 'next_request_abandon']));
    for (const imp of hostcalls) {
      const fn = findWitxFunction(abi, imp.module, imp.name);
      expect(fn, `${imp.module}#${imp.name}`).toBeDefined();
      expect(imp.type, `${imp.module}#${imp.name}`).toEqual(coreSignature(lowerFunction(abi, fn!)));
    }
  });

  // Regression: the wall-clock and CPU limits ran over a sandbox's whole life, so a reused
  // sandbox was killed after a few hundred requests (the CPU limit) or minutes (the wall clock),
  // each request of it well within the limits.
  it('the wall-clock and CPU limits are per request: a sandbox outlives them over many requests', async () => {
    // 1.5 s of wall clock per request: eight requests 300 ms apart take longer than that.
    const spaced: Answer[] = [];
    for (let i = 0; i < 8; i++) {
      spaced.push(await get(limited, '/count'));
      await sleep(300);
    }
    // 40 ms of CPU per request: a hundred and fifty requests take more than that between them.
    const rapid: Answer[] = [];
    for (let i = 0; i < 150; i++) rapid.push(await get(limited, '/count'));
    const answers = [...spaced, ...rapid];
    expect(answers.filter((a) => a.status !== 200)).toEqual([]);
    expect(new Set(answers.map((a) => a.sandbox)).size).toBe(1);
    expect(answers.at(-1)!.served - answers[0]!.served).toBe(answers.length - 1);
    expect(limited.stderr.filter((line) => line.includes('killed'))).toEqual([]);
  });

  it('state in guest memory survives between the requests of one sandbox; the access log names the sandbox', async () => {
    const answers = await sequence(single, ['/count?n=1', '/count?n=2', '/count?n=3']);
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200]);
    const [first, second, third] = answers;
    expect(second!.sandbox).toBe(first!.sandbox);
    expect(third!.sandbox).toBe(first!.sandbox);
    expect([second!.served - first!.served, third!.served - first!.served]).toEqual([1, 2]);
    await single.waitForLine(/"GET \/count\?n=3"/);
    const [line1, line2, line3] = ['/count?n=1', '/count?n=2', '/count?n=3'].map((path) => logLines(single, path)[0]!);
    const sandbox = /\(sandbox (\w+) #\d+\)$/.exec(line2!)?.[1];
    expect(sandbox).toBeDefined();
    expect(line3).toMatch(new RegExp(`\\(sandbox ${sandbox} #${third!.served}\\)$`));
    // The first request of the sandbox is the one it is named after (unless it served earlier ones).
    if (first!.served === 1) expect(line1!.startsWith(`${sandbox} `)).toBe(true);
  });

  // Regression: source ids restarted at 1 for every request, so the guest closing the previous
  // request's body (id 1) after taking the next one destroyed the next one's body (also id 1).
  it("a request's body is its own, whatever the guest does with the previous request's", async () => {
    const post = async (body: string, query = '') => {
      const res = await fetch(`${single.url}/count${query}`, { method: 'POST', body });
      await res.text();
      return { sandbox: res.headers.get('x-sandbox'), length: res.headers.get('x-body-length') };
    };
    // The first body stays unread, so closing it drops a live stream on the main thread.
    const first = await post('abcdef', '?unread=1');
    await sleep(SETTLE_MS);
    const second = await post('ghijklmnop');
    expect(second.sandbox).toBe(first.sandbox);
    expect([first.length, second.length]).toEqual(['0', '10']);
  });

  it('a trap in request k ends its sandbox with a 500; request k+1 gets a fresh instance', async () => {
    const [before, trapped, after] = await sequence(single, ['/count?k=0', '/trap', '/count?k=2']);
    expect(before!.status).toBe(200);
    expect(trapped!.status).toBe(500);
    // The trap happened in the sandbox that was waiting (the log line names it)...
    await single.waitForLine(/"GET \/trap" 500/);
    expect(logLines(single, '/trap')[0]).toMatch(/\(sandbox \w+ #\d+\)$/);
    // ...and the next request is that sandbox's no more.
    expect(after!.status).toBe(200);
    expect(after!.served).toBe(1);
    expect(after!.sandbox).not.toBe(before!.sandbox);
  });

  it('the between-request timeout the guest asks for ends its sandbox', async () => {
    const waiting = await get(single, '/count?timeout=150');
    // Well past 150 ms: the sandbox got `none` and ended.
    await sleep(2_000);
    const next = await get(single, '/count');
    expect(next.served).toBe(1);
    expect(next.sandbox).not.toBe(waiting.sandbox);
  });

  it('a guest that exits rather than asking for more ends its sandbox; an abandoned promise is no registration', async () => {
    const [abandoning, afterAbandon] = await sequence(single, ['/count?abandon=1', '/count']);
    // Abandoned, then asked again: the second promise is the one that takes the request.
    expect(afterAbandon!.sandbox).toBe(abandoning!.sandbox);
    const [exiting, afterExit] = await sequence(single, ['/exit', '/count']);
    expect(exiting!.status).toBe(200);
    expect(afterExit!.served).toBe(1);
    expect(afterExit!.sandbox).not.toBe(exiting!.sandbox);
  });

  it('concurrent requests spread over sandboxes, one request at a time each, and the sandboxes serve the next round', async () => {
    // Each waits 1 s on the backend. A request that waits for a worker may go to a sandbox that
    // became free meanwhile, so the check is that no sandbox served two at once.
    const round = () => Promise.all(Array.from({ length: 4 }, (_, i) => get(many, `/count?ms=1000&i=${i}`)));
    const first = await round();
    await sleep(SETTLE_MS);
    const second = await round();
    const all = [...first, ...second];
    expect(all.map((a) => a.status)).toEqual(Array(8).fill(200));
    // Every (sandbox, count) pair once: a sandbox's requests were served one after the other.
    expect(new Set(all.map((a) => `${a.sandbox}#${a.served}`)).size).toBe(8);
    // More than one sandbox served each round (one alone would have taken 4 s per round).
    expect(new Set(first.map((a) => a.sandbox)).size).toBeGreaterThan(1);
    expect(new Set(second.map((a) => a.sandbox)).size).toBeGreaterThan(1);
    // The sandboxes of the first round waited (timeout 5 s) and served the second.
    const firstSandboxes = new Set(first.map((a) => a.sandbox));
    expect(second.some((a) => firstSandboxes.has(a.sandbox) && a.served > 1)).toBe(true);
  });

  it('a slow request in one sandbox does not hold up another', async () => {
    const slow = get(many, '/count?ms=4000');
    let slowDone = false;
    void slow.then(() => (slowDone = true));
    await sleep(300);
    const fast = await sequence(many, ['/count', '/count', '/count']);
    // The fast ones finished while the slow one still waits on its backend (4 s).
    expect(slowDone).toBe(false);
    expect(fast.map((a) => a.status)).toEqual([200, 200, 200]);
    const answer = await slow;
    expect(fast.every((a) => a.sandbox !== answer.sandbox)).toBe(true);
  });
});

describe('reusable sandboxes across a --watch reload', { timeout: 30_000 }, () => {
  it('a sandbox waiting when the app reloads gets none: the next request runs on the new version', async () => {
    const before = await get(watched, '/count?timeout=10000');
    await sleep(SETTLE_MS);
    const again = await get(watched, '/count?timeout=10000');
    expect(again.sandbox).toBe(before.sandbox);
    await sleep(SETTLE_MS);
    const later = new Date(Date.now() + 5_000);
    utimesSync(watchedApp, later, later);
    copyFileSync(join(here, 'fixtures/c/reuse.wasm'), watchedApp);
    const reloaded = await watched.waitForLine(/^Reloaded in \d+ms$/, 20_000);
    expect(reloaded).toMatch(/^Reloaded in \d+ms$/);
    // The old sandbox's wait ended with the reload, long before its 10 s timeout.
    await watched.waitForLine(new RegExp(`sandbox ${before.sandbox}: no further request after ${again.served}$`), 5_000);
    const after = await get(watched, '/count');
    expect(after.served).toBe(1);
    expect(after.sandbox).not.toBe(before.sandbox);
  });
});

describe('reusable sandboxes: a js-compute app with setReusableSandboxOptions', { timeout: 30_000 }, () => {
  it('state survives between requests of one sandbox', async () => {
    const [first, second, third] = await sequence(js, ['/a', '/b', '/c']);
    expect(first!.status).toBe(200);
    expect(second!.sandbox).toBe(first!.sandbox);
    expect(third!.sandbox).toBe(first!.sandbox);
    expect(third!.served - first!.served).toBe(2);
  });

  it('a throw in request k answers 500 and ends the sandbox; the next request gets a fresh one', async () => {
    const [before, thrown, after] = await sequence(js, ['/d', '/trap', '/e']);
    expect(before!.status).toBe(200);
    expect(thrown!.status).toBe(500);
    expect(after!.status).toBe(200);
    expect(after!.served).toBe(1);
    expect(after!.sandbox).not.toBe(before!.sandbox);
  });

  it('betweenRequestTimeoutMs (600 ms) ends an idle sandbox', async () => {
    const waiting = await get(js, '/f');
    await sleep(3_000);
    const next = await get(js, '/g');
    expect(next.served).toBe(1);
    expect(next.sandbox).not.toBe(waiting.sandbox);
  });
});
