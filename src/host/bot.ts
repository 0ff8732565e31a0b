import type { HeaderList } from './protocol.js';

/**
 * Bot detection as Viceroy simulates it locally: request headers stand for the platform's
 * verdict, so an app's bot handling can be tried by sending them.
 * - `x-fastly-bot-analyzed`, `x-fastly-bot-detected`: the bool is whether the value is exactly `true`;
 * - `x-fastly-bot-name`, `x-fastly-bot-category`: the text, absent without the header;
 * - `x-fastly-bot-category` also names the category kind: a case name or its number
 *   (case-insensitive, `headless` = 14); numbers beyond the named cases are extra categories;
 * - `x-fastly-bot-verified`: as the bools, but absent without the header. (Viceroy's component
 *   side reads `x-fastly-bot-analyzed` here, a slip its legacy side does not make.)
 */
export const BOT_HEADERS = {
  analyzed: 'x-fastly-bot-analyzed',
  detected: 'x-fastly-bot-detected',
  name: 'x-fastly-bot-name',
  category: 'x-fastly-bot-category',
  verified: 'x-fastly-bot-verified',
} as const;

/** The WIT `bot-category` cases in order: a case's index is its code. */
export const BOT_CATEGORY_CASES = [
  'none',
  'suspected',
  'accessibility',
  'ai-crawler',
  'ai-fetcher',
  'content-fetcher',
  'monitoring-site-tools',
  'online-marketing',
  'page-preview',
  'platform-integrations',
  'research',
  'search-engine-crawler',
  'search-engine-optimization',
  'security-tools',
] as const;

/** Header spellings of categories, where they differ from the WIT case name or have no case. */
const CATEGORY_ALIASES: Readonly<Record<string, number>> = { 'platform-integration': 9, headless: 14 };

export type BotCategoryKind = { kind: 'case'; tag: (typeof BOT_CATEGORY_CASES)[number] } | { kind: 'extra'; raw: number };

/** The first value of `name`, if it is text a header may hold (visible ASCII, space, tab). */
export function headerString(headers: HeaderList, name: string): string | undefined {
  const found = headers.find(([n]) => n === name);
  if (!found) return undefined;
  const bytes = found[1];
  for (const byte of bytes) if (byte !== 0x09 && (byte < 0x20 || byte > 0x7e)) return undefined;
  return String.fromCharCode(...bytes);
}

export function headerIsTrue(headers: HeaderList, name: string): boolean | undefined {
  const value = headerString(headers, name);
  return value === undefined ? undefined : value === 'true';
}

/** `undefined`: no header; `null`: a value naming no category (neither a case nor a number). */
export function botCategoryKind(text: string | undefined): BotCategoryKind | null | undefined {
  if (text === undefined) return undefined;
  const lower = text.toLowerCase();
  const named = BOT_CATEGORY_CASES.indexOf(lower as (typeof BOT_CATEGORY_CASES)[number]);
  const code = named >= 0 ? named : (CATEGORY_ALIASES[lower] ?? (/^\+?\d+$/.test(lower) ? Number(lower) : undefined));
  if (code === undefined || code > 0xffff_ffff) return null;
  return code < BOT_CATEGORY_CASES.length ? { kind: 'case', tag: BOT_CATEGORY_CASES[code]! } : { kind: 'extra', raw: code };
}
