import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';

const adapterInputs = vi.hoisted(() => ({ hash: 'first' }));
vi.mock('../src/adapter/inputs.js', async (original) => ({
  ...(await original<typeof import('../src/adapter/inputs.js')>()),
  adaptersKey: () => [adapterInputs.hash],
}));

const { prepareGuest } = await import('../src/server/artifacts.js');

// Regression: adapted modules were cached by module bytes and package version only, so after a
// mapping change `witshim serve` kept running the module adapted by the old adapter.
describe('the adapted-module cache', () => {
  it('is keyed by the adapter inputs as well as the module', async () => {
    const root = mkdtempSync(join(tmpdir(), 'witshim-artifacts-'));
    const module = readFileSync(join(import.meta.dirname, 'fixtures/c/hello.wasm'));
    await prepareGuest(module, root);
    await prepareGuest(module, root);
    expect(readdirSync(join(root, 'adapted'))).toHaveLength(1);
    adapterInputs.hash = 'second';
    await prepareGuest(module, root);
    expect(readdirSync(join(root, 'adapted'))).toHaveLength(2);
  });
});

// A rebuilt app (new code and data, same imports and exports) skips adapt and transpile: the glue
// and adapter modules of its shape serve it, with its own module in place of the old one.
describe('the shape cache', () => {
  it('serves a never-seen module of a known shape without adapting it, running its own code', async () => {
    const { createRunner } = await import('../src/host/runner.js');
    const { emptyHostConfig } = await import('../src/host/config.js');
    const root = mkdtempSync(join(tmpdir(), 'witshim-artifacts-'));
    const hello = readFileSync(join(import.meta.dirname, 'fixtures/c/hello.wasm'));
    // The same module with other data: its answer reads "jello" (the shape is unchanged).
    const rebuilt = Buffer.from(hello);
    const at = rebuilt.indexOf('hello from C');
    expect(at).toBeGreaterThan(0);
    rebuilt[at] = 'j'.charCodeAt(0);
    await prepareGuest(hello, root);
    expect(readdirSync(join(root, 'adapted'))).toHaveLength(1);
    expect(readdirSync(join(root, 'shapes'))).toHaveLength(1);
    const artifacts = await prepareGuest(new Uint8Array(rebuilt), root);
    // Neither adapted nor transpiled again.
    expect(readdirSync(join(root, 'adapted'))).toHaveLength(1);
    expect(readdirSync(join(root, 'transpiled'))).toHaveLength(1);
    const { instantiate } = (await import(artifacts.guestModule)) as { instantiate: Parameters<typeof createRunner>[0]['instantiate'] };
    const notices: unknown[] = [];
    const channel = { call: () => ({ op: 'read', end: true }), notify: (notice: unknown) => notices.push(notice), post() {} };
    const runner = createRunner({ instantiate, modules: artifacts, config: emptyHostConfig(), channel: channel as never });
    const downstream = { id: 'x', method: 'GET', uri: 'http://localhost/', version: 'http11' as const, headers: [], originalHeaderNames: [], body: 1, knownLength: 0n };
    expect(runner.run({ kind: 'run', request: downstream, env: {} }).outcome).toBe('ok');
    const respond = notices.find((notice) => (notice as { op: string }).op === 'respond') as { body: { segments: Uint8Array[] } };
    expect(Buffer.concat(respond.body.segments).toString()).toBe('jello from C');
  });
});
