/**
 * Vary rules of the core cache: a write names request headers (`vary-rule`, whitespace
 * separated) whose values tell apart objects stored under the same key. A lookup matches an
 * object when its request carries the same values for those headers as the request that
 * inserted it (a missing header matches only a missing header).
 */
import type { HeaderList } from '../../../host/protocol.js';

const latin1 = new TextDecoder('latin1');

/**
 * The platform's limit on header names in one vary rule (Fastly's Compute resource limits
 * list 8 Vary rules); more is refused rather than silently truncated.
 */
export const MAX_VARY_HEADERS = 8;

/** A parsed vary rule: header names, lower-cased, sorted and without repeats (so equal rules compare equal). */
export class VaryRule {
  readonly id: string;

  private constructor(readonly names: readonly string[]) {
    this.id = names.join(' ');
  }

  static readonly none = new VaryRule([]);

  /** `undefined` when the rule is malformed (an invalid header name) or names too many headers. */
  static parse(text: string | undefined): VaryRule | undefined {
    if (text === undefined) return VaryRule.none;
    const names = [...new Set(text.split(/[\s,]+/).filter((name) => name.length > 0).map((name) => name.toLowerCase()))].sort();
    if (names.length > MAX_VARY_HEADERS) return undefined;
    if (!names.every((name) => /^[!#$%&'*+\-.^_`|~0-9a-z]+$/.test(name))) return undefined;
    return new VaryRule(names);
  }

  /** The variant of a request under this rule: the rule and the values of its headers. */
  variant(headers: HeaderList): string {
    if (this.names.length === 0) return '';
    const values = this.names.map((name) =>
      headers
        .filter(([header]) => header.toLowerCase() === name)
        .map(([, value]) => latin1.decode(value))
        .join('\n'),
    );
    const present = this.names.map((name) => headers.some(([header]) => header.toLowerCase() === name));
    return JSON.stringify([this.id, values, present]);
  }
}
