import { WitxError } from './errors.js';
import type { WitxLoc } from './types.js';

interface NodeBase {
  loc: WitxLoc;
  /** Text of the `;;;` lines directly before this node. */
  doc?: string;
}
export interface SList extends NodeBase {
  kind: 'list';
  items: SNode[];
}
export interface SAtom extends NodeBase {
  kind: 'atom';
  text: string;
}
export interface SString extends NodeBase {
  kind: 'string';
  value: string;
}
export type SNode = SList | SAtom | SString;

const ATOM_END = /[\s()";]/;
const ESCAPES: Record<string, string> = { n: '\n', t: '\t', r: '\r', '"': '"', "'": "'", '\\': '\\' };

/** Reads WITX text as s-expressions, attaching `;;;` doc comments to the node that follows them. */
export function readSexprs(text: string, file: string): SNode[] {
  let pos = 0;
  let line = 1;
  let lineStart = 0;
  let pendingDoc: string[] = [];
  const top: SNode[] = [];
  const open: SList[] = [];

  const here = (): WitxLoc => ({ file, line, column: pos - lineStart + 1 });
  const advance = (n: number) => {
    for (let i = 0; i < n; i++) {
      if (text[pos] === '\n') {
        line++;
        lineStart = pos + 1;
      }
      pos++;
    }
  };
  const add = (node: SNode) => {
    if (pendingDoc.length > 0) {
      node.doc = pendingDoc.join('\n');
      pendingDoc = [];
    }
    (open.length > 0 ? open[open.length - 1].items : top).push(node);
  };

  while (pos < text.length) {
    const ch = text[pos];
    if (/\s/.test(ch)) {
      advance(1);
    } else if (text.startsWith(';;', pos)) {
      const end = text.indexOf('\n', pos);
      const comment = text.slice(pos, end === -1 ? text.length : end);
      if (comment.startsWith(';;;')) pendingDoc.push(comment.slice(3).replace(/^ /, '').trimEnd());
      advance(comment.length);
    } else if (text.startsWith('(;', pos)) {
      skipBlockComment();
    } else if (ch === '(') {
      const list: SList = { kind: 'list', items: [], loc: here() };
      add(list);
      open.push(list);
      advance(1);
    } else if (ch === ')') {
      if (open.length === 0) throw new WitxError(here(), "unexpected ')' with no matching '('");
      open.pop();
      pendingDoc = [];
      advance(1);
    } else if (ch === '"') {
      const loc = here();
      add({ kind: 'string', value: readString(loc), loc });
    } else if (ch === ';') {
      throw new WitxError(here(), "stray ';' (comments start with ';;')");
    } else {
      const loc = here();
      let end = pos;
      while (end < text.length && !ATOM_END.test(text[end])) end++;
      add({ kind: 'atom', text: text.slice(pos, end), loc });
      advance(end - pos);
    }
  }
  if (open.length > 0) throw new WitxError(open[open.length - 1].loc, "'(' is never closed");
  return top;

  function skipBlockComment(): void {
    const start = here();
    let depth = 0;
    do {
      if (pos >= text.length) throw new WitxError(start, "block comment '(;' is never closed");
      if (text.startsWith('(;', pos)) {
        depth++;
        advance(2);
      } else if (text.startsWith(';)', pos)) {
        depth--;
        advance(2);
      } else {
        advance(1);
      }
    } while (depth > 0);
  }

  function readString(start: WitxLoc): string {
    let value = '';
    advance(1);
    for (;;) {
      const c = text[pos];
      if (c === undefined || c === '\n') throw new WitxError(start, 'string literal is never closed');
      if (c === '"') {
        advance(1);
        return value;
      }
      if (c === '\\') {
        const esc = text[pos + 1];
        if (esc in ESCAPES) {
          value += ESCAPES[esc];
          advance(2);
        } else if (/^[0-9a-fA-F]{2}$/.test(text.slice(pos + 1, pos + 3))) {
          value += String.fromCharCode(parseInt(text.slice(pos + 1, pos + 3), 16));
          advance(3);
        } else {
          throw new WitxError(here(), `unknown escape '\\${esc ?? ''}' in string literal`);
        }
      } else {
        value += c;
        advance(1);
      }
    }
  }
}

export function describeNode(node: SNode): string {
  switch (node.kind) {
    case 'atom':
      return `'${node.text}'`;
    case 'string':
      return JSON.stringify(node.value);
    case 'list': {
      const head = node.items[0];
      return head?.kind === 'atom' ? `'(${head.text} ...)'` : 'a list';
    }
  }
}
