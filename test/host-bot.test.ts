import { describe, expect, it } from 'vitest';
import { BOT_CATEGORY_CASES, botCategoryKind, headerIsTrue, headerString } from '../src/host/bot.js';
import type { HeaderList } from '../src/host/protocol.js';

const headers = (pairs: Array<[string, string | number[]]>): HeaderList =>
  pairs.map(([name, value]) => [name, typeof value === 'string' ? new TextEncoder().encode(value) : new Uint8Array(value)]);

describe("bot detection headers (Viceroy's local convention)", () => {
  it('bools are true only for exactly `true`; absent is undefined', () => {
    const list = headers([['x-fastly-bot-analyzed', 'true'], ['x-fastly-bot-detected', 'TRUE'], ['x-fastly-bot-verified', 'true']]);
    expect(headerIsTrue(list, 'x-fastly-bot-analyzed')).toBe(true);
    expect(headerIsTrue(list, 'x-fastly-bot-detected')).toBe(false);
    expect(headerIsTrue(list, 'x-fastly-bot-name')).toBeUndefined();
  });

  it('text is the first value, and only text a header may hold', () => {
    expect(headerString(headers([['x-fastly-bot-name', 'A\tb'], ['x-fastly-bot-name', 'second']]), 'x-fastly-bot-name')).toBe('A\tb');
    expect(headerString(headers([['x-fastly-bot-name', [0x41, 0xe9]]]), 'x-fastly-bot-name')).toBeUndefined();
  });

  it('category kinds: every case by name (any case) and by number, aliases, extra codes, and values naming none', () => {
    BOT_CATEGORY_CASES.forEach((tag, index) => {
      expect(botCategoryKind(tag.toUpperCase())).toEqual({ kind: 'case', tag });
      expect(botCategoryKind(String(index))).toEqual({ kind: 'case', tag });
    });
    expect(botCategoryKind('platform-integration')).toEqual({ kind: 'case', tag: 'platform-integrations' });
    expect(botCategoryKind('Headless')).toEqual({ kind: 'extra', raw: 14 });
    expect(botCategoryKind('4000000000')).toEqual({ kind: 'extra', raw: 4_000_000_000 });
    expect(botCategoryKind(undefined)).toBeUndefined();
    for (const bad of ['bogus', '-1', '1.5', '', '99999999999']) expect(botCategoryKind(bad)).toBeNull();
  });
});
