export type TokenKind =
  | 'id' // kebab-case name; `%name` is an explicit (keyword-escaping) id
  | 'version' // anything starting with a digit: `0.2.6`, `1.0.0-rc.1`
  | 'punct'
  | 'eof';

export interface Token {
  kind: TokenKind;
  text: string;
  /** Set on ids written with a leading `%`, which are never keywords. */
  explicit?: boolean;
  /**
   * Doc comment lines written just before this token. Docs are attached to
   * tokens rather than being tokens so that a doc comment in a place that
   * takes none (before a parameter, say) is simply ignored, as wit-parser does.
   */
  docs?: string[];
  line: number;
  col: number;
}

export class WitSyntaxError extends Error {
  constructor(
    readonly file: string,
    readonly line: number,
    readonly col: number,
    message: string,
  ) {
    super(`${file}:${line}:${col}: ${message}`);
    this.name = 'WitSyntaxError';
  }
}

const PUNCT2 = ['->'];
const PUNCT1 = '{}()<>,;:=./@_';

const isIdStart = (c: string) => /[A-Za-z]/.test(c);
const isIdChar = (c: string) => /[A-Za-z0-9-]/.test(c);
const isVersionChar = (c: string) => /[0-9A-Za-z+-]/.test(c);

export function tokenize(source: string, file: string): Token[] {
  const tokens: Token[] = [];
  let docs: string[] = [];
  let i = 0;
  let line = 1;
  let lineStart = 0;
  const fail = (msg: string): never => {
    throw new WitSyntaxError(file, line, i - lineStart + 1, msg);
  };
  const advance = (n: number) => {
    for (let k = 0; k < n; k++, i++) {
      if (source[i] === '\n') {
        line++;
        lineStart = i + 1;
      }
    }
  };

  while (i < source.length) {
    const c = source[i];
    const startLine = line;
    const startCol = i - lineStart + 1;
    const push = (kind: TokenKind, text: string, explicit?: boolean) => {
      tokens.push({
        kind,
        text,
        line: startLine,
        col: startCol,
        ...(explicit ? { explicit } : {}),
        ...(docs.length ? { docs } : {}),
      });
      docs = [];
    };

    if (/\s/.test(c)) {
      advance(1);
    } else if (source.startsWith('///', i) && source[i + 3] !== '/') {
      const end = source.indexOf('\n', i);
      const stop = end < 0 ? source.length : end;
      docs.push(source.slice(i + 3, stop).replace(/^ /, '').trimEnd());
      advance(stop - i);
    } else if (source.startsWith('//', i)) {
      const end = source.indexOf('\n', i);
      advance((end < 0 ? source.length : end) - i);
    } else if (source.startsWith('/*', i)) {
      const isDoc = source.startsWith('/**', i) && source[i + 3] !== '/' && source[i + 3] !== '*';
      // Block comments nest in WIT.
      let depth = 0;
      let j = i;
      do {
        if (source.startsWith('/*', j)) {
          depth++;
          j += 2;
        } else if (source.startsWith('*/', j)) {
          depth--;
          j += 2;
        } else if (j >= source.length) {
          fail('unterminated block comment');
        } else {
          j++;
        }
      } while (depth > 0);
      if (isDoc) {
        const body = source.slice(i + 3, j - 2);
        for (const l of body.split('\n')) {
          const text = l.replace(/^\s*\*? ?/, '').trimEnd();
          docs.push(text);
        }
      }
      advance(j - i);
    } else if (c === '%' || isIdStart(c)) {
      const explicit = c === '%';
      let j = explicit ? i + 1 : i;
      if (!isIdStart(source[j] ?? '')) fail(`expected an identifier after '%'`);
      while (j < source.length && isIdChar(source[j])) j++;
      const text = source.slice(explicit ? i + 1 : i, j);
      if (text.endsWith('-') || text.includes('--')) fail(`invalid identifier '${text}'`);
      push('id', text, explicit);
      advance(j - i);
    } else if (/[0-9]/.test(c)) {
      // A `.` belongs to the version only if more version text follows, so
      // that `use ns:pkg/iface@0.2.6.{x}` ends the version before `.{`.
      let j = i;
      while (
        j < source.length &&
        (isVersionChar(source[j]) || (source[j] === '.' && isVersionChar(source[j + 1] ?? '')))
      ) {
        j++;
      }
      push('version', source.slice(i, j));
      advance(j - i);
    } else if (PUNCT2.some((p) => source.startsWith(p, i))) {
      push('punct', source.slice(i, i + 2));
      advance(2);
    } else if (PUNCT1.includes(c)) {
      push('punct', c);
      advance(1);
    } else {
      fail(`unexpected character '${c}'`);
    }
  }
  tokens.push({ kind: 'eof', text: '', line, col: i - lineStart + 1, ...(docs.length ? { docs } : {}) });
  return tokens;
}
