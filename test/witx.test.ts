import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  describeWitxFunction,
  describeWitxType,
  findWitxFunction,
  linkWitx,
  loadWitxDir,
  parseWitx,
  resolveType,
  typeName,
  witxLayout,
  WitxError,
  type WitxAbi,
} from '../src/witx/index.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const witxDir = join(repoRoot, 'witx');
const referenceDir = resolve(repoRoot, '../shared/reference/fastly-abi');
const hasReference = existsSync(join(referenceDir, 'witx'));
if (!hasReference) console.info(`reference comparison skipped: ${referenceDir} does not exist`);

const abi = loadWitxDir(witxDir);

const FUNCTIONS_PER_MODULE: Record<string, number> = {
  fastly_abi: 1,
  fastly_uap: 1,
  fastly_http_body: 11,
  fastly_log: 2,
  fastly_http_req: 60,
  fastly_http_downstream: 40,
  fastly_http_resp: 19,
  fastly_dictionary: 2,
  fastly_geo: 1,
  fastly_device_detection: 1,
  fastly_erl: 6,
  fastly_object_store: 9,
  fastly_image_optimizer: 1,
  fastly_kv_store: 10,
  fastly_secret_store: 4,
  fastly_backend: 17,
  fastly_async_io: 2,
  fastly_purge: 1,
  fastly_compute_runtime: 2,
  fastly_acl: 2,
  fastly_config_store: 2,
  fastly_cache: 29,
  fastly_http_cache: 26,
  fastly_shielding: 2,
};

function fn(abi: WitxAbi, module: string, name: string) {
  const found = findWitxFunction(abi, module, name);
  if (!found) throw new Error(`no ${module}#${name}`);
  return found;
}

/** Parses one or more in-memory files as a single ABI. */
function abiFrom(files: Record<string, string>): WitxAbi {
  return linkWitx(Object.entries(files).map(([file, text]) => parseWitx(text, file)));
}

function witxError(run: () => unknown): WitxError {
  try {
    run();
  } catch (e) {
    if (e instanceof WitxError) return e;
    throw e;
  }
  throw new Error('expected a WitxError');
}

describe('the project ABI in witx/', () => {
  it('has 24 modules and 251 functions, split as expected', () => {
    const counts = Object.fromEntries(abi.modules.map((m) => [m.name, m.functions.length]));
    expect(counts).toEqual(FUNCTIONS_PER_MODULE);
    expect(abi.modules.flatMap((m) => m.functions)).toHaveLength(251);
    expect(abi.types.size).toBe(128);
  });

  it('keeps the file split and orders used files before their users', () => {
    expect(readdirSync(witxDir).sort()).toEqual([
      'cache.witx',
      'compute-at-edge.witx',
      'config-store.witx',
      'http-cache.witx',
      'shielding.witx',
      'typenames.witx',
    ]);
    expect(abi.modules[0].name).toBe('fastly_cache');
    expect(abi.types.get('fastly_status')?.loc.file).toBe(join(witxDir, 'typenames.witx'));
  });

  it('documents every module and typename', () => {
    expect(abi.modules.filter((m) => !m.doc).map((m) => m.name)).toEqual([]);
    expect([...abi.types.values()].filter((t) => !t.doc).map((t) => t.name)).toEqual([]);
  });

  it('records where each function is defined', () => {
    const send = fn(abi, 'fastly_http_req', 'send');
    expect(send.loc.file).toBe(join(witxDir, 'compute-at-edge.witx'));
    const line = readFileSync(send.loc.file, 'utf8').split('\n')[send.loc.line - 1];
    expect(line.slice(send.loc.column - 1)).toBe('(@interface func (export "send")');
  });

  it('keeps the typename of every param so handles of different kinds stay distinct', () => {
    const lookup = fn(abi, 'fastly_cache', 'transaction_insert_and_stream_back');
    expect(lookup.params.map((p) => typeName(p.type))).toEqual(['cache_handle', 'cache_write_options_mask', undefined]);
    expect(resolveType(abi, lookup.params[0].type)).toEqual({ kind: 'handle' });
    const result = resolveType(abi, lookup.results[0].type);
    expect(result.kind === 'expected' && result.ok?.kind === 'tuple' && result.ok.elements.map(typeName)).toEqual([
      'body_handle',
      'cache_handle',
    ]);
  });

  it('models the @witx annotations and builtins', () => {
    const acl = fn(abi, 'fastly_acl', 'lookup');
    expect(acl.params.map((p) => p.type)).toMatchObject([
      { kind: 'ref', name: 'acl_handle' },
      { kind: 'constPointer', target: { kind: 'builtin', name: 'char8' } },
      { kind: 'builtin', name: 'usize' },
      { kind: 'pointer', target: { kind: 'ref', name: 'body_handle' } },
      { kind: 'pointer', target: { kind: 'ref', name: 'acl_error' } },
    ]);
    expect(abi.types.get('multi_value_cursor_result')?.type).toEqual({ kind: 'builtin', name: 's64' });
    expect(abi.types.get('http_status')?.type).toEqual({ kind: 'builtin', name: 'u16' });
    expect(resolveType(abi, { kind: 'ref', name: 'content_encodings', loc: acl.loc })).toEqual({
      kind: 'flags',
      repr: 'u32',
      members: ['gzip'],
    });
  });

  it('lays out option records as the guest does', () => {
    const layout = (name: string) => {
      const { size, align, fields } = witxLayout(abi, abi.types.get(name)!.type);
      return { size, align, offsets: Object.fromEntries(fields!.map((f) => [f.name, f.offset])) };
    };
    expect(layout('send_error_detail')).toEqual({
      size: 20,
      align: 4,
      offsets: { tag: 0, mask: 4, dns_error_rcode: 8, dns_error_info_code: 10, tls_alert_id: 12, h2_error_frame: 13, h2_error_code: 16 },
    });
    expect(layout('kv_insert_config')).toEqual({
      size: 32,
      align: 8,
      offsets: { mode: 0, unused: 4, metadata: 8, metadata_len: 12, time_to_live_sec: 16, if_generation_match: 24 },
    });
    expect(layout('cache_write_options')).toMatchObject({
      size: 80,
      align: 8,
      offsets: { max_age_ns: 0, request_headers: 8, vary_rule_ptr: 12, initial_age_ns: 24, length: 48, service_id_len: 76 },
    });
    expect(layout('dynamic_backend_config')).toMatchObject({ size: 108, align: 4, offsets: { client_key: 68, healthcheck: 104 } });
    expect(witxLayout(abi, abi.types.get('fastly_status')!.type)).toEqual({ size: 4, align: 4 });
    expect(witxLayout(abi, { kind: 'list', element: { kind: 'builtin', name: 'u64' } })).toEqual({ size: 8, align: 4 });
    expect(witxLayout(abi, { kind: 'builtin', name: 'char8' })).toEqual({ size: 1, align: 1 });
  });

  it.skipIf(!hasReference)(
    `describes exactly the ABI of ${hasReference ? referenceDir : 'the reference (absent: skipped)'}`,
    () => {
      const reference = loadWitxDir(join(referenceDir, 'witx'));
      const signatures = (a: WitxAbi) =>
        a.modules.flatMap((m) => m.functions.map((f) => describeWitxFunction(a, f))).sort();
      expect(signatures(abi)).toEqual(signatures(reference));
      expect(signatures(abi)).toHaveLength(251);
      const types = (a: WitxAbi) =>
        Object.fromEntries([...a.types.values()].map((d) => [d.name, describeWitxType(a, d.type)]));
      expect(types(abi)).toEqual(types(reference));
    },
  );

  it.skipIf(!hasReference)('shares no comment text with the reference', () => {
    const commentLines = (dir: string) =>
      readdirSync(dir).flatMap((file) =>
        readFileSync(join(dir, file), 'utf8')
          .split('\n')
          .map((line) => line.trim())
          .filter((line) => line.startsWith(';;'))
          .map((line) => line.replace(/^;+\s*/, ''))
          .filter((text) => text.length > 20),
      );
    const upstream = new Set(commentLines(join(referenceDir, 'witx')));
    expect(commentLines(witxDir).filter((line) => upstream.has(line))).toEqual([]);
  });
});

describe('describeWitxFunction', () => {
  const base = `
    (typename $status (enum (@witx tag u32) $ok $bad))
    (typename $opts (record (field $a u32) (field $b (@witx pointer u8))))
    (module $m (@interface func (export "f")
      (param $o (@witx pointer $opts))
      (result $err (expected (error $status)))))`;
  const describeF = (text: string) => {
    const a = abiFrom({ 'm.witx': text });
    return describeWitxFunction(a, fn(a, 'm', 'f'));
  };

  it('expands named types in place', () => {
    expect(describeF(base)).toBe(
      'm#f(o: pointer<$opts=record{a: u32, b: pointer<u8>}>) -> (err: expected<error=$status=enum<u32>{ok,bad}>)',
    );
  });

  it('changes when a nested record field, enum case or typename changes', () => {
    const original = describeF(base);
    for (const changed of [
      base.replace('(field $a u32)', '(field $a u64)'),
      base.replace('(field $a u32)', '(field $z u32)'),
      base.replace('$ok $bad', '$ok $bad $worse'),
      base.replaceAll('$opts', '$options'),
      base.replace('(@witx pointer u8)', '(@witx const_pointer u8)'),
    ]) {
      expect(describeF(changed)).not.toBe(original);
    }
  });
});

describe('parseWitx', () => {
  it('reads docs, block comments, tuples and expected without an ok value', () => {
    const doc = parseWitx(
      `;; plain comment
       (; block (; nested ;) comment ;)
       ;;; First line.
       ;;; Second line.
       (typename $pair (tuple u8 (@witx usize) $pair_elem))
       (typename $pair_elem string)
       ;;; Module doc.
       (module $m
         ;;; Function doc.
         (@interface func (export "g") (result $r (expected (error $pair_elem)))))`,
      'doc.witx',
    );
    expect(doc.types[0]).toMatchObject({
      name: 'pair',
      doc: 'First line.\nSecond line.',
      type: { kind: 'tuple', elements: [{ name: 'u8' }, { name: 'usize' }, { kind: 'ref', name: 'pair_elem' }] },
      loc: { file: 'doc.witx', line: 5, column: 8 },
    });
    expect(doc.modules[0].doc).toBe('Module doc.');
    expect(doc.modules[0].functions[0]).toMatchObject({
      module: 'm',
      name: 'g',
      doc: 'Function doc.',
      params: [],
      results: [{ name: 'r', type: { kind: 'expected', error: { kind: 'ref', name: 'pair_elem' } } }],
    });
    expect(doc.modules[0].functions[0].results[0].type).not.toHaveProperty('ok');
  });

  it('reports an unknown type with file, line, column and the construct', () => {
    const err = witxError(() =>
      abiFrom({
        'types.witx': '(typename $h (handle))',
        'witx/cache.witx': '(module $fastly_cache\n  (@interface func (export "lookup")\n    (param $handle $foo)))',
      }),
    );
    expect(err.message).toBe('witx/cache.witx:3:20: unknown type $foo in param $handle of fastly_cache#lookup');
    expect(err).toMatchObject({ file: 'witx/cache.witx', line: 3, column: 20 });
  });

  it('names nested constructs in errors', () => {
    expect(witxError(() => abiFrom({ 'a.witx': '(typename $r (record (field $x (@witx pointer $nope))))' })).message).toBe(
      'a.witx:1:47: unknown type $nope in pointee of field $x of typename $r',
    );
    expect(witxError(() => parseWitx('(typename $e (enum (@witx tag i32) $a))', 'e.witx')).message).toBe(
      'e.witx:1:20: expected (@witx tag u8|u16|u32|u64) in typename $e',
    );
    expect(witxError(() => parseWitx('(module $m (@interface func (export "f") (param $p bogus)))', 'f.witx')).message).toBe(
      "f.witx:1:52: unknown type 'bogus' in param $p of m#f",
    );
    expect(witxError(() => parseWitx('(module $m (@interface func (export "f") (param $p (variant))))', 'v.witx')).message).toBe(
      "v.witx:1:52: unsupported type '(variant ...)' in param $p of m#f",
    );
    expect(
      witxError(() => parseWitx('(module $m (@interface func (export "f") (result $r u32) (param $p u32)))', 'o.witx')).message,
    ).toBe('o.witx:1:58: param after result in m#f');
    expect(witxError(() => parseWitx('(typename $f (flags (@witx repr u8) $a $b $c $d $e $f $g $h $i))', 'b.witx')).message).toBe(
      'b.witx:1:14: 9 flags do not fit in u8 in typename $f',
    );
  });

  it('reports syntax errors at their position', () => {
    expect(witxError(() => parseWitx('(typename $a u32', 's.witx')).message).toBe("s.witx:1:1: '(' is never closed");
    expect(witxError(() => parseWitx('\n  (typename $a u32))', 's.witx')).message).toBe(
      "s.witx:2:20: unexpected ')' with no matching '('",
    );
    expect(witxError(() => parseWitx('(use "x.witx)', 's.witx')).message).toBe('s.witx:1:6: string literal is never closed');
    expect(witxError(() => parseWitx('(interface $x)', 's.witx')).message).toBe(
      "s.witx:1:1: expected (use ...), (typename ...) or (module ...) at top level, found '(interface ...)'",
    );
    expect(witxError(() => parseWitx('\n$stray', 's.witx')).message).toBe("s.witx:2:1: unexpected '$stray' at top level");
    expect(witxError(() => parseWitx('(typename a u32)', 's.witx')).message).toBe(
      "s.witx:1:11: expected a $name for typename, found 'a'",
    );
  });

  it('rejects duplicates and self-referential typenames', () => {
    expect(witxError(() => abiFrom({ 'a.witx': '(typename $a u32)', 'b.witx': '\n(typename $a u8)' })).message).toBe(
      'b.witx:2:1: duplicate typename $a (first defined at a.witx:1:1)',
    );
    expect(witxError(() => abiFrom({ 'c.witx': '(typename $a (list $b))\n(typename $b (tuple u8 $a))' })).message).toBe(
      'c.witx:1:1: typename $a is defined in terms of itself ($a -> $b -> $a)',
    );
    expect(
      witxError(() => parseWitx('(module $m (@interface func (export "f")) (@interface func (export "f")))', 'd.witx')).message,
    ).toBe('d.witx:1:43: duplicate function "f" in module $m');
  });
});

describe('loadWitxDir', () => {
  it('resolves names across files and reports a missing used file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'witshim-witx-'));
    writeFileSync(join(dir, 'types.witx'), '(typename $h (handle))');
    writeFileSync(join(dir, 'main.witx'), '(use "types.witx")\n(module $m (@interface func (export "f") (param $x $h)))');
    const loaded = loadWitxDir(dir);
    expect(loaded.modules.map((m) => m.name)).toEqual(['m']);
    expect(typeName(fn(loaded, 'm', 'f').params[0].type)).toBe('h');

    writeFileSync(join(dir, 'main.witx'), '(use "gone.witx")');
    expect(witxError(() => loadWitxDir(dir)).message).toBe(`${join(dir, 'main.witx')}:1:6: cannot find "gone.witx" used by ${join(dir, 'main.witx')}`);
  });
});
