import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileSources, startServe, type ServeProcess } from './fixtures/components/harness.js';
import { buildJsApp } from './support/js-app.js';
import { getWithInformational, rawExchange } from './support/raw-http.js';

/*
 * The SDK side of platform parity: a js-compute app (test/fixtures/js-apps/parity.js, built by
 * the installed runtime into a legacy module) under `witshim serve` on `::`, so it sees IPv4
 * and IPv6 clients alike.
 */

const here = dirname(fileURLToPath(import.meta.url));

let serve: ServeProcess;
let port: number;
const v4 = (path: string) => `http://127.0.0.1:${port}${path}`;
const v6 = (path: string) => `http://[::1]:${port}${path}`;
const json = async (url: string) => (await fetch(url)).json();

beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'witshim-parity-js-'));
  const toml = join(dir, 'fastly.toml');
  writeFileSync(
    toml,
    `manifest_version = 3
[local_server.geolocation]
format = "inline-toml"
[local_server.geolocation.addresses."2001:DB8::1"]
as_name = "compressed"
[local_server.geolocation.addresses."2001:0db8:0000:0000:0000:0000:0000:0002"]
as_name = "expanded"
[local_server.geolocation.addresses."192.0.2.1"]
as_name = "four"
`,
  );
  const [dist, app] = await Promise.all([compileSources(), buildJsApp(join(here, 'fixtures/js-apps/parity.js'))]);
  serve = await startServe(dist, app, ['-C', toml, '--addr', '[::]:0']);
  port = Number(new URL(serve.url).port);
});

afterAll(async () => {
  await serve?.stop();
});

describe('a js-compute app under witshim serve, where the ABIs differ', { timeout: 20_000 }, () => {
  it('h2/OH fingerprints the platform does not have are null, not a thrown error', async () => {
    expect(await json(v4('/fingerprints'))).toEqual({ value: { h2: null, oh: null } });
  });

  it('getGeolocationForIpAddress: IPv6 in compressed, shortened and expanded forms; IPv4; null without data', async () => {
    const geo = async (ip: string) => json(v4(`/geo?ip=${encodeURIComponent(ip)}`));
    expect(await geo('2001:db8::1')).toMatchObject({ value: { as_name: 'compressed' } });
    expect(await geo('2001:db8:0:0::1')).toMatchObject({ value: { as_name: 'compressed' } });
    expect(await geo('2001:0db8:0000:0000:0000:0000:0000:0001')).toMatchObject({ value: { as_name: 'compressed' } });
    expect(await geo('2001:db8::2')).toMatchObject({ value: { as_name: 'expanded' } });
    expect(await geo('192.0.2.1')).toMatchObject({ value: { as_name: 'four' } });
    expect(await geo('0.0.0.0')).toEqual({ value: null });
    expect(await geo('2001:db8::9')).toEqual({ value: null });
  });

  it("event.client.geo for an IPv6 client (loopback: Fastly's default data)", async () => {
    const six = (await json(v6('/client-geo'))) as { value: { address: string; geo: { city: string } } };
    expect(six.value.address).toBe('::1');
    expect(six.value.geo.city).toBe('San Francisco');
    const four = (await json(v4('/client-geo'))) as { value: { address: string } };
    expect(four.value.address).toBe('127.0.0.1');
  });

  it('event.client.requestId is 32 hex digits', async () => {
    expect(await json(v4('/request-id'))).toEqual({ value: expect.stringMatching(/^[0-9a-f]{32}$/) });
  });

  it('sendEarlyHints: the client gets the 103 with its headers, then the final response', async () => {
    const { informational, status, text } = await getWithInformational(v4('/early-hints'));
    expect(informational).toEqual([{ status: 103, headers: { link: '</style.css>; rel=preload; as=style', 'x-hint': 'early' } }]);
    expect([status, text]).toEqual([200, 'final']);
  });

  it('respondWith a 103 alone: the 103, then a 500', async () => {
    const { informational, status } = await getWithInformational(v4('/only-103'));
    expect(informational).toEqual([{ status: 103, headers: { link: '</a.js>; rel=preload' } }]);
    expect(status).toBe(500);
  });

  it('extension methods reach the app as sent', async () => {
    for (const method of ['HELLO', 'hello', "FOO!#$%&'*+-.^_`|~"]) {
      const answer = await rawExchange(port, [`${method} /method HTTP/1.1\r\nHost: x\r\n\r\n`]);
      expect(answer).toMatch(new RegExp(`\\r\\n\\r\\nmethod=${method.replace(/[$^.*+|\\]/g, '\\$&')}$`));
    }
  });
});
