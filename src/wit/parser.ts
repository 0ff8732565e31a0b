import {
  PRIMITIVES,
  type Case,
  type ExternTarget,
  type Field,
  type FuncSig,
  type Gate,
  type InterfaceItem,
  type InterfacePath,
  type Member,
  type PackageDecl,
  type PackageItem,
  type PackageName,
  type Primitive,
  type ResourceFunc,
  type TypeExpr,
  type TypeItem,
  type WitFile,
  type WorldItem,
} from './ast.js';
import { WitSyntaxError, tokenize, type Token } from './lexer.js';

/** Words that must be written `%word` to be used as a name. */
export const KEYWORDS = new Set([
  ...PRIMITIVES,
  'as', 'async', 'borrow', 'constructor', 'enum', 'error-context', 'export', 'flags', 'float32',
  'float64', 'from', 'func', 'future', 'import', 'include', 'interface', 'list', 'option', 'own',
  'package', 'record', 'resource', 'result', 'static', 'stream', 'tuple', 'type', 'use', 'variant',
  'with', 'world',
]);

const LEGACY_FLOATS: Record<string, Primitive> = { float32: 'f32', float64: 'f64' };

interface Prelude {
  docs: string[];
  gates: Gate[];
  line: number;
}

class Parser {
  private pos = 0;
  /** What is being parsed, for error messages ("in interface `http-req`"). */
  private context: string[] = [];
  /** `package x:y { ... }` blocks, in file order. */
  private nested: PackageDecl[] = [];

  constructor(
    private readonly tokens: Token[],
    private readonly fileName: string,
  ) {}

  private get tok(): Token {
    return this.tokens[this.pos];
  }

  private peek(offset = 1): Token {
    return this.tokens[Math.min(this.pos + offset, this.tokens.length - 1)];
  }

  private fail(message: string, at: Token = this.tok): never {
    const where = this.context.length ? ` (in ${this.context[this.context.length - 1]})` : '';
    throw new WitSyntaxError(this.fileName, at.line, at.col, message + where);
  }

  private describe(t: Token): string {
    return t.kind === 'eof' ? 'end of file' : `'${t.explicit ? '%' : ''}${t.text}'`;
  }

  private isPunct(text: string, t: Token = this.tok): boolean {
    return t.kind === 'punct' && t.text === text;
  }

  private isKeyword(word: string, t: Token = this.tok): boolean {
    return t.kind === 'id' && !t.explicit && t.text === word;
  }

  private eat(text: string): boolean {
    if (this.isPunct(text)) {
      this.pos++;
      return true;
    }
    return false;
  }

  private expect(text: string): Token {
    if (!this.isPunct(text)) this.fail(`expected '${text}', found ${this.describe(this.tok)}`);
    return this.tokens[this.pos++];
  }

  private expectKeyword(word: string): Token {
    if (!this.isKeyword(word)) this.fail(`expected '${word}', found ${this.describe(this.tok)}`);
    return this.tokens[this.pos++];
  }

  private name(what: string): string {
    const t = this.tok;
    if (t.kind !== 'id') this.fail(`expected ${what}, found ${this.describe(t)}`);
    if (!t.explicit && KEYWORDS.has(t.text)) {
      this.fail(`'${t.text}' is a keyword; write '%${t.text}' to use it as ${what}`);
    }
    this.pos++;
    return t.text;
  }

  private version(): string {
    const t = this.tok;
    if (t.kind !== 'version') this.fail(`expected a version, found ${this.describe(t)}`);
    this.pos++;
    return t.text;
  }

  /** Comma-separated list up to `close`, allowing a trailing comma. */
  private list<T>(close: string, item: () => T): T[] {
    const out: T[] = [];
    while (!this.isPunct(close)) {
      out.push(item());
      if (!this.eat(',')) break;
    }
    this.expect(close);
    return out;
  }

  private within<T>(what: string, f: () => T): T {
    this.context.push(what);
    try {
      return f();
    } finally {
      this.context.pop();
    }
  }

  // Docs and gates may come in either order before an item.
  private prelude(): Prelude {
    const docs: string[] = [];
    const gates: Gate[] = [];
    for (;;) {
      docs.push(...(this.tok.docs ?? []));
      if (!this.isPunct('@')) return { docs, gates, line: this.tok.line };
      gates.push(this.gate());
    }
  }

  private gate(): Gate {
    this.expect('@');
    const kind = this.name('a gate name');
    this.expect('(');
    const args = this.list(')', () => {
      const key = this.name('a gate argument');
      this.expect('=');
      const t = this.tok;
      if (t.kind !== 'id' && t.kind !== 'version') this.fail(`expected a gate value, found ${this.describe(t)}`);
      this.pos++;
      return { key, value: t.text };
    });
    return { kind, args };
  }

  private packageName(): PackageName {
    const namespace = this.name('a package namespace');
    this.expect(':');
    const name = this.name('a package name');
    const version = this.eat('@') ? this.version() : undefined;
    return version ? { namespace, name, version } : { namespace, name };
  }

  parseFile(): WitFile {
    const packages: PackageDecl[] = [];
    const pre = this.prelude();
    let root: PackageDecl;
    if (this.isKeyword('package') && !this.isPunct('{', this.peekPastPackageName())) {
      this.pos++;
      const name = this.packageName();
      this.expect(';');
      root = { name, docs: pre.docs, items: [], file: this.fileName, line: pre.line };
      this.items(root, this.prelude(), 'eof');
    } else {
      root = { docs: [], items: [], file: this.fileName, line: pre.line };
      this.items(root, pre, 'eof');
    }
    if (root.name || root.items.length) packages.push(root);
    packages.push(...this.nested);
    return { file: this.fileName, packages };
  }

  private peekPastPackageName(): Token {
    // package ns : name [@ version]
    let k = 4;
    if (this.isPunct('@', this.peek(k))) k += 2;
    return this.peek(k);
  }

  private items(pkg: PackageDecl, first: Prelude, end: 'eof' | '}'): void {
    let pre = first;
    for (;;) {
      if (end === 'eof' ? this.tok.kind === 'eof' : this.isPunct('}')) {
        if (pre.gates.length) this.fail('gate without an item');
        return;
      }
      if (this.isKeyword('package')) {
        if (end !== 'eof') this.fail('package blocks cannot be nested in package blocks');
        this.pos++;
        const name = this.packageName();
        this.expect('{');
        const inner: PackageDecl = { name, docs: pre.docs, items: [], file: this.fileName, line: pre.line };
        this.within(`package ${name.namespace}:${name.name}`, () => this.items(inner, this.prelude(), '}'));
        this.expect('}');
        this.nested.push(inner);
      } else {
        pkg.items.push(this.packageItem(pre));
      }
      pre = this.prelude();
    }
  }

  private packageItem(pre: Prelude): PackageItem {
    if (this.isKeyword('interface')) {
      this.pos++;
      const name = this.name('an interface name');
      return { kind: 'interface', name, ...pre, items: this.within(`interface \`${name}\``, () => this.interfaceBody()) };
    }
    if (this.isKeyword('world')) {
      this.pos++;
      const name = this.name('a world name');
      return { kind: 'world', name, ...pre, items: this.within(`world \`${name}\``, () => this.worldBody()) };
    }
    if (this.isKeyword('use')) {
      this.pos++;
      const path = this.interfacePath();
      const as = this.isKeyword('as') ? (this.pos++, this.name('an alias')) : undefined;
      this.expect(';');
      return as ? { kind: 'use', path, as, ...pre } : { kind: 'use', path, ...pre };
    }
    return this.fail(`expected 'interface', 'world', 'use' or 'package', found ${this.describe(this.tok)}`);
  }

  private interfacePath(): InterfacePath {
    const line = this.tok.line;
    if (this.isPunct(':', this.peek())) {
      const namespace = this.name('a package namespace');
      this.expect(':');
      const pkgName = this.name('a package name');
      this.expect('/');
      const name = this.name('an interface name');
      const version = this.eat('@') ? this.version() : undefined;
      const pkg: PackageName = version ? { namespace, name: pkgName, version } : { namespace, name: pkgName };
      return { package: pkg, name, line };
    }
    return { name: this.name('an interface name'), line };
  }

  private interfaceBody(): InterfaceItem[] {
    this.expect('{');
    const items: InterfaceItem[] = [];
    for (;;) {
      const pre = this.prelude();
      if (this.eat('}')) {
        if (pre.gates.length) this.fail('gate without an item');
        return items;
      }
      const typeItem = this.typeItem(pre);
      if (typeItem) {
        items.push(typeItem);
      } else {
        const name = this.name('an item name');
        this.expect(':');
        items.push({ kind: 'func', name, ...pre, sig: this.within(`function \`${name}\``, () => this.funcSig()) });
        this.expect(';');
      }
    }
  }

  private worldBody(): WorldItem[] {
    this.expect('{');
    const items: WorldItem[] = [];
    for (;;) {
      const pre = this.prelude();
      if (this.eat('}')) {
        if (pre.gates.length) this.fail('gate without an item');
        return items;
      }
      if (this.isKeyword('import') || this.isKeyword('export')) {
        const kind = this.tokens[this.pos++].text === 'import' ? 'import' : 'export';
        items.push({ kind, ...pre, target: this.externTarget() });
      } else if (this.isKeyword('include')) {
        this.pos++;
        const path = this.interfacePath();
        const renames: Array<{ name: string; as: string }> = [];
        if (this.isKeyword('with')) {
          this.pos++;
          this.expect('{');
          renames.push(
            ...this.list('}', () => {
              const name = this.name('a name');
              this.expectKeyword('as');
              return { name, as: this.name('a name') };
            }),
          );
        } else {
          this.expect(';');
        }
        items.push({ kind: 'include', ...pre, path, with: renames });
      } else {
        const typeItem = this.typeItem(pre);
        if (!typeItem) this.fail(`expected 'import', 'export', 'include', 'use' or a type, found ${this.describe(this.tok)}`);
        items.push(typeItem);
      }
    }
  }

  private externTarget(): ExternTarget {
    if (this.tok.kind === 'id' && this.isPunct(':', this.peek())) {
      const after = this.peek(2);
      if (this.isKeyword('func', after) || this.isKeyword('async', after)) {
        const name = this.name('a function name');
        this.expect(':');
        const sig = this.within(`function \`${name}\``, () => this.funcSig());
        this.expect(';');
        return { kind: 'func', name, sig };
      }
      if (this.isKeyword('interface', after) && this.isPunct('{', this.peek(3))) {
        const name = this.name('an interface name');
        this.expect(':');
        this.pos++;
        return { kind: 'interface', name, items: this.within(`interface \`${name}\``, () => this.interfaceBody()) };
      }
    }
    const path = this.interfacePath();
    this.expect(';');
    return { kind: 'path', path };
  }

  private typeItem(pre: Prelude): TypeItem | undefined {
    const t = this.tok;
    if (t.kind !== 'id' || t.explicit) return undefined;
    switch (t.text) {
      case 'use': {
        this.pos++;
        const from = this.interfacePath();
        this.expect('.');
        this.expect('{');
        const names = this.list('}', () => {
          const name = this.name('a type name');
          return this.isKeyword('as') ? (this.pos++, { name, as: this.name('an alias') }) : { name };
        });
        this.expect(';');
        return { kind: 'use', ...pre, from, names };
      }
      case 'type': {
        this.pos++;
        const name = this.name('a type name');
        this.expect('=');
        const type = this.within(`type \`${name}\``, () => this.type());
        this.expect(';');
        return { kind: 'type', name, ...pre, type };
      }
      case 'record': {
        const { name, members } = this.members('record', (m): Field => {
          this.expect(':');
          return { ...m, type: this.type() };
        });
        return { kind: 'record', name, ...pre, fields: members };
      }
      case 'variant': {
        const { name, members } = this.members('variant', (m): Case => {
          if (!this.eat('(')) return m;
          const type = this.type();
          this.expect(')');
          return { ...m, type };
        });
        return { kind: 'variant', name, ...pre, cases: members };
      }
      case 'enum': {
        const { name, members } = this.members('enum', (m) => m);
        return { kind: 'enum', name, ...pre, cases: members };
      }
      case 'flags': {
        const { name, members } = this.members('flags', (m) => m);
        return { kind: 'flags', name, ...pre, flags: members };
      }
      case 'resource': {
        this.pos++;
        const name = this.name('a resource name');
        if (this.eat(';')) return { kind: 'resource', name, ...pre };
        const funcs = this.within(`resource \`${name}\``, () => this.resourceBody());
        return { kind: 'resource', name, ...pre, funcs };
      }
      default:
        return undefined;
    }
  }

  private members<M>(kind: string, member: (m: Member) => M): { name: string; members: M[] } {
    this.pos++;
    const name = this.name(`a ${kind} name`);
    const members = this.within(`${kind} \`${name}\``, () => {
      this.expect('{');
      return this.list('}', () => {
        const p = this.prelude();
        return member({ name: this.name(`a ${kind} member name`), ...p });
      });
    });
    return { name, members };
  }

  private resourceBody(): ResourceFunc[] {
    this.expect('{');
    const funcs: ResourceFunc[] = [];
    for (;;) {
      const pre = this.prelude();
      if (this.eat('}')) return funcs;
      if (this.isKeyword('constructor')) {
        this.pos++;
        const params = this.params();
        const result = this.eat('->') ? this.type() : undefined;
        funcs.push({ kind: 'constructor', name: '', ...pre, sig: result ? { params, result } : { params } });
      } else {
        const name = this.name('a method name');
        this.expect(':');
        const isStatic = this.isKeyword('static');
        if (isStatic) this.pos++;
        const sig = this.within(`function \`${name}\``, () => this.funcSig());
        funcs.push({ kind: isStatic ? 'static' : 'method', name, ...pre, sig });
      }
      this.expect(';');
    }
  }

  private funcSig(): FuncSig {
    if (this.isKeyword('async')) this.fail('async functions are not supported');
    this.expectKeyword('func');
    const params = this.params();
    if (!this.eat('->')) return { params };
    if (this.isPunct('(')) this.fail('named results are not supported; return a single type');
    return { params, result: this.type() };
  }

  private params() {
    this.expect('(');
    return this.list(')', () => {
      const name = this.name('a parameter name');
      this.expect(':');
      return { name, type: this.type() };
    });
  }

  /** Type arguments in `<...>`; `_` (allowed only in `result`) comes back as undefined. */
  private typeArgs(): Array<TypeExpr | undefined> {
    this.expect('<');
    return this.list('>', () => (this.eat('_') ? undefined : this.type()));
  }

  private exactArgs(t: Token, n: number): TypeExpr[] {
    const args = this.typeArgs();
    const defined = args.filter((a): a is TypeExpr => a !== undefined);
    if (args.length !== n || defined.length !== n) this.fail(`'${t.text}' takes ${n} type argument${n > 1 ? 's' : ''}`, t);
    return defined;
  }

  private type(): TypeExpr {
    const t = this.tok;
    if (t.kind !== 'id') this.fail(`expected a type, found ${this.describe(t)}`);
    this.pos++;
    if (t.explicit) return { kind: 'ref', name: t.text, line: t.line };
    if ((PRIMITIVES as readonly string[]).includes(t.text)) return { kind: 'primitive', name: t.text as Primitive };
    if (t.text in LEGACY_FLOATS) return { kind: 'primitive', name: LEGACY_FLOATS[t.text] };
    switch (t.text) {
      case 'list': {
        const [element] = this.exactArgs(t, 1);
        return { kind: 'list', element };
      }
      case 'option': {
        const [inner] = this.exactArgs(t, 1);
        return { kind: 'option', inner };
      }
      case 'tuple': {
        const args = this.typeArgs();
        const types = args.filter((a): a is TypeExpr => a !== undefined);
        if (types.length !== args.length) this.fail(`'_' is only allowed as the ok type of a result`, t);
        return { kind: 'tuple', types };
      }
      case 'result': {
        if (!this.isPunct('<')) return { kind: 'result' };
        const args = this.typeArgs();
        if (args.length === 1 && args[0]) return { kind: 'result', ok: args[0] };
        if (args.length === 2 && args[1]) return args[0] ? { kind: 'result', ok: args[0], err: args[1] } : { kind: 'result', err: args[1] };
        return this.fail(`'result' takes <ok>, <ok, err> or <_, err>`, t);
      }
      case 'own':
      case 'borrow': {
        this.expect('<');
        const resource = this.name('a resource name');
        this.expect('>');
        return { kind: 'handle', handle: t.text, resource, line: t.line };
      }
      case 'future':
      case 'stream':
      case 'error-context':
        return this.fail(`'${t.text}' types are not supported`, t);
      default:
        if (KEYWORDS.has(t.text)) this.fail(`expected a type, found keyword '${t.text}'`, t);
        return { kind: 'ref', name: t.text, line: t.line };
    }
  }
}

/** Parses one WIT file. Errors are `WitSyntaxError`s naming the file, line and construct. */
export function parseWit(source: string, file = '<wit>'): WitFile {
  return new Parser(tokenize(source, file), file).parseFile();
}
