import { describe, expect, it } from 'vitest';
import { parseWit, printWitPackage, tokenize, WitSyntaxError, type InterfaceDecl, type WorldDecl } from '../src/wit/index.js';

function onlyInterface(src: string): InterfaceDecl {
  const item = parseWit(src, 'test.wit').packages[0].items[0];
  if (item.kind !== 'interface') throw new Error('expected an interface');
  return item;
}

describe('WIT lexer', () => {
  it('ends a version before `.{` and keeps prerelease text', () => {
    const texts = tokenize('use a:b/c@0.2.6.{d}; x@1.0.0-rc.1+build', 't').map((t) => `${t.kind}:${t.text}`);
    expect(texts).toContain('version:0.2.6');
    expect(texts).toContain('version:1.0.0-rc.1+build');
    expect(texts.slice(texts.indexOf('version:0.2.6') + 1, texts.indexOf('version:0.2.6') + 3)).toEqual(['punct:.', 'punct:{']);
  });

  it('attaches doc comments to the next token and drops plain and nested block comments', () => {
    const [first] = tokenize('/* a /* nested */ comment */ // line\n/// one\n/** two\n * three */\ninterface', 't');
    expect(first).toMatchObject({ kind: 'id', text: 'interface', docs: ['one', 'two', 'three'], line: 5 });
  });

  it('marks %-escaped identifiers', () => {
    expect(tokenize('%list', 't')[0]).toMatchObject({ kind: 'id', text: 'list', explicit: true });
  });
});

describe('WIT parser', () => {
  it('parses every type form', () => {
    const iface = onlyInterface(`package a:b;
      interface i {
        f: func(a: list<u8>, b: option<string>, c: tuple<u8, s64, f32, f64, char, bool>,
                d: result, e: result<u32>, f: result<_, string>, g: result<u32, string>,
                h: borrow<r>, i: own<r>, j: r, k: float32) -> s16;
        resource r;
      }`);
    const f = iface.items[0];
    if (f.kind !== 'func') throw new Error('expected a function');
    expect(f.sig.params.map((p) => p.type)).toEqual([
      { kind: 'list', element: { kind: 'primitive', name: 'u8' } },
      { kind: 'option', inner: { kind: 'primitive', name: 'string' } },
      { kind: 'tuple', types: ['u8', 's64', 'f32', 'f64', 'char', 'bool'].map((name) => ({ kind: 'primitive', name })) },
      { kind: 'result' },
      { kind: 'result', ok: { kind: 'primitive', name: 'u32' } },
      { kind: 'result', err: { kind: 'primitive', name: 'string' } },
      { kind: 'result', ok: { kind: 'primitive', name: 'u32' }, err: { kind: 'primitive', name: 'string' } },
      { kind: 'handle', handle: 'borrow', resource: 'r', line: 5 },
      { kind: 'handle', handle: 'own', resource: 'r', line: 5 },
      { kind: 'ref', name: 'r', line: 5 },
      { kind: 'primitive', name: 'f32' },
    ]);
    expect(f.sig.result).toEqual({ kind: 'primitive', name: 's16' });
  });

  it('parses resources, uses with aliases, gates and docs', () => {
    const iface = onlyInterface(`package a:b@1.0.0;
      /// The interface.
      @since(version = 1.0.0)
      interface i {
        use other.{x, pollable as body};
        /// A resource.
        resource r {
          constructor(a: u32);
          /// A method.
          m: func() -> string;
          s: static func(b: body) -> r;
        }
        @unstable(feature = fancy)
        record %list { %from: u8, }
        variant v { a, b(u32) }
        enum e { x, y }
        flags fl { p, q }
        type t = list<v>;
      }`);
    expect(iface.docs).toEqual(['The interface.']);
    expect(iface.gates).toEqual([{ kind: 'since', args: [{ key: 'version', value: '1.0.0' }] }]);
    expect(iface.items.map((i) => `${i.kind}:${'name' in i ? i.name : ''}`)).toEqual([
      'use:', 'resource:r', 'record:list', 'variant:v', 'enum:e', 'flags:fl', 'type:t',
    ]);
    const [use, r, rec] = iface.items;
    expect(use).toMatchObject({ kind: 'use', from: { name: 'other' }, names: [{ name: 'x' }, { name: 'pollable', as: 'body' }] });
    expect(r).toMatchObject({
      kind: 'resource',
      docs: ['A resource.'],
      funcs: [
        { kind: 'constructor', name: '' },
        { kind: 'method', name: 'm', docs: ['A method.'] },
        { kind: 'static', name: 's' },
      ],
    });
    expect(rec).toMatchObject({ gates: [{ kind: 'unstable', args: [{ key: 'feature', value: 'fancy' }] }], fields: [{ name: 'from' }] });
  });

  it('parses worlds: imports by name and path, inline functions and interfaces, includes with renames', () => {
    const file = parseWit(`package a:b;
      world w {
        import i;
        import wasi:io/poll@0.2.6;
        export run: func() -> result;
        import inline: interface { f: func(); }
        include other with { run as go }
        include c:d/v@1.0.0;
        use i.{t};
        type u = t;
      }`, 'w.wit');
    const world = file.packages[0].items[0] as WorldDecl;
    expect(world.items.map((i) => i.kind)).toEqual(['import', 'import', 'export', 'import', 'include', 'include', 'use', 'type']);
    expect(world.items[1]).toMatchObject({ target: { kind: 'path', path: { package: { namespace: 'wasi', name: 'io', version: '0.2.6' }, name: 'poll' } } });
    expect(world.items[2]).toMatchObject({ target: { kind: 'func', name: 'run', sig: { params: [], result: { kind: 'result' } } } });
    expect(world.items[3]).toMatchObject({ target: { kind: 'interface', name: 'inline', items: [{ kind: 'func', name: 'f' }] } });
    expect(world.items[4]).toMatchObject({ kind: 'include', path: { name: 'other' }, with: [{ name: 'run', as: 'go' }] });
  });

  it('parses nested package blocks after a package header', () => {
    const file = parseWit(`package root:pkg;
      interface top {}
      package a:b@0.1.0 { interface i { f: func(); } }
      package c:d { world w { import a:b/i@0.1.0; } }`, 'n.wit');
    expect(file.packages.map((p) => `${p.name?.namespace}:${p.name?.name}@${p.name?.version} ${p.items.length}`)).toEqual([
      'root:pkg@undefined 1',
      'a:b@0.1.0 1',
      'c:d@undefined 1',
    ]);
  });

  it('leaves the package of a headerless file undefined', () => {
    expect(parseWit('interface i {}', 'x.wit').packages[0].name).toBeUndefined();
  });

  it('reports the file, line and construct of syntax errors', () => {
    const bad = (src: string) => {
      try {
        parseWit(src, 'bad.wit');
      } catch (e) {
        expect(e).toBeInstanceOf(WitSyntaxError);
        return (e as Error).message;
      }
      throw new Error('expected a syntax error');
    };
    expect(bad('package a:b;\ninterface i {\n  f: func(x: ) -> u32;\n}')).toMatch(/^bad\.wit:3:\d+: expected a type, found '\)' \(in function `f`\)$/);
    expect(bad('package a:b;\ninterface i {\n  record r { list: u8 }\n}')).toMatch(/^bad\.wit:3:\d+: 'list' is a keyword; write '%list'.*\(in record `r`\)$/);
    expect(bad('package a:b;\nworld w {\n  import x: func(\n}')).toMatch(/^bad\.wit:4:\d+: .*\(in function `x`\)$/);
    expect(bad('package a:b;\ninterface i {\n  f: func() -> result<_>;\n}')).toMatch(/^bad\.wit:3:.*'result' takes/);
    expect(bad('package a:b;\ninterface i { $ }')).toMatch(/^bad\.wit:2:\d+: unexpected character '\$'/);
  });

  it('prints what it parses, stably', () => {
    const src = `/// Docs.
package a:b@1.2.3;

interface i {
  use c:d/e@1.0.0.{x as y};
  use j.{z};

  /// A record.
  record %list {
    %from: option<u8>,
    to: result<_, string>,
  }

  resource r {
    constructor();
    m: func(a: borrow<r>) -> tuple<u8, u16>;
    s: static func() -> r;
  }

  resource q;

  f: func(first-long-parameter-name: list<string>, second-long-parameter-name: option<list<u8>>) -> result;
}

world w {
  import i;
  import c:d/e@1.0.0;
  export g: func();
  include v with { g as h }
}
`;
    const printed = printWitPackage(parseWit(src, 'p.wit').packages[0]);
    expect(printWitPackage(parseWit(printed, 'p2.wit').packages[0])).toBe(printed);
    expect(printed).toContain('  f: func(\n    first-long-parameter-name: list<string>,\n    second-long-parameter-name: option<list<u8>>,\n  ) -> result;');
    expect(printed).toContain('record %list {\n    %from: option<u8>,');
    expect(printed).toContain('  import i;\n  import c:d/e@1.0.0;\n\n  export g: func();');
    expect(printWitPackage(parseWit(src, 'p.wit').packages[0], { nested: true, docs: false })).toMatch(/^package a:b@1\.2\.3 \{\n  interface i \{/);
  });
});
