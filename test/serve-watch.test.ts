import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileSources, startServe, type ServeProcess } from './fixtures/components/harness.js';

const scratch = mkdtempSync(join(tmpdir(), 'witshim-watch-'));
let dist: string;

beforeAll(async () => {
  dist = await compileSources();
}, 180_000);

afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const toml = (greeting: string) => `[local_server.dictionaries.words]\nformat = "inline-toml"\n[local_server.dictionaries.words.contents]\nhello = "${greeting}"\n`;

describe('serve --watch', { timeout: 60_000 }, () => {
  it('re-reads the fastly.toml it found beside the app (no -C) when that changes', async () => {
    const app = join(scratch, 'stores.wasm');
    copyFileSync(join(import.meta.dirname, 'fixtures/c/stores.wasm'), app);
    writeFileSync(join(scratch, 'fastly.toml'), toml('before'));
    let serve: ServeProcess | undefined;
    try {
      serve = await startServe(dist, app, ['--watch']);
      const lookup = async () => (await fetch(`${serve!.url}/?kind=dictionary&store=words&key=hello`)).text();
      expect(await lookup()).toBe('before');
      writeFileSync(join(scratch, 'fastly.toml'), toml('after'));
      await serve.waitForLine(/^Reloaded in \d+ms$/, 30_000);
      expect(await lookup()).toBe('after');
    } finally {
      await serve?.stop();
    }
  });
});
