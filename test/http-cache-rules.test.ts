import { describe, expect, it } from 'vitest';
import {
  applyOverride,
  DEFAULT_TTL_SECONDS,
  freshenHeaders,
  freshnessSeconds,
  headersForClient,
  headersForStorage,
  initialAgeSeconds,
  isRequestCacheable,
  parseDirectives,
  storageAction,
  suggestedCacheKey,
  suggestWriteOptions,
  uncacheableReason,
  varySignature,
} from '../src/host/http-cache-rules.js';
import type { HeaderList } from '../src/host/protocol.js';

const h = (...pairs: Array<[string, string]>): HeaderList => pairs.map(([name, value]) => [name, new TextEncoder().encode(value)]);
const text = (list: HeaderList) => list.map(([name, value]) => `${name}: ${Buffer.from(value).toString('latin1')}`);
const NOW = Date.parse('2026-01-01T00:00:00Z');
const at = (offsetSeconds: number) => new Date(NOW + offsetSeconds * 1000).toUTCString();
const ok = (...pairs: Array<[string, string]>) => ({ status: 200, headers: h(...pairs) });

describe('request cacheability', () => {
  it('caches GET and HEAD only', () => {
    expect(['GET', 'HEAD', 'get', 'POST', 'PUT', 'DELETE', 'PURGE'].map((method) => isRequestCacheable({ method }))).toEqual([true, true, true, false, false, false, false]);
  });
});

describe('suggested cache key', () => {
  const key = (uri: string, ...headers: Array<[string, string]>) => Buffer.from(suggestedCacheKey({ method: 'GET', uri, headers: h(...headers) })).toString('hex');

  it('is 32 bytes, from the host and the path with query', () => {
    expect(suggestedCacheKey({ method: 'GET', uri: '/a', headers: [] })).toHaveLength(32);
    expect(key('http://example.com/a?b=1')).toBe(key('/a?b=1', ['host', 'example.com']));
    expect(key('/a?b=1', ['host', 'example.com'])).not.toBe(key('/a?b=2', ['host', 'example.com']));
    expect(key('/a', ['host', 'one.example'])).not.toBe(key('/a', ['host', 'two.example']));
  });

  it('ignores the method and other headers (HEAD shares GET\'s object)', () => {
    expect(Buffer.from(suggestedCacheKey({ method: 'HEAD', uri: '/x', headers: h(['host', 'h'], ['accept', 'a']) })).toString('hex')).toBe(key('/x', ['host', 'h']));
  });
});

describe('directive parsing', () => {
  it('reads names case-insensitively, values with or without quotes, first occurrence wins', () => {
    const parsed = parseDirectives(['Max-Age=10, no-cache="set-cookie, x"', 'max-age=20, private']);
    expect([...parsed]).toEqual([
      ['max-age', '10'],
      ['no-cache', 'set-cookie, x'],
      ['private', ''],
    ]);
  });
});

describe('freshness', () => {
  it('prefers Surrogate-Control max-age, then s-maxage, then max-age, then Expires', () => {
    const all: Array<[string, string]> = [
      ['surrogate-control', 'max-age=40'],
      ['cache-control', 'max-age=10, s-maxage=30'],
      ['expires', at(20)],
      ['date', at(0)],
    ];
    expect(freshnessSeconds(ok(...all), NOW)).toBe(40n);
    expect(freshnessSeconds(ok(...all.slice(1)), NOW)).toBe(30n);
    expect(freshnessSeconds(ok(['cache-control', 'max-age=10'], ...all.slice(2)), NOW)).toBe(10n);
    expect(freshnessSeconds(ok(...all.slice(2)), NOW)).toBe(20n);
  });

  it('measures Expires from Date, and takes an invalid or past Expires as already expired', () => {
    expect(freshnessSeconds(ok(['expires', at(100)], ['date', at(40)]), NOW)).toBe(60n);
    expect(freshnessSeconds(ok(['expires', '0']), NOW)).toBe(0n);
    expect(freshnessSeconds(ok(['expires', at(-5)]), NOW)).toBe(0n);
  });

  it('uses the readthrough default when nothing says, and 0 for no-cache', () => {
    expect(freshnessSeconds(ok(), NOW)).toBe(DEFAULT_TTL_SECONDS);
    expect(freshnessSeconds(ok(['cache-control', 'no-cache']), NOW)).toBe(0n);
    expect(freshnessSeconds(ok(['cache-control', 'no-cache, max-age=5']), NOW)).toBe(5n);
    expect(freshnessSeconds(ok(['cache-control', 'max-age=abc']), NOW)).toBe(DEFAULT_TTL_SECONDS);
  });
});

describe('initial age', () => {
  it('is the larger of Age and the time since Date', () => {
    expect(initialAgeSeconds(ok(['age', '7']), NOW)).toBe(7n);
    expect(initialAgeSeconds(ok(['date', at(-12)]), NOW)).toBe(12n);
    expect(initialAgeSeconds(ok(['age', '3'], ['date', at(-12)]), NOW)).toBe(12n);
    expect(initialAgeSeconds(ok(['date', at(30)]), NOW)).toBe(0n);
  });
});

describe('cacheability of responses', () => {
  it('caches the statuses Fastly caches by default, and no others', () => {
    const cached = [200, 203, 300, 301, 302, 404, 410];
    for (const status of [...cached, 201, 204, 206, 303, 307, 400, 403, 500, 503]) {
      expect(uncacheableReason({ status, headers: [] }) === undefined, `status ${status}`).toBe(cached.includes(status));
    }
  });

  it('does not store private, no-store (either header), Set-Cookie or Vary: *', () => {
    expect(uncacheableReason(ok(['cache-control', 'private, max-age=60']))).toBe('Cache-Control: private');
    expect(uncacheableReason(ok(['cache-control', 'no-store']))).toBe('no-store');
    expect(uncacheableReason(ok(['surrogate-control', 'no-store']))).toBe('no-store');
    expect(uncacheableReason(ok(['set-cookie', 'a=b']))).toBe('Set-Cookie');
    expect(uncacheableReason(ok(['vary', 'accept, *']))).toBe('Vary: *');
    expect(uncacheableReason(ok(['cache-control', 'public, max-age=60'], ['vary', 'accept']))).toBeUndefined();
  });

  it('stores an answer to an authorized request only when the response allows it', () => {
    const authorized = { headers: h(['authorization', 'Bearer x']) };
    expect(uncacheableReason(ok(['cache-control', 'max-age=60']), authorized)).toBe('Authorization on the request');
    expect(uncacheableReason(ok(['cache-control', 'public']), authorized)).toBeUndefined();
    expect(uncacheableReason(ok(['cache-control', 's-maxage=5']), authorized)).toBeUndefined();
  });
});

describe('suggested write options', () => {
  it('gathers every field from the headers', () => {
    const suggestion = suggestWriteOptions(
      ok(
        ['cache-control', 'max-age=10, stale-while-revalidate=5, stale-if-error=50'],
        ['surrogate-control', 'max-age=60, stale-while-revalidate=30'],
        ['age', '2'],
        ['vary', 'Accept-Encoding, accept-language'],
        ['vary', 'accept-encoding'],
        ['surrogate-key', 'a  b'],
        ['surrogate-key', 'c'],
        ['content-length', '11'],
      ),
      NOW,
    );
    expect(suggestion).toEqual({
      maxAgeNs: 60_000_000_000n,
      initialAgeNs: 2_000_000_000n,
      staleWhileRevalidateNs: 30_000_000_000n,
      staleIfErrorNs: 50_000_000_000n,
      varyRule: 'accept-encoding accept-language',
      surrogateKeys: 'a b c',
      length: 11n,
      sensitiveData: false,
    });
  });

  it('has no length for a chunked response, and zeros for absent extensions', () => {
    const suggestion = suggestWriteOptions(ok(['transfer-encoding', 'chunked'], ['content-length', '5']), NOW);
    expect([suggestion.length, suggestion.staleWhileRevalidateNs, suggestion.staleIfErrorNs, suggestion.varyRule, suggestion.surrogateKeys]).toEqual([undefined, 0n, 0n, '', '']);
  });
});

describe('cache override', () => {
  const suggestion = suggestWriteOptions(ok(['cache-control', 'max-age=10, stale-while-revalidate=1'], ['surrogate-key', 'a b']), NOW);
  it('ttl and swr replace the response\'s, pci marks the object sensitive, surrogate keys are added', () => {
    const applied = applyOverride(suggestion, { ttl: 99, staleWhileRevalidate: 7, pci: true, surrogateKey: 'b c' });
    expect([applied.maxAgeNs, applied.staleWhileRevalidateNs, applied.sensitiveData, applied.surrogateKeys]).toEqual([99n * 1_000_000_000n, 7n * 1_000_000_000n, true, 'a b c']);
  });
  it('leaves what it does not set, and an empty surrogate key adds nothing', () => {
    const applied = applyOverride(suggestion, { pci: false, surrogateKey: '' });
    expect(applied).toEqual(suggestion);
    expect(applyOverride(suggestion, undefined)).toBe(suggestion);
  });
});

describe('storage action', () => {
  const request = { headers: [] };
  it('updates on a 304 when something is stored, else stores nothing', () => {
    expect(storageAction({ status: 304, headers: [] }, request, true)).toBe('update');
    expect(storageAction({ status: 304, headers: [] }, request, false)).toBe('do-not-store');
  });
  it('inserts cacheable responses and records uncacheable ones, but neither for server errors', () => {
    expect(storageAction(ok(['cache-control', 'max-age=1']), request, true)).toBe('insert');
    expect(storageAction(ok(['cache-control', 'private']), request, false)).toBe('record-uncacheable');
    expect(storageAction({ status: 201, headers: [] }, request, false)).toBe('record-uncacheable');
    expect(storageAction({ status: 503, headers: [] }, request, true)).toBe('do-not-store');
  });
});

describe('stored and delivered headers', () => {
  it('drops hop-by-hop headers and Surrogate-Control for storage, keeps the rest', () => {
    const stored = headersForStorage(h(['connection', 'close'], ['transfer-encoding', 'chunked'], ['surrogate-control', 'max-age=9'], ['surrogate-key', 'k'], ['etag', '"1"']));
    expect(text(stored)).toEqual(['surrogate-key: k', 'etag: "1"']);
  });

  it('freshens stored headers with a 304\'s, keeping the stored framing', () => {
    const stored = h(['etag', '"1"'], ['content-length', '5'], ['cache-control', 'max-age=1'], ['x-old', 'o']);
    const merged = freshenHeaders(stored, h(['etag', '"2"'], ['cache-control', 'max-age=9'], ['content-length', '0'], ['connection', 'close']));
    expect(text(merged)).toEqual(['content-length: 5', 'x-old: o', 'etag: "2"', 'cache-control: max-age=9']);
  });

  it('sets Age in whole seconds for the client, replacing the stored one', () => {
    expect(text(headersForClient(h(['age', '1'], ['etag', 'x']), 4_900_000_000n))).toEqual(['etag: x', 'age: 4']);
  });

  it('matches variants on the Vary rule\'s request headers only', () => {
    const rule = 'accept-encoding';
    expect(varySignature(rule, h(['accept-encoding', 'gzip'], ['x', '1']))).toBe(varySignature(rule, h(['accept-encoding', 'gzip'])));
    expect(varySignature(rule, h(['accept-encoding', 'gzip']))).not.toBe(varySignature(rule, h(['accept-encoding', 'br'])));
    expect(varySignature('', h(['accept-encoding', 'gzip']))).toBe('');
  });
});
