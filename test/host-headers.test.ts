import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeWithCursor, Headers } from '../src/host/headers.js';
import { payload } from './support/host-error.js';

const bytes = (text: string) => new TextEncoder().encode(text);
const str = (data: Uint8Array) => Buffer.from(data).toString('latin1');

describe('cursor encoding of multi-value results', () => {
  it('packs NUL-terminated items and says where to continue', () => {
    const items = ['a', 'bb', 'ccc'].map(bytes);
    expect(encodeWithCursor(items, 100n, 0).map((part) => (part instanceof Uint8Array ? str(part) : part))).toEqual(['a\0bb\0ccc\0', undefined]);
    // 'a\0bb\0' is 5 bytes; 'ccc\0' would make 9.
    const [first, next] = encodeWithCursor(items, 8n, 0);
    expect([str(first), next]).toEqual(['a\0bb\0', 2]);
    const [rest, end] = encodeWithCursor(items, 8n, next!);
    expect([str(rest), end]).toEqual(['ccc\0', undefined]);
  });

  it('answers buffer-len with the size of the next item when not even one fits', () => {
    expect(payload(() => encodeWithCursor([bytes('long-value')], 5n, 0))).toEqual({ tag: 'buffer-len', val: 11n });
  });

  it('returns nothing past the end', () => {
    const [data, next] = encodeWithCursor([bytes('a')], 10n, 1);
    expect([data.length, next]).toEqual([0, undefined]);
  });

  it('reassembles every list exactly, whatever the buffer size (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ minLength: 0, maxLength: 12 }).map((a) => a.map((b) => b || 1)), { maxLength: 12 }), fc.integer({ min: 13, max: 64 }), (items, max) => {
        const out: number[] = [];
        let cursor: number | undefined = 0;
        let calls = 0;
        while (cursor !== undefined) {
          const [data, next]: [Uint8Array, number | undefined] = encodeWithCursor(items, BigInt(max), cursor);
          expect(data.length).toBeLessThanOrEqual(max);
          out.push(...data);
          if (next !== undefined) expect(next).toBeGreaterThan(cursor);
          cursor = next;
          if (++calls > 100) throw new Error('no progress');
        }
        expect(out).toEqual(items.flatMap((item) => [...item, 0]));
      }),
    );
  });
});

describe('header multimap', () => {
  it('keeps order and lower-cases names; insert replaces all values in place', () => {
    const headers = new Headers([
      ['Accept', bytes('a')],
      ['X-Multi', bytes('1')],
      ['x-multi', bytes('2')],
    ]);
    expect(headers.names()).toEqual(['accept', 'x-multi']);
    expect(headers.values('X-MULTI').map(str)).toEqual(['1', '2']);
    headers.insert('x-multi', bytes('only'));
    headers.append('accept', bytes('b'));
    expect(headers.list().map(([name, value]) => `${name}=${str(value)}`)).toEqual(['accept=a', 'x-multi=only', 'accept=b']);
  });

  it('encodes names and values with cursors the way the getters return them', () => {
    const headers = new Headers([
      ['a', bytes('1')],
      ['b', bytes('2')],
      ['b', bytes('3')],
    ]);
    expect(headers.getNames(100n, 0)).toEqual(['a\0b\0', undefined]);
    expect(headers.getNames(2n, 0)).toEqual(['a\0', 1]);
    const [values, next] = headers.getValues('B', 100n, 0);
    expect([str(values), next]).toEqual(['2\x003\0', undefined]);
    expect(headers.getValue('b', 100n)).toEqual(bytes('2'));
    expect(headers.getValue('missing', 100n)).toBeUndefined();
    expect(payload(() => headers.getValue('a', 0n))).toEqual({ tag: 'buffer-len', val: 1n });
  });

  it('set-header-values splits a NUL-separated list and replaces what was there', () => {
    const headers = new Headers([['x', bytes('old')]]);
    headers.setPacked('x', bytes('one\0two\0'));
    expect(headers.values('x').map(str)).toEqual(['one', 'two']);
    headers.setPacked('x', bytes('three'));
    expect(headers.values('x').map(str)).toEqual(['three']);
  });

  it('rejects invalid names and values; removing a missing header is an error', () => {
    const headers = new Headers();
    expect(payload(() => headers.insert('bad name', bytes('v')))).toEqual({ tag: 'invalid-argument' });
    expect(payload(() => headers.append('x', bytes('line\r\nbreak')))).toEqual({ tag: 'invalid-argument' });
    expect(payload(() => headers.remove('absent'))).toEqual({ tag: 'invalid-argument' });
  });
});
