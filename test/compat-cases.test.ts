import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import type http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADAPTER_TARGETS, type AdapterTarget } from '../src/adapter/target.js';
import { caseNames, fillText, loadCase, substitute, type CaseRequest, type CompatCase, type Placeholders } from './compat/cases.js';
import { compileSources, startServe, type ServeProcess } from './fixtures/components/harness.js';
import { closedPort, startOrigin, stopOrigin } from './support/serve-harness.js';

/*
 * Runs the compatibility cases in test/compat/cases/*.toml: each case's guest is served by
 * `witshim serve` (which adapts a legacy module on the fly) with its fastly.toml, and each of its
 * requests must get the answer the case expects. Cases with the same guest and fastly.toml share
 * one server (and its KV / rate-limit state), started when their group begins. Every group runs
 * once per adapter target (`witshim serve --target subscribe|published`): both adapters must
 * give the guest the answers the case expects, so they answer alike.
 * `npm run test:compat -- <case> ...` runs only the named cases (WITSHIM_CASES).
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

const runs = [...groups.values()].flatMap((group) => selectedTargets().map((target) => [target, group.map((c) => c.name).join(', '), group] as const));

describe.each(runs)('%s: cases %s', { timeout: 30_000 }, (target: AdapterTarget, _, group) => {
  let serve: ServeProcess;
  let values: Placeholders;

  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'witshim-case-'));
    const toml = join(dir, 'fastly.toml');
    writeFileSync(toml, fillText(group[0].fastlyToml ?? defaultToml, base, group[0].file));
    serve = await startServe(dist, group[0].guest, ['-C', toml, '--target', target]);
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
