import { describe, expect, it } from 'vitest';
import {
  alignOf,
  coreImportName,
  discriminantSize,
  findFunction,
  findInterface,
  findType,
  flatten,
  flattenFunction,
  layout,
  loadWit,
  resolveWitSources,
  resourceDropName,
  sizeOf,
  versionTrack,
  worldCoreImports,
  type WitType,
} from '../src/wit/index.js';

const wit = loadWit();
const fastly = (ref: string) => findType(wit, `fastly:compute/${ref.replace('#', '@0.1.0#')}`);

const custom = resolveWitSources({
  'c.wit': `package t:c;
    interface i {
      flags f8 { ${Array.from({ length: 8 }, (_, i) => `a${'abcdefgh'[i]}`).join(', ')} }
      flags f9 { ${Array.from({ length: 9 }, (_, i) => `b${'abcdefghi'[i]}`).join(', ')} }
      flags f17 { ${Array.from({ length: 17 }, (_, i) => `c${'abcdefghijklmnopq'[i]}`).join(', ')} }
      flags f33 { ${Array.from({ length: 33 }, (_, i) => `d${String.fromCharCode(97 + (i % 26))}${i >= 26 ? 'x' : ''}`).join(', ')} }
      enum e257 { ${Array.from({ length: 257 }, (_, i) => `c${i.toString(36).replace(/[0-9]/g, (d) => 'klmnopqrst'[Number(d)])}`).join(', ')} }
      variant mixed { a(f32), b(u64), c(s8), d(tuple<f32, f32>), e }
      record padded { a: u8, b: u64, c: u16, d: tuple<u8, u32> }
    }`,
});
const t = (name: string): WitType => findType(custom, `t:c/i#${name}`);

describe('Canonical ABI layout', () => {
  it('lays out scalars, strings, lists and handles', () => {
    const cases: Array<[WitType, number, number, string[]]> = [
      [{ kind: 'bool' }, 1, 1, ['i32']],
      [{ kind: 'u16' }, 2, 2, ['i32']],
      [{ kind: 'char' }, 4, 4, ['i32']],
      [{ kind: 's64' }, 8, 8, ['i64']],
      [{ kind: 'f32' }, 4, 4, ['f32']],
      [{ kind: 'f64' }, 8, 8, ['f64']],
      [{ kind: 'string' }, 8, 4, ['i32', 'i32']],
      [{ kind: 'list', element: { kind: 'u64' } }, 8, 4, ['i32', 'i32']],
      [fastly('backend#backend'), 4, 4, ['i32']],
    ];
    for (const [type, size, align, flat] of cases) {
      expect([sizeOf(type), alignOf(type), flatten(type)]).toEqual([size, align, flat]);
    }
  });

  it('lays out records with padding (cache write-options)', () => {
    const l = layout(fastly('cache#write-options'));
    if (l.kind !== 'record') throw new Error('expected a record');
    expect(l.fields.map((f) => [f.name, f.offset])).toEqual([
      ['max-age-ns', 0],
      ['request-headers', 8],
      ['vary-rule', 16],
      ['initial-age-ns', 32],
      ['stale-while-revalidate-ns', 48],
      ['surrogate-keys', 64],
      ['length', 80],
      ['user-metadata', 96],
      ['edge-max-age-ns', 112],
      ['sensitive-data', 128],
      ['extra', 132],
    ]);
    expect([l.size, l.align]).toEqual([144, 8]);
    expect(flatten(fastly('cache#write-options'))).toHaveLength(23);
  });

  it('lays out tuples as records and pads the end to the alignment', () => {
    const l = layout(t('padded'));
    if (l.kind !== 'record') throw new Error('expected a record');
    expect(l.fields.map((f) => f.offset)).toEqual([0, 8, 16, 20]);
    expect([l.size, l.align]).toEqual([32, 8]);
    const tuple = layout(fastly('types#ipv6-address'));
    expect(tuple).toMatchObject({ kind: 'record', size: 16, align: 2 });
  });

  it('lays out variants: discriminant, payload offset, joined flat payload', () => {
    expect(layout(fastly('types#error'))).toMatchObject({ kind: 'variant', size: 16, align: 8, discriminantSize: 1, payloadOffset: 8 });
    expect(flatten(fastly('types#error'))).toEqual(['i32', 'i64']);
    // ipv4 is four bytes, ipv6 eight u16s: payload aligned to 2.
    expect(layout(fastly('types#ip-address'))).toMatchObject({ size: 18, align: 2, payloadOffset: 2 });
    expect(flatten(fastly('types#ip-address'))).toEqual(Array(9).fill('i32'));
    expect(layout(t('mixed'))).toMatchObject({ size: 16, align: 8, payloadOffset: 8 });
    // f32 | u64 | s8 | (f32, f32): slot 0 joins to i64, slot 1 only ever holds an f32.
    expect(flatten(t('mixed'))).toEqual(['i32', 'i64', 'f32']);
  });

  it('lays out enums, options and results as variants', () => {
    expect(layout(fastly('types#open-error'))).toMatchObject({ kind: 'variant', size: 1, align: 1, discriminantSize: 1, cases: expect.any(Array) });
    expect([sizeOf(t('e257')), alignOf(t('e257')), discriminantSize(257), flatten(t('e257'))]).toEqual([2, 2, 2, ['i32']]);
    const opt: WitType = { kind: 'option', inner: { kind: 'u64' } };
    expect(layout(opt)).toMatchObject({ size: 16, align: 8, payloadOffset: 8, cases: [{ name: 'none' }, { name: 'some' }] });
    expect(flatten(opt)).toEqual(['i32', 'i64']);
    const bare: WitType = { kind: 'result' };
    expect([sizeOf(bare), alignOf(bare), flatten(bare)]).toEqual([1, 1, ['i32']]);
    // result<tuple<string, option<u32>>, error>: ok is 16 bytes aligned 4, error 16 aligned 8.
    const names = findFunction(wit, 'fastly:compute/http-req@0.1.0#[method]request.get-header-names').result!;
    expect(layout(names)).toMatchObject({ size: 24, align: 8, payloadOffset: 8, cases: [{ name: 'ok' }, { name: 'error' }] });
    expect(flatten(names)).toEqual(['i32', 'i32', 'i64', 'i32', 'i32']);
  });

  it('lays out flags by member count, including more than 32', () => {
    const sizes = ['f8', 'f9', 'f17', 'f33'].map((n) => [sizeOf(t(n)), alignOf(t(n)), flatten(t(n)).length]);
    expect(sizes).toEqual([
      [1, 1, 1],
      [2, 2, 1],
      [4, 4, 1],
      [8, 4, 2],
    ]);
    expect(layout(fastly('cache#lookup-state'))).toEqual({ kind: 'flags', size: 1, align: 1, count: 5 });
  });
});

describe('Canonical ABI function signatures', () => {
  const http = (name: string) => findFunction(wit, `fastly:compute/http-req@0.1.0#${name}`);

  it('passes results through a return pointer when they do not fit one core value', () => {
    const fn = http('[method]request.get-header-names');
    expect(flattenFunction(wit, fn, 'lower')).toEqual({ params: ['i32', 'i64', 'i32', 'i32'], results: [], paramsIndirect: false, resultsIndirect: true });
    expect(flattenFunction(wit, fn, 'lift')).toEqual({ params: ['i32', 'i64', 'i32'], results: ['i32'], paramsIndirect: false, resultsIndirect: true });
  });

  it('returns single core values directly', () => {
    expect(flattenFunction(wit, 'fastly:compute/compute-runtime@0.1.0#get-vcpu-ms', 'lower')).toEqual({ params: [], results: ['i64'], paramsIndirect: false, resultsIndirect: false });
    expect(flattenFunction(wit, 'fastly:compute/http-incoming@0.1.0#handle', 'lift')).toMatchObject({ params: ['i32', 'i32'], results: ['i32'] });
    expect(flattenFunction(wit, 'fastly:compute/log@0.1.0#[method]endpoint.write', 'lower')).toMatchObject({ params: ['i32', 'i32', 'i32'], results: [] });
  });

  it('passes more than 16 core params through one pointer', () => {
    // key (2) + write-options (23) = 25 core params.
    const insert = findFunction(wit, 'fastly:compute/cache@0.1.0#insert');
    expect(flattenFunction(wit, insert, 'lower')).toEqual({ params: ['i32', 'i32'], results: [], paramsIndirect: true, resultsIndirect: true });
    expect(flattenFunction(wit, insert, 'lift')).toEqual({ params: ['i32'], results: ['i32'], paramsIndirect: true, resultsIndirect: true });
    // 15 core params plus the return pointer make 16, which still fit.
    const insertAsync = findFunction(wit, 'fastly:compute/kv-store@0.1.0#[method]store.insert-async');
    expect(flattenFunction(wit, insertAsync, 'lower')).toMatchObject({ paramsIndirect: false, resultsIndirect: true });
    expect(flattenFunction(wit, insertAsync, 'lower').params).toHaveLength(16);
  });
});

describe('core import names', () => {
  it('mangles functions and resource drops in both schemes', () => {
    const names = (ref: string) => {
      const fn = findFunction(wit, ref);
      return [coreImportName(fn), coreImportName(fn, 'standard32')];
    };
    expect(names('fastly:compute/http-req@0.1.0#[static]request.new')).toEqual([
      { module: 'fastly:compute/http-req@0.1.0', name: '[static]request.new' },
      { module: 'cm32p2|fastly:compute/http-req@0.1', name: '[static]request.new' },
    ]);
    expect(names('fastly:compute/backend@0.1.0#[constructor]dynamic-backend-options')[0].name).toBe('[constructor]dynamic-backend-options');
    expect(names('fastly:compute/http-req@0.1.0#[method]request.get-uri')[0].name).toBe('[method]request.get-uri');
    expect(names('fastly:adapter/adapter-http-req#original-header-count')).toEqual([
      { module: 'fastly:adapter/adapter-http-req', name: 'original-header-count' },
      { module: 'cm32p2|fastly:adapter/adapter-http-req', name: 'original-header-count' },
    ]);
    const request = findInterface(wit, 'fastly:compute/http-req@0.1.0').types.get('request')!;
    expect(resourceDropName(request)).toEqual({ module: 'fastly:compute/http-req@0.1.0', name: '[resource-drop]request' });
    expect(resourceDropName(request, 'standard32')).toEqual({ module: 'cm32p2|fastly:compute/http-req@0.1', name: 'request_drop' });
  });

  it('shortens versions to their semver track in standard32 names', () => {
    expect(['0.2.6', '1.4.2', '0.0.3', '2.0.0-rc.1+b'].map(versionTrack)).toEqual(['0.2', '1', '0.0.3', '2.0.0-rc.1']);
  });

  it('drops `use`d resources only through the interface that defines them', () => {
    const imports = worldCoreImports(wit, 'fastly:adapter/adapter-service');
    const drops = imports.filter((i) => i.dropped).map((i) => `${i.module} ${i.name}`);
    expect(drops).toContain('fastly:compute/async-io@0.1.0 [resource-drop]pollable');
    expect(drops.some((d) => /\]body$|pending-/.test(d))).toBe(false);
    expect(imports.find((i) => i.name === '[resource-drop]pollable')?.signature).toEqual({ params: ['i32'], results: [], paramsIndirect: false, resultsIndirect: false });
  });
});
