import { describe, expect, it } from 'vitest';
import {
  dealias,
  dealiasType,
  findFunction,
  findInterface,
  findType,
  loadWit,
  resolveWitSources,
  worldItems,
  WitResolveError,
  type WitWorldItem,
} from '../src/wit/index.js';

const names = (items: WitWorldItem[]) => items.map((i) => i.name);

describe('WIT resolver', () => {
  const resolve = resolveWitSources({
    'a.wit': `package t:a@1.0.0;
      interface io {
        resource pollable { ready: func() -> bool; }
        poll: func(in: list<borrow<pollable>>) -> u32;
      }
      interface types {
        record point { x: s32, y: s32 }
        type coords = list<point>;
      }
      interface body {
        use io.{pollable as body};
        use types.{coords};
        read: func(b: borrow<body>) -> coords;
        later: func() -> later-type;
        type later-type = option<body>;
      }
      interface user {
        use body.{body};
        take: func(b: body);
      }
      world base {
        import user;
        export run: func();
      }
      world full {
        include base with { run as start }
        import wasi:io/streams@0.2.3;
        export user;
      }`,
  });

  it('resolves `use` aliases to the same resource, across several hops', () => {
    const pollable = findInterface(resolve, 't:a/io@1.0.0').types.get('pollable')!;
    const take = findFunction(resolve, 't:a/user@1.0.0#take');
    expect(take.params[0].type.kind).toBe('own');
    const t = take.params[0].type;
    if (t.kind !== 'own') throw new Error('unreachable');
    expect(t.resource.name).toBe('body');
    expect(dealias(t.resource)).toBe(pollable);
  });

  it('gives methods a `self` borrow and resolves types declared after use', () => {
    const ready = findFunction(resolve, 't:a/io@1.0.0#[method]pollable.ready');
    expect(ready).toMatchObject({ kind: 'method', params: [{ name: 'self', type: { kind: 'borrow' } }], result: { kind: 'bool' } });
    const later = findFunction(resolve, 't:a/body@1.0.0#later');
    expect(dealiasType(later.result!)).toMatchObject({ kind: 'option', inner: { kind: 'own' } });
    expect(dealiasType(findType(resolve, 't:a/types@1.0.0#coords'))).toMatchObject({ kind: 'list', element: { kind: 'named' } });
  });

  it('records interface dependencies in order of use', () => {
    expect(findInterface(resolve, 't:a/body@1.0.0').deps.map((d) => d.name)).toEqual(['io', 'types']);
  });

  it('elaborates worlds: includes, renames, transitive imports and imports for exports', () => {
    const base = worldItems(resolve, 't:a/base@1.0.0');
    expect(names(base.imports)).toEqual(['t:a/io@1.0.0', 't:a/types@1.0.0', 't:a/body@1.0.0', 't:a/user@1.0.0']);
    expect(names(base.exports)).toEqual(['run']);
    const full = worldItems(resolve, 't:a/full@1.0.0');
    expect(names(full.imports)).toEqual([
      'wasi:io/error@0.2.3',
      'wasi:io/poll@0.2.3',
      'wasi:io/streams@0.2.3',
      't:a/io@1.0.0',
      't:a/types@1.0.0',
      't:a/body@1.0.0',
      't:a/user@1.0.0',
    ]);
    expect(names(full.exports)).toEqual(['t:a/user@1.0.0', 'start']);
  });

  it('serves wasi packages from jco, at the version asked for', () => {
    expect([...resolve.packages.keys()]).toContain('wasi:io@0.2.3');
    const streams = findInterface(resolve, 'wasi:io/streams@0.2.3');
    expect(streams.deps.map((d) => d.id)).toEqual(['wasi:io/error@0.2.3', 'wasi:io/poll@0.2.3']);
  });

  it('leaves out @unstable items unless their feature is enabled', () => {
    const src = {
      'u.wit': `package t:u;
        interface i {
          f: func();
          @unstable(feature = shiny) g: func();
        }
        world w { import i; @unstable(feature = shiny) export e: func(); }`,
    };
    expect([...findInterface(resolveWitSources(src), 't:u/i').functions.keys()]).toEqual(['f']);
    const enabled = resolveWitSources(src, { features: ['shiny'] });
    expect([...findInterface(enabled, 't:u/i').functions.keys()]).toEqual(['f', 'g']);
    expect(names(worldItems(enabled, 't:u/w').exports)).toEqual(['e']);
  });

  it('resolves inline interfaces and world-level types', () => {
    const r = resolveWitSources({
      'w.wit': `package t:w;
        interface types { record r { a: u8 } }
        world w {
          use types.{r};
          import inl: interface { use types.{r}; f: func(x: r); }
          import g: func(x: r) -> r;
        }`,
    });
    const { imports } = worldItems(r, 't:w/w');
    expect(imports.map((i) => `${i.kind}:${i.name}`)).toEqual(['interface:t:w/types', 'type:r', 'interface:inl', 'function:g']);
  });

  it('reports unresolved names with file, line and construct', () => {
    const fail = (src: string) => {
      try {
        resolveWitSources({ 'bad.wit': src });
      } catch (e) {
        expect(e).toBeInstanceOf(WitResolveError);
        return (e as Error).message;
      }
      throw new Error('expected an error');
    };
    expect(fail('package t:b;\ninterface i {\n  f: func() -> nope;\n}')).toBe('bad.wit:3: type `nope` is not defined in interface `i`');
    expect(fail('package t:b;\ninterface i {\n  use j.{x};\n}')).toBe('bad.wit:3: interface `j` not found');
    expect(fail('package t:b;\ninterface i { }\ninterface j {\n  use i.{x};\n}')).toMatch(/^bad\.wit:4: `x` is not defined in interface `t:b\/i` \(used by interface `j`\)$/);
    expect(fail('package t:b;\ninterface i {\n  record r { a: u8 }\n  f: func(x: borrow<r>);\n}')).toMatch(/^bad\.wit:4: .*`r` is not a resource/);
    expect(fail('package t:b;\nworld w {\n  import t:c/i@1.0.0;\n}')).toMatch(/^bad\.wit:3: package `t:c@1\.0\.0` not found/);
    expect(fail('package t:b;\ninterface i {\n  f: func();\n  f: func();\n}')).toMatch(/^bad\.wit:4: function `f` is defined twice in interface `i`/);
  });

  it('loads the repository wit/ by default, with wasi from jco', () => {
    const r = loadWit();
    expect(r.main.sort()).toEqual(['fastly:adapter', 'fastly:compute@0.1.0', 'witshim:adapter']);
    const { imports, exports } = worldItems(r, 'fastly:adapter/adapter-service');
    const imported = names(imports);
    // Imported only because other imports use their types:
    expect(imported).toContain('fastly:compute/types@0.1.0');
    expect(imported).toContain('fastly:compute/http-types@0.1.0');
    expect(imported.indexOf('wasi:io/poll@0.2.6')).toBeLessThan(imported.indexOf('wasi:clocks/monotonic-clock@0.2.6'));
    expect(imported.at(-1)).toBe('fastly:adapter/adapter-http-req');
    expect(names(exports)).toEqual(['fastly:compute/http-incoming@0.1.0']);
    expect(imported.filter((n) => n.startsWith('wasi:'))).toHaveLength(18);
    expect(imported.filter((n) => n.startsWith('fastly:'))).toHaveLength(25);
  });

  it('has the designed `subscribe` methods, returning the async-io pollable', () => {
    const r = loadWit();
    const pollable = findInterface(r, 'fastly:compute/async-io@0.1.0').types.get('pollable')!;
    for (const ref of [
      'fastly:compute/cache@0.1.0#[method]entry.subscribe',
      'fastly:compute/cache@0.1.0#[method]replace-entry.subscribe',
      'fastly:compute/http-cache@0.1.0#[method]entry.subscribe',
    ]) {
      const fn = findFunction(r, ref);
      expect(fn.params.map((p) => p.name)).toEqual(['self']);
      expect(fn.result?.kind === 'own' && dealias(fn.result.resource)).toBe(pollable);
      expect(findFunction(r, ref.replace('subscribe', 'step'))).toBeDefined();
    }
  });
});
