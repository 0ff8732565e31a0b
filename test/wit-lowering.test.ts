// Checks our Canonical ABI flattening and import naming against wasm-tools:
// jco's `componentEmbed({ dummy: true })` builds a core module that imports
// every function of a world (named in the standard32 "cm32p2" scheme) and
// exports stubs for its exports; we read their core signatures back out of the
// printed WAT.

import { componentEmbed, print } from '@bytecodealliance/jco';
import { describe, expect, it } from 'vitest';
import {
  findWorld,
  flattenFunction,
  loadWit,
  resolveWitSources,
  witSource,
  worldCoreImports,
  type CoreType,
  type WitResolve,
} from '../src/wit/index.js';

interface Sig {
  params: string[];
  results: string[];
}

interface CoreModule {
  imports: Map<string, Sig>;
  exports: Map<string, Sig>;
}

function parseSig(text: string): Sig {
  const group = (kw: string) => [...text.matchAll(new RegExp(`\\(${kw}((?: [if](?:32|64))*)\\)`, 'g'))].flatMap((m) => m[1].trim().split(/\s+/).filter(Boolean));
  return { params: group('param'), results: group('result') };
}

/** Core function imports and exports of the printed module, with `(type N)` references resolved. */
function readWat(wat: string): CoreModule {
  const types: Sig[] = [];
  const funcTypes: Sig[] = [];
  const imports = new Map<string, Sig>();
  const exportFuncs = new Map<string, number>();
  for (const line of wat.split('\n')) {
    let m = /^\s*\(type \(;(\d+);\) \(func(.*)\)\)\s*$/.exec(line);
    if (m) {
      types[Number(m[1])] = parseSig(m[2]);
      continue;
    }
    m = /^\s*\(import "([^"]+)" "([^"]+)" \(func \(;(\d+);\)(.*)\)\)\s*$/.exec(line);
    if (m) {
      const ref = /^\s*\(type (\d+)\)/.exec(m[4]);
      const sig = ref ? types[Number(ref[1])] : parseSig(m[4]);
      imports.set(`${m[1]} ${m[2]}`, sig);
      funcTypes[Number(m[3])] = sig;
      continue;
    }
    m = /^\s*\(func \(;(\d+);\) \(type (\d+)\)/.exec(line);
    if (m) {
      funcTypes[Number(m[1])] = types[Number(m[2])];
      continue;
    }
    m = /^\s*\(export "([^"]+)" \(func (\d+)\)\)/.exec(line);
    if (m) exportFuncs.set(m[1], Number(m[2]));
  }
  const exports = new Map([...exportFuncs].map(([name, idx]) => [name, funcTypes[idx]]));
  return { imports, exports };
}

async function embedDummy(resolve: WitResolve, world: string): Promise<CoreModule> {
  const bytes = await componentEmbed({ dummy: true, witSource: witSource(resolve), world });
  return readWat(await print(bytes));
}

const sig = (s: { params: CoreType[]; results: CoreType[] }): Sig => ({ params: s.params, results: s.results });

/** Every core import wasm-tools generates must be one of ours with the same signature, and vice versa. */
async function crossCheck(resolve: WitResolve, world: string): Promise<number> {
  const module = await embedDummy(resolve, world);
  const ours = new Map(worldCoreImports(resolve, world, 'standard32').map((i) => [`${i.module} ${i.name}`, sig(i.signature)]));
  expect([...module.imports.keys()].sort()).toEqual([...ours.keys()].sort());
  for (const [key, theirs] of module.imports) expect({ key, ...ours.get(key) }).toEqual({ key, ...theirs });
  return ours.size;
}

describe('lowering matches wasm-tools', () => {
  it('for every import of fastly:adapter/adapter-service, including resource drops', async () => {
    const wit = loadWit();
    const count = await crossCheck(wit, 'fastly:adapter/adapter-service');
    // 300 fastly functions (with the three added `subscribe`s), 41 wasi functions and 43 resource drops.
    expect(count).toBe(384);
  });

  it('for the lifted export `handle`', async () => {
    const wit = loadWit();
    const module = await embedDummy(wit, 'fastly:adapter/adapter-service');
    const handle = findWorld(wit, 'fastly:adapter/adapter-service').exports[0];
    if (handle.kind !== 'interface') throw new Error('expected an interface export');
    const fn = handle.interface.functions.get('handle')!;
    expect(module.exports.get('cm32p2|fastly:compute/http-incoming@0.1|handle')).toEqual(sig(flattenFunction(wit, fn, 'lift')));
  });

  it('for edge cases: wide flags, joined variant slots, spilled params and results, world-level and inline imports', async () => {
    const flags = (n: number) => Array.from({ length: n }, (_, i) => `f${String.fromCharCode(97 + (i % 26))}${i >= 26 ? 'z' : ''}`).join(', ');
    const resolve = resolveWitSources({
      'edge.wit': `package t:edge@1.2.3;
        interface i {
          flags wide { ${flags(33)} }
          flags narrow { ${flags(9)} }
          variant mixed { a(f32), b(u64), c(s8), d(tuple<f32, f32>), e }
          record big { a: u64, b: string, c: option<mixed>, d: list<u8>, e: tuple<u8, u16, u32> }
          resource r {
            constructor(a: u32);
            m: func(x: mixed) -> option<f32>;
            s: static func(b: big) -> result<tuple<u64, string>, wide>;
          }
          f1: func(w: wide, n: narrow) -> wide;
          f2: func(a: u64, b: u64, c: u64, d: u64, e: u64, f: u64, g: u64, h: u64, i: u64, j: u64, k: u64, l: u64, m: u64, n: u64, o: u64, p: u64) -> f64;
          f3: func(a: u64, b: u64, c: u64, d: u64, e: u64, f: u64, g: u64, h: u64, i: u64, j: u64, k: u64, l: u64, m: u64, n: u64, o: u64, p: u64, q: u8) -> tuple<f32, u64>;
          f4: func(x: result<f32, u32>, y: result<_, f64>) -> result<char>;
        }
        world w {
          import i;
          import g: func(a: list<u8>) -> tuple<u32, u64>;
          import inl: interface { h: func(x: s16) -> bool; }
        }`,
    });
    expect(await crossCheck(resolve, 't:edge/w@1.2.3')).toBe(10);
  });
});
