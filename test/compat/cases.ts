import { readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { parse } from 'smol-toml';

/*
 * Compatibility cases as data: one TOML file per case in test/compat/cases/, run by
 * test/compat-cases.test.ts (`npm run test:compat -- <case> ...` runs some). A case names a
 * guest, the fastly.toml it is served with and a sequence of requests, each with what the
 * answer must be. See README, *Compatibility suite*, for the format.
 */

export const casesDir = join(import.meta.dirname, 'cases');
export const cGuestDir = join(import.meta.dirname, '../fixtures/c');

export interface CaseRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string;
  expect: CaseExpect;
}

export interface CaseExpect {
  status?: number;
  /** Exact values; `headers_absent` names headers that must not be there. */
  headers: Record<string, string>;
  headersMatch: Record<string, string>;
  headersAbsent: string[];
  body?: string;
  bodyMatch?: string;
  /** Server stdout lines (exact) that must appear after the request started. */
  logs: string[];
  logsMatch: string[];
}

export interface CompatCase {
  name: string;
  file: string;
  description: string;
  /** Absolute path of the guest module. */
  guest: string;
  fastlyToml?: string;
  /**
   * Why the case fails today (a known bug elsewhere). The runner then expects it to fail, so
   * that the fix shows as this case failing until the key is removed.
   */
  knownFailure?: string;
  requests: CaseRequest[];
}

/** Values substituted for `{{name}}` in every string of a case. */
export type Placeholders = Record<string, string>;

const CASE_KEYS = new Set(['description', 'guest', 'fastly_toml', 'requests', 'known_failure']);
const REQUEST_KEYS = new Set(['method', 'path', 'headers', 'body', 'expect']);
const EXPECT_KEYS = new Set(['status', 'headers', 'headers_match', 'headers_absent', 'body', 'body_match', 'logs', 'logs_match']);

export class CaseError extends Error {}

/** Every case file, by name (file name without `.toml`), sorted. */
export function caseNames(): string[] {
  return readdirSync(casesDir)
    .filter((f) => f.endsWith('.toml'))
    .map((f) => f.slice(0, -'.toml'.length))
    .sort();
}

/** Reads and checks one case file; unknown keys and wrong types are errors, naming the file. */
export function loadCase(name: string, dir = casesDir): CompatCase {
  const file = join(dir, `${name}.toml`);
  const where = (what: string) => `${basename(file)}: ${what}`;
  let doc: Record<string, unknown>;
  try {
    doc = parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch (err) {
    throw new CaseError(where((err as Error).message.split('\n')[0]));
  }
  onlyKeys(doc, CASE_KEYS, where('top level'));
  const guest = str(doc.guest, where('guest'));
  const requests = doc.requests;
  if (!Array.isArray(requests) || requests.length === 0) throw new CaseError(where('needs at least one [[requests]]'));
  return {
    name,
    file,
    description: str(doc.description, where('description')),
    guest: guest.endsWith('.wasm') ? join(import.meta.dirname, '../..', guest) : join(cGuestDir, `${guest}.wasm`),
    fastlyToml: doc.fastly_toml === undefined ? undefined : str(doc.fastly_toml, where('fastly_toml')),
    knownFailure: doc.known_failure === undefined ? undefined : str(doc.known_failure, where('known_failure')),
    requests: requests.map((r, i) => loadRequest(r, (what) => where(`requests[${i}].${what}`))),
  };
}

function loadRequest(raw: unknown, where: (what: string) => string): CaseRequest {
  const r = table(raw, where('(request)'));
  onlyKeys(r, REQUEST_KEYS, where('(request)'));
  const e = table(r.expect ?? {}, where('expect'));
  onlyKeys(e, EXPECT_KEYS, where('expect'));
  const expect: CaseExpect = {
    status: e.status === undefined ? undefined : int(e.status, where('expect.status')),
    headers: strings(e.headers, where('expect.headers')),
    headersMatch: strings(e.headers_match, where('expect.headers_match')),
    headersAbsent: list(e.headers_absent, where('expect.headers_absent')),
    body: e.body === undefined ? undefined : str(e.body, where('expect.body')),
    bodyMatch: e.body_match === undefined ? undefined : str(e.body_match, where('expect.body_match')),
    logs: list(e.logs, where('expect.logs')),
    logsMatch: list(e.logs_match, where('expect.logs_match')),
  };
  const checks = (expect.status === undefined ? 0 : 1) + Object.keys(expect.headers).length + Object.keys(expect.headersMatch).length +
    expect.headersAbsent.length + (expect.body === undefined ? 0 : 1) + (expect.bodyMatch === undefined ? 0 : 1) + expect.logs.length + expect.logsMatch.length;
  // A request that checks nothing proves nothing.
  if (checks === 0) throw new CaseError(where('expect checks nothing'));
  return {
    method: r.method === undefined ? 'GET' : str(r.method, where('method')),
    path: str(r.path ?? '/', where('path')),
    headers: strings(r.headers, where('headers')),
    body: r.body === undefined ? undefined : str(r.body, where('body')),
    expect,
  };
}

/** The case with every `{{name}}` replaced; an unknown placeholder is an error. */
export function substitute(c: CompatCase, values: Placeholders): CompatCase {
  const fill = (s: string) => fillText(s, values, c.file);
  const fillMap = (m: Record<string, string>) => Object.fromEntries(Object.entries(m).map(([k, v]) => [k, fill(v)]));
  return {
    ...c,
    fastlyToml: c.fastlyToml === undefined ? undefined : fill(c.fastlyToml),
    requests: c.requests.map((r) => ({
      ...r,
      path: fill(r.path),
      headers: fillMap(r.headers),
      body: r.body === undefined ? undefined : fill(r.body),
      expect: {
        ...r.expect,
        headers: fillMap(r.expect.headers),
        headersMatch: fillMap(r.expect.headersMatch),
        body: r.expect.body === undefined ? undefined : fill(r.expect.body),
        bodyMatch: r.expect.bodyMatch === undefined ? undefined : fill(r.expect.bodyMatch),
        logs: r.expect.logs.map(fill),
        logsMatch: r.expect.logsMatch.map(fill),
      },
    })),
  };
}

/** `text` with every `{{name}}` replaced by its value. */
export function fillText(text: string, values: Placeholders, file: string): string {
  return text.replace(/\{\{(\w+)\}\}/g, (_, key: string) => {
    if (!(key in values)) throw new CaseError(`${basename(file)}: unknown placeholder {{${key}}} (known: ${Object.keys(values).join(', ')})`);
    return values[key];
  });
}

function onlyKeys(t: Record<string, unknown>, allowed: Set<string>, where: string): void {
  const unknown = Object.keys(t).filter((k) => !allowed.has(k));
  if (unknown.length) throw new CaseError(`${where}: unknown key(s) ${unknown.join(', ')} (known: ${[...allowed].join(', ')})`);
}

function table(v: unknown, where: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new CaseError(`${where}: expected a table`);
  return v as Record<string, unknown>;
}

function str(v: unknown, where: string): string {
  if (typeof v !== 'string') throw new CaseError(`${where}: expected a string`);
  return v;
}

function int(v: unknown, where: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v)) throw new CaseError(`${where}: expected an integer`);
  return v;
}

function list(v: unknown, where: string): string[] {
  if (v === undefined) return [];
  if (!Array.isArray(v)) throw new CaseError(`${where}: expected an array of strings`);
  return v.map((x, i) => str(x, `${where}[${i}]`));
}

function strings(v: unknown, where: string): Record<string, string> {
  if (v === undefined) return {};
  return Object.fromEntries(Object.entries(table(v, where)).map(([k, x]) => [k, str(x, `${where}.${k}`)]));
}
