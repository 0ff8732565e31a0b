import type {
  FuncSig,
  Gate,
  InterfaceItem,
  InterfacePath,
  Item,
  PackageDecl,
  PackageItem,
  TypeExpr,
  WorldItem,
} from './ast.js';
import { packageId } from './ast.js';
import { KEYWORDS } from './parser.js';

const INDENT = '  ';
const MAX_LINE = 100;

export interface PrintOptions {
  /** Print as a `package x { ... }` block instead of a file with a `package x;` header. */
  nested?: boolean;
  /** Print doc comments (default true). */
  docs?: boolean;
}

function name(n: string): string {
  return KEYWORDS.has(n) ? `%${n}` : n;
}

export function printType(t: TypeExpr): string {
  switch (t.kind) {
    case 'primitive':
      return t.name;
    case 'list':
      return `list<${printType(t.element)}>`;
    case 'option':
      return `option<${printType(t.inner)}>`;
    case 'tuple':
      return `tuple<${t.types.map(printType).join(', ')}>`;
    case 'result':
      if (!t.ok && !t.err) return 'result';
      if (!t.err) return `result<${printType(t.ok!)}>`;
      return `result<${t.ok ? printType(t.ok) : '_'}, ${printType(t.err)}>`;
    case 'handle':
      return `${t.handle}<${name(t.resource)}>`;
    case 'ref':
      return name(t.name);
  }
}

function path(p: InterfacePath): string {
  if (!p.package) return name(p.name);
  const { namespace, name: pkg, version } = p.package;
  return `${namespace}:${pkg}/${p.name}${version ? `@${version}` : ''}`;
}

function gate(g: Gate): string {
  return `@${g.kind}(${g.args.map((a) => `${a.key} = ${a.value}`).join(', ')})`;
}

class Printer {
  private out: string[] = [];
  constructor(private readonly withDocs: boolean) {}

  text(): string {
    return this.out.join('\n') + '\n';
  }

  line(indent: number, s: string): void {
    this.out.push(s ? INDENT.repeat(indent) + s : '');
  }

  /** Docs and gates of an item, each on its own line. */
  head(indent: number, item: Pick<Item, 'docs' | 'gates'>): void {
    if (this.withDocs) for (const d of item.docs) this.line(indent, d ? `/// ${d}` : '///');
    for (const g of item.gates) this.line(indent, gate(g));
  }

  /** `prefix(a, b) suffix` on one line if it fits, else one entry per line. */
  wrapped(indent: number, prefix: string, open: string, entries: string[], close: string, suffix: string): void {
    const oneLine = `${prefix}${open}${entries.join(', ')}${close}${suffix}`;
    if (INDENT.length * indent + oneLine.length <= MAX_LINE || entries.length === 0) {
      this.line(indent, oneLine);
      return;
    }
    this.line(indent, prefix + open);
    for (const e of entries) this.line(indent + 1, `${e},`);
    this.line(indent, close + suffix);
  }

  func(indent: number, prefix: string, sig: FuncSig): void {
    const params = sig.params.map((p) => `${name(p.name)}: ${printType(p.type)}`);
    const result = sig.result ? ` -> ${printType(sig.result)}` : '';
    this.wrapped(indent, prefix, '(', params, ')', `${result};`);
  }

  /** Items separated by blank lines, except runs of one-line `use`s, `include`s, imports or exports. */
  items<T extends InterfaceItem | WorldItem | PackageItem>(items: T[], each: (item: T) => void): void {
    const group = (item: T) => {
      if (item.kind === 'use' || item.kind === 'include') return item.kind;
      if ((item.kind === 'import' || item.kind === 'export') && item.target.kind === 'path') return item.kind;
      return undefined;
    };
    items.forEach((item, i) => {
      const g = group(item);
      if (i > 0 && !(g && g === group(items[i - 1]) && (!this.withDocs || !item.docs.length))) this.line(0, '');
      each(item);
    });
  }

  interfaceItem(indent: number, item: InterfaceItem | WorldItem): void {
    this.head(indent, item);
    switch (item.kind) {
      case 'use': {
        const names = item.names.map((n) => (n.as ? `${name(n.name)} as ${name(n.as)}` : name(n.name)));
        this.wrapped(indent, `use ${path(item.from)}.`, '{', names, '}', ';');
        break;
      }
      case 'type':
        this.line(indent, `type ${name(item.name)} = ${printType(item.type)};`);
        break;
      case 'record':
        this.members(indent, `record ${name(item.name)}`, item.fields, (f) => `${name(f.name)}: ${printType(f.type)}`);
        break;
      case 'variant':
        this.members(indent, `variant ${name(item.name)}`, item.cases, (c) =>
          c.type ? `${name(c.name)}(${printType(c.type)})` : name(c.name),
        );
        break;
      case 'enum':
        this.members(indent, `enum ${name(item.name)}`, item.cases, (c) => name(c.name));
        break;
      case 'flags':
        this.members(indent, `flags ${name(item.name)}`, item.flags, (f) => name(f.name));
        break;
      case 'resource':
        if (!item.funcs?.length) {
          this.line(indent, `resource ${name(item.name)};`);
          break;
        }
        this.line(indent, `resource ${name(item.name)} {`);
        item.funcs.forEach((f, i) => {
          if (i > 0 && this.withDocs && f.docs.length) this.line(0, '');
          this.head(indent + 1, f);
          const prefix =
            f.kind === 'constructor' ? 'constructor' : `${name(f.name)}: ${f.kind === 'static' ? 'static ' : ''}func`;
          this.func(indent + 1, prefix, f.sig);
        });
        this.line(indent, '}');
        break;
      case 'func':
        this.func(indent, `${name(item.name)}: func`, item.sig);
        break;
      case 'import':
      case 'export': {
        const t = item.target;
        if (t.kind === 'path') {
          this.line(indent, `${item.kind} ${path(t.path)};`);
        } else if (t.kind === 'func') {
          this.func(indent, `${item.kind} ${name(t.name)}: func`, t.sig);
        } else {
          this.line(indent, `${item.kind} ${name(t.name)}: interface {`);
          this.items(t.items, (i) => this.interfaceItem(indent + 1, i));
          this.line(indent, '}');
        }
        break;
      }
      case 'include':
        if (item.with.length === 0) {
          this.line(indent, `include ${path(item.path)};`);
        } else {
          const renames = item.with.map((w) => `${name(w.name)} as ${name(w.as)}`);
          this.wrapped(indent, `include ${path(item.path)} with `, '{', renames, '}', '');
        }
        break;
    }
  }

  members<M extends Pick<Item, 'docs' | 'gates'>>(indent: number, prefix: string, members: M[], show: (m: M) => string): void {
    this.line(indent, `${prefix} {`);
    for (const m of members) {
      this.head(indent + 1, m);
      this.line(indent + 1, `${show(m)},`);
    }
    this.line(indent, '}');
  }

  packageItem(indent: number, item: PackageItem): void {
    this.head(indent, item);
    if (item.kind === 'use') {
      this.line(indent, `use ${path(item.path)}${item.as ? ` as ${name(item.as)}` : ''};`);
      return;
    }
    this.line(indent, `${item.kind} ${name(item.name)} {`);
    this.items<InterfaceItem | WorldItem>(item.items, (i) => this.interfaceItem(indent + 1, i));
    this.line(indent, '}');
  }
}

/** Prints a package back to WIT text in this project's formatting. */
export function printWitPackage(pkg: PackageDecl, options: PrintOptions = {}): string {
  if (!pkg.name) throw new Error(`${pkg.file}: cannot print a package without a name`);
  const p = new Printer(options.docs ?? true);
  p.head(0, { docs: pkg.docs, gates: [] });
  const inner = options.nested ? 1 : 0;
  p.line(0, options.nested ? `package ${packageId(pkg.name)} {` : `package ${packageId(pkg.name)};`);
  if (!options.nested && pkg.items.length) p.line(0, '');
  p.items(pkg.items, (item) => p.packageItem(inner, item));
  if (options.nested) p.line(0, '}');
  return p.text();
}
