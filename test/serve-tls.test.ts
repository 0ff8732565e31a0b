import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { selfSignedLocalhost } from '../src/server/tls.js';
import { compileSources, startServe, type ServeProcess } from './fixtures/components/harness.js';
import { buildJsApp } from './support/js-app.js';

const fixtures = join(import.meta.dirname, 'fixtures');
const pem = (name: string) => readFileSync(join(fixtures, 'tls', name), 'utf8');
const scratch = mkdtempSync(join(tmpdir(), 'witshim-tls-'));

type Api = typeof import('../src/index.js');
let api: Api;
let dist: string;
let tlsApp: string;

beforeAll(async () => {
  [dist, tlsApp] = await Promise.all([compileSources(), buildJsApp(join(fixtures, 'js-apps/tls.js'))]);
  api = (await import(pathToFileURL(join(dist, 'index.js')).href)) as Api;
}, 180_000);

afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** GET over HTTPS; resolves with the status, body and the certificate the server presented. */
function get(url: string, options: https.RequestOptions = {}): Promise<{ status: number; body: string; serverCert: X509Certificate | undefined }> {
  return new Promise((resolve, reject) => {
    https
      .get(url, options, (res) => {
        const serverCert = (res.socket as TLSSocket).getPeerX509Certificate();
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, serverCert }));
      })
      .on('error', reject);
  });
}

describe('serving over TLS', { timeout: 60_000 }, () => {
  it('the guest sees the TLS protocol, cipher and the client certificate, as on the platform', async () => {
    const server = await api.createServer(tlsApp, { config: {}, logger: { info() {} } });
    try {
      const url = await server.listen({ port: 0, tls: { cert: pem('server.crt'), key: pem('server.key'), ca: pem('ca.crt') } });
      expect(url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
      const withCert = await get(`${url}/who`, { ca: pem('ca.crt'), cert: pem('client.crt'), key: pem('client.key') });
      expect(withCert.status).toBe(200);
      const seen = JSON.parse(withCert.body) as { url: string; protocol: string; cipher: string; clientCertificate: string };
      expect(seen.url).toBe(`${url}/who`);
      expect(seen.protocol).toBe('TLSv1.3');
      expect(seen.cipher).toMatch(/^TLS_(AES|CHACHA20)_\w+$/);
      expect(new X509Certificate(seen.clientCertificate).subject).toBe('CN=witshim test client');

      // No client certificate: TLS facts, and an empty certificate (js-compute: an empty ArrayBuffer).
      const without = JSON.parse((await get(`${url}/`, { ca: pem('ca.crt') })).body) as { protocol: string; clientCertificate: string };
      expect(without.protocol).toBe('TLSv1.3');
      expect(without.clientCertificate).toBe('');
    } finally {
      await server.close();
    }
  });

  it('over plain HTTP the guest sees no TLS facts', async () => {
    const server = await api.createServer(tlsApp, { config: {}, logger: { info() {} } });
    try {
      const seen = (await (await server.fetch('/')).json()) as Record<string, unknown>;
      expect(seen).toEqual({ url: 'http://localhost/', protocol: null, cipher: null, clientCertificate: null });
    } finally {
      await server.close();
    }
  });

  it('makes a self-signed certificate for localhost once, and reuses it', async () => {
    const first = await selfSignedLocalhost(scratch);
    const cert = new X509Certificate(first.cert);
    expect(cert.subject).toBe('CN=localhost');
    expect(cert.subjectAltName).toMatch(/DNS:localhost/);
    expect(cert.subjectAltName).toMatch(/IP Address:127\.0\.0\.1/);
    expect(cert.checkPrivateKey((await import('node:crypto')).createPrivateKey(first.key))).toBe(true);
    expect(Date.parse(cert.validTo) - Date.now()).toBeGreaterThan(20 * 24 * 3600 * 1000);
    expect(await selfSignedLocalhost(scratch)).toEqual(first);
  });

  it('`serve --https` answers over TLS with a certificate for localhost', async () => {
    let serve: ServeProcess | undefined;
    try {
      // The serve harness's shared cache: the app is adapted already, and the certificate is kept there.
      serve = await startServe(dist, join(fixtures, 'c/hello.wasm'), ['--https']);
      expect(serve.url).toMatch(/^https:\/\//);
      const answer = await get(`${serve.url}/`, { rejectUnauthorized: false });
      expect(answer).toMatchObject({ status: 200, body: 'hello from C' });
      expect(answer.serverCert?.subject).toBe('CN=localhost');
      // The certificate it made is the one it serves, and trusting it is enough.
      const made = readFileSync(join(import.meta.dirname, '../node_modules/.cache/witshim/test/artifacts/tls/localhost.crt'), 'utf8');
      expect((await get(`${serve.url}/`, { ca: made, servername: 'localhost' })).status).toBe(200);
    } finally {
      await serve?.stop();
    }
  });

  it('refuses bad TLS flags with one line and exit 2, before loading the app', async () => {
    const { main } = (await import(pathToFileURL(join(dist, 'cli/main.js')).href)) as typeof import('../src/cli/main.js');
    const serve = async (...flags: string[]) => {
      const written: string[] = [];
      const original = process.stderr.write.bind(process.stderr);
      process.stderr.write = ((chunk: string) => (written.push(String(chunk)), true)) as typeof process.stderr.write;
      try {
        // A file that is not wasm: reaching the app would be a different error.
        return { code: await main(['serve', join(fixtures, 'tls/ca.crt'), '--addr', '127.0.0.1:0', ...flags]), stderr: written.join('') };
      } finally {
        process.stderr.write = original;
      }
    };
    const tls = (name: string) => join(fixtures, 'tls', name);
    expect(await serve('--tls-cert', tls('server.crt'))).toEqual({ code: 2, stderr: 'witshim: --tls-cert and --tls-key go together\n' });
    expect(await serve('--tls-cert', tls('server.crt'), '--tls-key', tls('client.key'))).toEqual({ code: 2, stderr: expect.stringMatching(/^witshim: bad --tls-cert \/ --tls-key: .*key values mismatch\n$/) });
    expect(await serve('--tls-cert', tls('ca.crt'), '--tls-key', tls('ca.crt'))).toEqual({ code: 2, stderr: expect.stringMatching(/^witshim: bad --tls-cert \/ --tls-key: [^\n]*\n$/) });
    expect(await serve('--tls-cert', tls('missing.crt'), '--tls-key', tls('server.key'))).toEqual({ code: 2, stderr: expect.stringMatching(/^witshim: cannot read --tls-cert .*missing\.crt: ENOENT\n$/) });
  });
});
