import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readModuleInterface } from '../src/wasm/imports.js';
import { coreSignature, findWitxFunction, loadWitxDir, lowerFunction } from '../src/witx/index.js';
import { compileSources, startServe, type ServeProcess } from './fixtures/components/harness.js';
import { getWithInformational, rawExchange } from './support/raw-http.js';

/*
 * Platform parity through adapt + serve with a real legacy module (test/fixtures/c/parity.c,
 * committed build): legacy answers where the ABIs differ, IPv6 geolocation, bot detection,
 * request ids, informational responses and extension methods. The server listens on `::`, so
 * the same instance sees IPv4 (127.0.0.1) and IPv6 (::1) clients.
 */

const here = dirname(fileURLToPath(import.meta.url));
const guest = join(here, 'fixtures/c/parity.wasm');

let serve: ServeProcess;
let port: number;
let dist: string;
const v4 = (path: string) => `http://127.0.0.1:${port}${path}`;
const v6 = (path: string) => `http://[::1]:${port}${path}`;
const text = async (url: string, init?: RequestInit) => (await fetch(url, init)).text();

/** Resolves once serve's stderr has a matching line (it comes through a pipe, after the response). */
async function stderrLine(pattern: RegExp, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!serve.stderr.some((line) => pattern.test(line))) {
    if (Date.now() > deadline) throw new Error(`no stderr line matching ${pattern}:\n${serve.stderr.join('\n')}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'witshim-parity-'));
  const toml = join(dir, 'fastly.toml');
  // Geolocation keys written in several IPv6 forms; loopback keeps Fastly's default answer.
  writeFileSync(
    toml,
    `manifest_version = 3
[local_server.geolocation]
format = "inline-toml"
[local_server.geolocation.addresses."2001:DB8::1"]
as_name = "compressed"
[local_server.geolocation.addresses."2001:0db8:0000:0000:0000:0000:0000:0002"]
as_name = "expanded"
[local_server.geolocation.addresses."2001:db8:0:0:1::3"]
as_name = "shortened"
[local_server.geolocation.addresses."192.0.2.1"]
as_name = "four"
`,
  );
  dist = await compileSources();
  serve = await startServe(dist, guest, ['-C', toml, '--addr', '[::]:0']);
  port = Number(new URL(serve.url).port);
});

afterAll(async () => {
  await serve?.stop();
});

describe('the parity guest build', () => {
  it('imports each hostcall with the exact WITX-lowered signature', () => {
    const abi = loadWitxDir(join(here, '../witx'));
    const { imports } = readModuleInterface(readFileSync(guest));
    for (const imp of imports.filter((i) => i.module.startsWith('fastly_'))) {
      const fn = findWitxFunction(abi, imp.module, imp.name);
      expect(fn, `${imp.module}#${imp.name}`).toBeDefined();
      expect(imp.type, `${imp.module}#${imp.name}`).toEqual(coreSignature(lowerFunction(abi, fn!)));
    }
  });
});

describe('a legacy C guest sees legacy answers under witshim serve', { timeout: 20_000 }, () => {
  it('fingerprints the platform does not have are `none`, not errors', async () => {
    expect(await text(v4('/fingerprints'))).toBe('h2=10\noh=10\n');
  });

  it('geolocation by IPv6 address in any form, IPv4, and an address without data (empty success)', async () => {
    expect(await text(v4('/geo?ip=20010db8000000000000000000000001'))).toBe('geo=0 len=24 {"as_name":"compressed"}\n');
    expect(await text(v4('/geo?ip=20010db8000000000000000000000002'))).toBe('geo=0 len=22 {"as_name":"expanded"}\n');
    expect(await text(v4('/geo?ip=20010db8000000000001000000000003'))).toBe('geo=0 len=23 {"as_name":"shortened"}\n');
    expect(await text(v4('/geo?ip=c0000201'))).toBe('geo=0 len=18 {"as_name":"four"}\n');
    expect(await text(v4('/geo?ip=00000000'))).toBe('geo=0 len=0 \n');
    expect(await text(v4('/geo?ip=20010db8000000000000000000000009'))).toBe('geo=0 len=0 \n');
    // neither 4 nor 16 octets
    expect(await text(v4('/geo?ip=c000020101'))).toMatch(/^geo=2 /);
  });

  it("the client's own address, IPv6 or IPv4, is looked up (loopback: Fastly's default data)", async () => {
    const six = await text(v6('/client-geo'));
    expect(six).toMatch(/^client=0 bytes=16\ngeo=0 len=\d+ \{.*"city":"San Francisco"/);
    expect(await text(v4('/client-geo'))).toMatch(/^client=0 bytes=4\ngeo=0 len=\d+ \{.*"city":"San Francisco"/);
  });

  it('an absent header is `inval`; unknown dictionaries and config stores `badf`, secret stores `none`', async () => {
    expect(await text(v4('/header?name=x-absent'))).toBe('header=2\n');
    expect(await text(v4('/header?name=x-present'), { headers: { 'x-present': 'yes' } })).toBe('header=0:yes\n');
    expect(await text(v4('/stores'))).toBe('dictionary=3\nconfig_store=3\nsecret_store=10\n');
  });
});

describe('bot detection from X-Fastly-Bot-* request headers, as Viceroy', { timeout: 20_000 }, () => {
  it('without headers: not analyzed, not detected, the rest absent', async () => {
    expect(await text(v4('/bot'))).toBe('analyzed=0:0\ndetected=0:0\nname=10\ncategory4=10 needed=0\ncategory=10\nkind=10\nverified=10\n');
  });

  it('with headers: each answer, a too-small buffer is `buflen` with the size needed', async () => {
    const headers = {
      'x-fastly-bot-analyzed': 'true',
      'x-fastly-bot-detected': 'true',
      'x-fastly-bot-name': 'GoogleBot',
      'x-fastly-bot-category': 'Search-Engine-Crawler',
      'x-fastly-bot-verified': 'true',
    };
    expect(await text(v4('/bot'), { headers })).toBe(
      'analyzed=0:1\ndetected=0:1\nname=0:GoogleBot\ncategory4=4 needed=21\ncategory=0:Search-Engine-Crawler\nkind=0:11\nverified=0:1\n',
    );
  });

  it('category kinds: by number, `headless`, extra codes; a value naming none is `none`', async () => {
    const kind = async (category: string) => (await text(v4('/bot'), { headers: { 'x-fastly-bot-category': category } })).split('\n').find((l) => l.startsWith('kind='));
    expect(await kind('3')).toBe('kind=0:3');
    expect(await kind('platform-integration')).toBe('kind=0:9');
    expect(await kind('headless')).toBe('kind=0:14');
    expect(await kind('99')).toBe('kind=0:99');
    expect(await kind('bogus')).toBe('kind=10');
    // only exactly `true` is true
    expect(await text(v4('/bot'), { headers: { 'x-fastly-bot-analyzed': 'yes', 'x-fastly-bot-verified': 'false' } })).toMatch(/^analyzed=0:0\n[^]*verified=0:0\n$/);
  });
});

describe('request ids', { timeout: 20_000 }, () => {
  it('are 32 hex digits, the same in the access log', async () => {
    const body = await text(v4('/request-id'));
    const id = /^id=0:([0-9a-f]{32})\n$/.exec(body)?.[1];
    expect(id, body).toBeDefined();
    await serve.waitForLine(new RegExp(`^${id} "GET /request-id" 200 `), 10_000);
  });
});

describe('request ids under witshim run', { timeout: 60_000 }, () => {
  it("a legacy module's _start gets a 32-hex-digit id too", async () => {
    const launcher = join(dist, 'launch-main-parity.mjs');
    writeFileSync(launcher, `import { main } from ${JSON.stringify(pathToFileURL(join(dist, 'cli/main.js')).href)};\nprocess.exitCode = await main(process.argv.slice(2));\n`);
    const { stdout } = await promisify(execFile)(process.execPath, [launcher, 'run', guest], { env: { ...process.env, WITSHIM_CACHE_DIR: join(tmpdir(), 'witshim-parity-run-cache') } });
    expect(stdout).toMatch(/^request-id=0:[0-9a-f]{32}\n$/);
  });
});

describe('informational responses', { timeout: 20_000 }, () => {
  it('1xx responses reach the client with their headers, then the final response', async () => {
    const { informational, status, text: body } = await getWithInformational(v4('/early-hints'));
    expect(informational).toEqual([
      { status: 103, headers: { link: '</style.css>; rel=preload; as=style' } },
      { status: 103, headers: { link: '</app.js>; rel=preload; as=script' } },
    ]);
    expect([status, body]).toEqual([200, 'final\n']);
  });

  it('a guest that sends only a 1xx gets the usual 500', async () => {
    const { informational, status } = await getWithInformational(v4('/only-informational'));
    expect(informational.map((i) => i.status)).toEqual([103]);
    expect(status).toBe(500);
    await stderrLine(/guest finished without sending a response/);
  });

  it('an HTTP/1.0 client gets no 1xx, only the final response', async () => {
    const answer = await rawExchange(port, ['GET /early-hints HTTP/1.0\r\nHost: x\r\n\r\n']);
    expect(answer).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(answer).not.toContain('103');
  });
});

describe('extension methods', { timeout: 20_000 }, () => {
  const methodOf = async (method: string, extra = '') => {
    const answer = await rawExchange(port, [`${method} /m HTTP/1.1\r\nHost: x\r\n${extra}\r\n`]);
    return /\r\n\r\nmethod=(.*)\n$/.exec(answer)?.[1] ?? answer;
  };

  it('reach the guest exactly as sent, case and punctuation kept', async () => {
    expect(await methodOf('HELLO')).toBe('HELLO');
    expect(await methodOf('hello')).toBe('hello');
    expect(await methodOf("FOO!#$%&'*+-.^_`|~")).toBe("FOO!#$%&'*+-.^_`|~");
    expect(await methodOf('get')).toBe('get');
    await serve.waitForLine(/^[0-9a-f]{32} "hello \/m" 200 /, 10_000);
  });

  it('with a chunked body, a request line in pieces, and after a pipelined request', async () => {
    const chunked = await rawExchange(port, ['PURGEX /m HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n']);
    expect(chunked).toMatch(/^HTTP\/1\.1 200 OK\r\n[^]*connection: close\r\n[^]*method=PURGEX\n$/i);
    // The parser fails at the second L; the rest of the method comes later.
    expect(await rawExchange(port, ['HELL', 'O /m HTTP/1.1\r\nHo', 'st: x\r\n\r\n'])).toMatch(/method=HELLO\n$/);
    const pipelined = await rawExchange(port, ['GET /m HTTP/1.1\r\nHost: x\r\n\r\nBREW /m HTTP/1.1\r\nHost: x\r\n\r\n']);
    expect(pipelined.match(/method=\w+/g)).toEqual(['method=GET', 'method=BREW']);
  });

  it('a malformed request is answered 400 and logged, never dropped', async () => {
    const answer = await rawExchange(port, ['BAD(METHOD /m HTTP/1.1\r\nHost: x\r\n\r\n']);
    expect(answer).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    const garbage = await rawExchange(port, ['GET /m HTTP/1.1\r\nHost x\r\n\r\n']);
    expect(garbage).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    await serve.waitForLine(/^[0-9a-f]{32} "- -" 400 /, 10_000);
    await stderrLine(/malformed request from .*HPE_INVALID_METHOD.*answered 400/);
  });
});
