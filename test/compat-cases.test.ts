import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import type http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADAPTER_TARGETS, type AdapterTarget } from '../src/adapter/target.js';
import { caseNames, fillText, loadCase, substitute, type CaseRequest, type CompatCase, type Placeholders } from './compat/cases.js';
import { compileSources, startServe, type ServeProcess } from './fixtures/components/harness.js';
import { closedPort, startOrigin, stopOrigin } from './support/serve-harness.js';
import { measure, readFloor, readTraces, report } from './compat/coverage.js';

/*
 * Runs the compatibility cases in test/compat/cases/*.toml: each case's guest is served by
 * `witshim serve` (which adapts a legacy module on the fly) with its fastly.toml, and each of its
 * requests must get the answer the case expects. Cases with the same guest and fastly.toml share
 * one server (and its KV / rate-limit state), started when their group begins. Every group runs
 * once per adapter target (`witshim serve --target subscribe|published`): both adapters must
 * give the guest the answers the case expects, so they answer alike.
 * `npm run test:compat -- <case> ...` runs only the named cases (WITSHIM_CASES).
 * Every server writes its hostcall trace; at the end the suite prints which of the ABI's
 * hostcalls and error paths the cases covered, per target, and (running every case) fails
 * below the committed floor (see compat/coverage.ts).
 */

const defaultToml = readFileSync(join(import.meta.dirname, 'compat/default.fastly.toml'), 'utf8');
const LOG_WAIT_MS = 10_000;
/** Guest output lines are `[<request id>] <line>` on the server's stdout. */
const GUEST_LINE_PREFIX = /^\[[^\]]+\] /;

function selectedCases(): CompatCase[] {
  const all = caseNames();
  const wanted = (process.env.WITSHIM_CASES ?? '').split(',').map((s) => s.trim().replace(/\.toml$/, '')).filter(Boolean);
  const unknown = wanted.filter((name) => !all.includes(name));
  if (unknown.length) throw new Error(`no such case: ${unknown.join(', ')} (cases are test/compat/cases/*.toml)`);
  return (wanted.length ? wanted : all).map((name) => loadCase(name));
}

const cases = selectedCases();
const allCases = !process.env.WITSHIM_CASES;
const traces = mkdtempSync(join(tmpdir(), 'witshim-traces-'));

let dist: string;
let origin: http.Server;
let base: Placeholders;

beforeAll(async () => {
  dist = await compileSources();
  const started = await startOrigin();
  origin = started.server;
  base = {
    origin: `http://127.0.0.1:${started.port}`,
    origin_port: String(started.port),
    closed: `http://127.0.0.1:${await closedPort()}`,
    data: join(import.meta.dirname, 'compat/data'),
  };
});

afterAll(() => stopOrigin(origin));

/** Cases grouped by what their server is: the guest and the fastly.toml text (before filling). */
const groups = new Map<string, CompatCase[]>();
for (const c of cases) {
  const key = `${c.guest}\n${c.fastlyToml ?? defaultToml}`;
  groups.set(key, [...(groups.get(key) ?? []), c]);
}

/** WITSHIM_TARGETS=subscribe (or published) runs one adapter target only; default both. */
function selectedTargets(): readonly AdapterTarget[] {
  const wanted = (process.env.WITSHIM_TARGETS ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  const unknown = wanted.filter((t) => !(ADAPTER_TARGETS as readonly string[]).includes(t));
  if (unknown.length) throw new Error(`no such adapter target: ${unknown.join(', ')} (targets are ${ADAPTER_TARGETS.join(', ')})`);
  return wanted.length ? (wanted as AdapterTarget[]) : ADAPTER_TARGETS;
}

const runs = [...groups.values()].flatMap((group, index) => selectedTargets().map((target) => [target, group.map((c) => c.name).join(', '), group, index] as const));

describe.each(runs)('%s: cases %s', { timeout: 30_000 }, (target: AdapterTarget, _, group, index) => {
  let serve: ServeProcess;
  let values: Placeholders;

  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'witshim-case-'));
    const toml = join(dir, 'fastly.toml');
    writeFileSync(toml, fillText(group[0].fastlyToml ?? defaultToml, base, group[0].file));
    serve = await startServe(dist, group[0].guest, ['-C', toml, '--target', target, `--trace-hostcalls=${join(traces, `${target}-${index}.jsonl`)}`]);
    values = { ...base, server: serve.url, host: new URL(serve.url).host };
  });

  afterAll(() => serve?.stop());

  for (const raw of group) {
    const run = async () => {
      const c = substitute(raw, values);
      for (const [i, request] of c.requests.entries()) await check(serve, request, `${c.name} request ${i + 1} (${request.method} ${request.path})`);
    };
    if (raw.knownFailure === undefined) it(`${raw.name}: ${raw.description}`, run);
    // A known failure must still fail: when it passes, the bug is fixed and the key goes.
    else it.fails(`${raw.name}: ${raw.description} [known failure: ${raw.knownFailure}]`, run, LOG_WAIT_MS + 5000);
  }

  // The host reports, at the end of each request, the pollables the guest made and never dropped
  // (src/host/pollable.ts, `Subscription`): the adapter must drop every one it makes in select / is_ready.
  it('no request ended holding a pollable the adapter made', () => {
    expect(serve.stderr.filter((line) => line.includes('never dropped'))).toEqual([]);
  });
});

// Runs after every group (a file's tests run in order), when every server has stopped.
describe('coverage of the ABI', () => {
  it.each(selectedTargets())('%s: hostcalls and error paths the cases covered', (target) => {
    const coverage = measure(readTraces(traces, `${target}-`));
    console.log(report(target, coverage));
    if (!allCases) return;
    const floor = readFloor();
    expect(coverage.hostcalls.covered, `hostcalls covered fell below the floor in ${'test/compat/coverage-floor.json'}`).toBeGreaterThanOrEqual(floor.hostcalls);
    expect(coverage.successPaths.covered, 'success paths covered fell below the floor').toBeGreaterThanOrEqual(floor.successPaths);
    expect(coverage.errorPaths.covered, 'error paths covered fell below the floor').toBeGreaterThanOrEqual(floor.errorPaths);
  });
});

async function check(serve: ServeProcess, request: CaseRequest, what: string): Promise<void> {
  const mark = serve.stdout.length;
  const res = await fetch(`${serve.url}${request.path}`, { method: request.method, headers: request.headers, body: request.body, redirect: 'manual' });
  const text = await res.text();
  const e = request.expect;
  if (e.status !== undefined) expect(res.status, `${what}: status; body was ${JSON.stringify(text)}`).toBe(e.status);
  for (const [name, value] of Object.entries(e.headers)) expect(res.headers.get(name), `${what}: header ${name}`).toBe(value);
  for (const [name, pattern] of Object.entries(e.headersMatch)) expect(res.headers.get(name) ?? '', `${what}: header ${name}`).toMatch(new RegExp(pattern));
  for (const name of e.headersAbsent) expect(res.headers.has(name), `${what}: header ${name} should be absent`).toBe(false);
  if (e.body !== undefined) expect(text, `${what}: body`).toBe(e.body);
  if (e.bodyMatch !== undefined) expect(text, `${what}: body`).toMatch(new RegExp(e.bodyMatch));
  for (const line of e.logs) await waitForLine(serve, mark, (l) => l === line || l.replace(GUEST_LINE_PREFIX, '') === line, `${what}: log line ${JSON.stringify(line)}`);
  for (const pattern of e.logsMatch) {
    const re = new RegExp(pattern);
    await waitForLine(serve, mark, (l) => re.test(l), `${what}: log line matching /${pattern}/`);
  }
}

/** Waits for a stdout line from index `from` on that satisfies `test`. */
async function waitForLine(serve: ServeProcess, from: number, test: (line: string) => boolean, what: string): Promise<void> {
  const deadline = Date.now() + LOG_WAIT_MS;
  while (!serve.stdout.slice(from).some(test)) {
    if (Date.now() > deadline) throw new Error(`${what} did not appear; stdout since the request:\n${serve.stdout.slice(from).join('\n')}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
