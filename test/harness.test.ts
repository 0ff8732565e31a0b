import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, resolveConfig } from '../src/api/config.js';
import { compileSources } from './fixtures/components/harness.js';

/*
 * The API's config sources, and witshim/test with C guests: in-process requests with streamed
 * bodies both ways, function backends, stores as objects, per-request lines. The harness runs
 * from compiled JS, as its workers do.
 */

const c = (name: string) => join(import.meta.dirname, 'fixtures/c', `${name}.wasm`);
type Testing = typeof import('../src/testing/index.js');
let testing: Testing;

beforeAll(async () => {
  testing = (await import(pathToFileURL(join(await compileSources(), 'testing/index.js')).href)) as Testing;
}, 180_000);

describe('config sources', () => {
  it('takes the [local_server] table as an object, relative files against baseDir', () => {
    const dir = mkdtempSync(join(tmpdir(), 'witshim-config-'));
    writeFileSync(join(dir, 'settings.json'), JSON.stringify({ mode: 'file' }));
    const warnings: string[] = [];
    const config = resolveConfig(
      {
        backends: { origin: { url: 'http://127.0.0.1:9000/base', override_host: 'example.com' } },
        config_stores: { inline: { format: 'inline-toml', contents: { mode: 'inline' } }, fromFile: { format: 'json', file: 'settings.json' } },
        secret_stores: { creds: [{ key: 'token', data: 's3cret' }] },
        kv_stores: { items: [{ key: 'a', data: 'one', metadata: 'm' }] },
        colour: 'blue',
      },
      { baseDir: dir, onWarning: (message) => warnings.push(message) },
    );
    expect(config.backends.origin).toMatchObject({ url: 'http://127.0.0.1:9000/base', overrideHost: 'example.com', dynamic: false });
    expect(config.configStores).toEqual({ inline: { mode: 'inline' }, fromFile: { mode: 'file' } });
    expect(new TextDecoder().decode(config.secretStores.creds!.token)).toBe('s3cret');
    expect(config.kvStores.items!.a!.metadata).toBe('m');
    expect(warnings).toEqual(['[local_server]: unknown key local_server.colour ignored']);
  });

  it('reports a bad object as a ConfigError naming where', () => {
    expect(() => resolveConfig({ backends: { origin: { url: 'ftp://x' } } }, { onWarning() {} })).toThrow(ConfigError);
    expect(() => resolveConfig({ backends: { origin: { url: 'ftp://x' } } }, { onWarning() {} })).toThrow('[local_server.backends.origin] url must be an http(s) URL, got ftp://x');
  });
});

describe('witshim/test', { timeout: 30_000 }, () => {
  it('streams the response while the guest still waits on a function backend', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const asked: string[] = [];
    const server = await testing.createTestServer(c('stream'), {
      backends: {
        origin: async (request) => {
          asked.push(new URL(request.url).pathname + new URL(request.url).search);
          await gate;
          return new Response('from the function\n');
        },
      },
    });
    try {
      const response = await server.fetch('/?ms=5');
      // The head arrived although the backend has not answered: the body streams.
      expect(response.status).toBe(200);
      const reader = response.body!.getReader();
      const decoder = new TextDecoder();
      let text = '';
      while (!text.includes('first\n')) text += decoder.decode((await reader.read()).value);
      expect(text).not.toContain('done');
      release();
      for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) text += decoder.decode(chunk.value);
      expect(text).toMatch(/^first\n(tick\n)*from the function\ndone\n$/);
      expect(asked).toEqual(['/delay?ms=5']);
    } finally {
      release();
      await server.close();
    }
  });

  it('sends a streamed request body in and echoes it back', async () => {
    const server = await testing.createTestServer(c('echo'));
    try {
      const body = new Uint8Array(1 << 20).map((_, index) => index % 251);
      const stream = new ReadableStream<Uint8Array>({
        start(controller) {
          for (let offset = 0; offset < body.length; offset += 64 * 1024) controller.enqueue(body.slice(offset, offset + 64 * 1024));
          controller.close();
        },
      });
      const response = await server.fetch('http://app.test/echo?x=1', { method: 'PUT', body: stream, headers: { 'x-custom': 'yes' }, duplex: 'half' } as RequestInit);
      expect(response.headers.get('x-echo-method')).toBe('PUT');
      expect(response.headers.get('x-echo-url')).toBe('http://app.test/echo?x=1');
      expect(response.headers.get('x-echo-h-x-custom')).toBe('yes');
      const echoed = Buffer.from(await response.arrayBuffer());
      // Compared as a whole: a deep equality over a million elements takes seconds.
      expect(echoed.length).toBe(body.length);
      expect(echoed.equals(body)).toBe(true);
    } finally {
      await server.close();
    }
  });

  it('serves stores given as objects and captures each request’s log lines', async () => {
    const server = await testing.createTestServer(c('stores'), {
      dictionaries: { words: { hello: 'world' } },
      secretStores: { vault: { key: new TextEncoder().encode('bytes!') } },
    });
    try {
      const word = await server.fetch('/?kind=dictionary&store=words&key=hello&log=lookups');
      expect(await word.text()).toBe('world');
      const secret = await server.fetch('/?kind=secret&store=vault&key=key&log=lookups');
      expect(await secret.text()).toBe('bytes!');
      const missing = await server.fetch('/?kind=dictionary&store=words&key=nope');
      expect(missing.status).toBe(404);
      await server.settled();
      expect(server.requests.map((request) => request.logs.length)).toEqual([1, 1, 0]);
      expect(server.logs('lookups')).toHaveLength(2);
      expect(server.requests.map((request) => request.status)).toEqual([200, 200, 404]);
      expect(server.stores.dictionary('words')).toEqual({ hello: 'world' });
    } finally {
      await server.close();
    }
  });

  it('answers from function backends over HTTP too, once listening', async () => {
    const server = await testing.createTestServer(c('proxy'), { backends: { origin: (request) => new Response(`function saw ${new URL(request.url).pathname}`) } });
    try {
      const url = await server.listen({ port: 0 });
      const response = await fetch(`${url}/over-http`);
      expect(await response.text()).toBe('function saw /over-http');
      expect(response.headers.get('x-proxied-by')).toBe('c-proxy');
    } finally {
      await server.close();
    }
  });

  it('fails a send to a function that returns no Response, with a line in errors', async () => {
    const server = await testing.createTestServer(c('proxy'), { backends: { origin: () => 'not a response' as unknown as Response } });
    try {
      const response = await server.fetch('/');
      expect(response.status).toBe(502);
      await server.settled();
      expect(server.lastRequest?.errors.join('\n')).toMatch(/backend function origin failed: it must return a Response/);
    } finally {
      await server.close();
    }
  });
});
