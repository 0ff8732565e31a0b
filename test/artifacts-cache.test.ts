import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';

const adapterInputs = vi.hoisted(() => ({ hash: 'first' }));
vi.mock('../src/adapter/build.js', async (original) => ({
  ...(await original<typeof import('../src/adapter/build.js')>()),
  inputsHash: () => adapterInputs.hash,
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
