import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { buildAdapter } from '../src/adapter/build.js';
import { hostcallNames } from '../src/adapter/trace.js';
import { loadWitxDir } from '../src/witx/index.js';
import type { HostcallTrace } from '../src/server/hostcall-trace.js';
import { valuesAfterEquals } from '../src/cli/serve.js';
import { compileSources, startServe } from './fixtures/components/harness.js';

/*
 * The hostcall trace (`serve --trace-hostcalls[=FILE]`, the API's `traceHostcalls`): the traced
 * adapter wraps every hostcall and reports each status in order; the untraced one has no trace
 * at all. The compat suite's coverage figures are built on it (test/compat/coverage.ts).
 */

const repo = join(import.meta.dirname, '..');
const c = (name: string) => join(repo, 'test/fixtures/c', `${name}.wasm`);
const abi = loadWitxDir(join(repo, 'witx'));
type Api = typeof import('../src/index.js');
let api: Api;
let dist: string;

beforeAll(async () => {
  dist = await compileSources();
  api = (await import(pathToFileURL(join(dist, 'index.js')).href)) as Api;
}, 180_000);

/** Serves `app` with a trace, runs `paths` one after another, and returns each request's trace. */
async function traced(app: string, paths: string[]): Promise<{ traces: HostcallTrace[]; statuses: number[] }> {
  const traces: HostcallTrace[] = [];
  const server = await api.createServer(c(app), { config: {}, maxWorkers: 1, traceHostcalls: (trace) => traces.push(trace), logger: { info() {}, error() {}, guestOutput() {} } });
  const statuses: number[] = [];
  try {
    for (const path of paths) {
      const res = await server.fetch(path);
      await res.arrayBuffer();
      statuses.push(res.status);
    }
    // A request's trace is handed over when the guest's run ends, which may follow its response.
    await vi.waitFor(() => expect(traces).toHaveLength(paths.length), { timeout: 5000, interval: 10 });
  } finally {
    await server.close();
  }
  return { traces, statuses };
}

describe('the traced adapter', () => {
  it('wraps every one of the 251 hostcall exports, and the untraced one imports no trace', async () => {
    const [plain, withTrace] = await Promise.all([buildAdapter('command', 'subscribe'), buildAdapter('command', 'subscribe', true)]);
    expect(plain.wat).not.toContain('witshim:adapter/trace');
    expect(withTrace.wat).toContain('(import "witshim:adapter/trace" "hostcall"');
    const names = hostcallNames(abi);
    expect(names).toHaveLength(251);
    for (const [id, name] of names.entries()) {
      expect(withTrace.wat, name).toContain(`(func (export ${JSON.stringify(name)})`);
      expect(withTrace.wat, name).toMatch(new RegExp(`\\(call \\$traced_${id}[ )]`));
    }
  }, 120_000);
});

describe('serving with the trace', { timeout: 60_000 }, () => {
  it('gives each request its hostcalls in order, with their statuses', async () => {
    const { traces } = await traced('hello', ['/', '/']);
    expect(traces).toHaveLength(2);
    expect(traces[0]!.request).toMatch(/^[0-9a-f]{32}$/);
    expect(traces[0]!.request).not.toBe(traces[1]!.request);
    for (const trace of traces) {
      expect(trace.calls).toEqual([
        { hostcall: 'fastly_http_resp#new', status: 'ok' },
        { hostcall: 'fastly_http_body#new', status: 'ok' },
        { hostcall: 'fastly_http_resp#status_set', status: 'ok' },
        { hostcall: 'fastly_http_resp#header_insert', status: 'ok' },
        { hostcall: 'fastly_http_body#write', status: 'ok' },
        { hostcall: 'fastly_http_resp#send_downstream', status: 'ok' },
      ]);
    }
  });

  it('records error statuses as the guest saw them', async () => {
    const { traces } = await traced('error-paths', ['/badf']);
    const calls = traces[0]!.calls;
    // The first two calls read the downstream request; then every handle-taking hostcall is badf.
    const probes = calls.filter((call) => call.status === 'badf');
    expect(probes.length).toBeGreaterThan(150);
    expect(probes.map((call) => call.hostcall)).toContain('fastly_async_io#is_ready');
    expect(calls.at(-1)).toEqual({ hostcall: 'fastly_http_resp#send_downstream', status: 'ok' });
  });

  it('keeps the calls of a guest that traps, up to the trap', async () => {
    const { traces, statuses } = await traced('faulty', ['/trap']);
    expect(statuses).toEqual([500]);
    expect(traces[0]!.calls.map((call) => call.hostcall)).toEqual(['fastly_http_req#body_downstream_get', 'fastly_http_req#uri_get', 'fastly_http_resp#new']);
  });

  it('`serve --trace-hostcalls` writes JSON lines to stderr; `=FILE` to the file', async () => {
    const file = join(dist, '..', `trace-${process.pid}.jsonl`);
    const bare = await startServe(dist, c('hello'), ['--trace-hostcalls']);
    const toFile = await startServe(dist, c('hello'), [`--trace-hostcalls=${file}`]);
    try {
      await (await fetch(`${bare.url}/`)).text();
      await (await fetch(`${toFile.url}/`)).text();
      const waitForLine = (read: () => string | undefined) =>
        vi.waitFor(
          () => {
            const found = read();
            if (found === undefined) throw new Error('no trace line yet');
            return found;
          },
          { timeout: 5000, interval: 10 },
        );
      const line = await waitForLine(() => bare.stderr.find((l) => l.startsWith('{')));
      expect(JSON.parse(line).calls).toHaveLength(6);
      // A line is whole once its newline is there.
      const first = await waitForLine(() => {
        const [written, rest] = readFileSync(file, 'utf8').split('\n');
        return rest === undefined ? undefined : written;
      });
      expect(JSON.parse(first).calls.at(-1)).toEqual({ hostcall: 'fastly_http_resp#send_downstream', status: 'ok' });
    } finally {
      await Promise.all([bare.stop(), toFile.stop()]);
    }
  });
});

describe('--trace-hostcalls on the command line', () => {
  it('takes a file only after `=`: a bare one before the app leaves the app alone', () => {
    expect(valuesAfterEquals(['serve', '--trace-hostcalls', 'app.wasm'])).toEqual(['serve', '--trace-hostcalls=', 'app.wasm']);
    expect(valuesAfterEquals(['serve', '--trace-hostcalls=t.jsonl', 'app.wasm'])).toEqual(['serve', '--trace-hostcalls=t.jsonl', 'app.wasm']);
  });
});
