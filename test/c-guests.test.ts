import { cpSync, mkdtempSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { main } from '../src/cli/main.js';
import { readModuleInterface } from '../src/wasm/imports.js';
import { coreSignature, findWitxFunction, linkWitx, loadWitxDir, lowerFunction, parseWitx, witxCHeader, WitxLoweringError } from '../src/witx/index.js';
import { fileHash, guestDir, guests, readManifest, sourceFiles, sourceHash } from './fixtures/c/build.mjs';
import { errorPathsFile, errorPathsOf, errorPathsSource } from './fixtures/c/gen-error-paths.js';

/*
 * The C guests cannot drift from the ABI: they declare hostcalls only through witx.h, which is
 * generated from witx/ (and must be current), and each committed .wasm must have been built from
 * the sources it has now (builds.json, written by build.sh).
 */

const repo = join(import.meta.dirname, '..');
const abi = loadWitxDir(join(repo, 'witx'));
const headerPath = join(guestDir, 'witx.h');
const regenerate = 'regenerate with `npx witshim abi --c-header -o test/fixtures/c/witx.h`, then run test/fixtures/c/build.sh';
const rebuild = 'run test/fixtures/c/build.sh (clang + wasi-libc) and commit the .wasm and builds.json';

async function witshim(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const stdout = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => ((out += String(chunk)), true));
  const stderr = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => ((err += String(chunk)), true));
  try {
    return { code: await main(argv), out, err };
  } finally {
    stdout.mockRestore();
    stderr.mockRestore();
  }
}

afterEach(() => {
  process.exitCode = undefined;
});

describe('witx.h', () => {
  it('is what `witshim abi --c-header` generates from witx/ now', () => {
    expect(readFileSync(headerPath, 'utf8') === witxCHeader(abi), regenerate).toBe(true);
  });

  it('declares every hostcall with its import names, status return, lowered params and out-pointers', () => {
    const header = readFileSync(headerPath, 'utf8');
    expect(header).toContain(
      '__attribute__((import_module("fastly_http_req"), import_name("send")))\n' +
        'fastly_status_t fastly_http_req_send(fastly_request_handle_t h, fastly_body_handle_t b, const char *backend_ptr, size_t backend_len, fastly_response_handle_t *response_handle_out, fastly_body_handle_t *body_handle_out);',
    );
    expect(header).toContain('typedef uint32_t fastly_status_t;\nenum {\n  FASTLY_STATUS_OK = 0,');
    expect(header).toContain('_Static_assert(offsetof(fastly_send_error_detail_t, h2_error_code) == 16, "witx offset of field $h2_error_code of $send_error_detail");');
    expect(header).toContain('_Static_assert(sizeof(fastly_dynamic_backend_config_t) == 108, "witx size of $dynamic_backend_config");');
    const declared = [...header.matchAll(/import_module\("(\w+)"\), import_name\("(\w+)"\)/g)].map(([, m, n]) => `${m}#${n}`);
    expect(declared).toEqual(abi.modules.flatMap((m) => m.functions.map((f) => `${m.name}#${f.name}`)));
    expect(declared).toHaveLength(251);
  });

  it('`abi --c-header` prints it, `-o` writes it; a bad output path is one line and exit 2', async () => {
    const printed = await witshim('abi', '--c-header');
    expect(printed.code).toBe(0);
    expect(printed.out).toBe(witxCHeader(abi));
    const dir = mkdtempSync(join(tmpdir(), 'witshim-cheader-'));
    expect((await witshim('abi', '--c-header', '-o', join(dir, 'witx.h'))).code).toBe(0);
    expect(readFileSync(join(dir, 'witx.h'), 'utf8')).toBe(witxCHeader(abi));
    const bad = await witshim('abi', '--c-header', '-o', join(dir, 'missing', 'witx.h'));
    expect(bad).toMatchObject({ code: 2, out: '' });
    expect(bad.err).toMatch(/^witshim: cannot write .*missing\/witx\.h: ENOENT\n$/);
    expect(existsSync(join(dir, 'missing'))).toBe(false);
    expect(await witshim('abi', '-o', join(dir, 'x.h'))).toMatchObject({ code: 2, err: 'witshim: --output goes with --c-header\n' });
  });

  it('refuses WITX whose names would meet in one C identifier', () => {
    const witx = '(typename $status u32)\n(typename $fastly_status u32)\n';
    expect(() => witxCHeader(linkWitx([parseWitx(witx, 'two.witx')]))).toThrow(WitxLoweringError);
    expect(() => witxCHeader(linkWitx([parseWitx(witx, 'two.witx')]))).toThrow(/C name fastly_status_t of typename \$fastly_status is also the name of typename \$status/);
  });
});

describe('error-paths.c', () => {
  it('is what gen-error-paths.ts generates from witx/ and the adapter\'s error paths now', () => {
    expect(readFileSync(errorPathsFile, 'utf8'), 'regenerate with `npx tsx test/fixtures/c/gen-error-paths.ts`, then run test/fixtures/c/build.sh error-paths').toBe(errorPathsSource(abi, errorPathsOf()));
  });
});

describe('committed C guest builds', () => {
  const manifest = readManifest();

  it('builds.json lists exactly the guests there are', () => {
    expect(Object.keys(manifest.guests).sort()).toEqual(guests());
  });

  it.each(guests())('%s.wasm was built from its current source (hash of the .c, its headers and the flags)', (guest) => {
    const record = manifest.guests[guest];
    expect(record, `${guest} has no build record; ${rebuild}`).toBeDefined();
    expect(record.files).toEqual(sourceFiles(guest));
    expect(record.files).toContain('witx.h');
    expect(sourceHash(guest) === record.source, `${guest}.c or a header it includes changed since ${guest}.wasm was built; ${rebuild}`).toBe(true);
    expect(fileHash(join(guestDir, `${guest}.wasm`)) === record.wasm, `${guest}.wasm is not the build build.sh recorded; ${rebuild}`).toBe(true);
  });

  it('the source hash changes with any included header', () => {
    const dir = mkdtempSync(join(tmpdir(), 'witshim-guests-'));
    cpSync(guestDir, dir, { recursive: true });
    expect(sourceHash('hello', dir)).toBe(sourceHash('hello'));
    writeFileSync(join(dir, 'witx.h'), `${readFileSync(join(dir, 'witx.h'), 'utf8')}\n`);
    expect(sourceHash('hello', dir)).not.toBe(sourceHash('hello'));
  });

  it.each(guests())('%s imports each hostcall with the exact WITX-lowered signature', (guest) => {
    const { imports, exports } = readModuleInterface(readFileSync(join(guestDir, `${guest}.wasm`)));
    const hostcalls = imports.filter((imp) => imp.module.startsWith('fastly_'));
    expect(hostcalls.length).toBeGreaterThan(0);
    for (const imp of hostcalls) {
      const fn = findWitxFunction(abi, imp.module, imp.name);
      expect(fn, `${imp.module}#${imp.name}`).toBeDefined();
      expect(imp.type, `${imp.module}#${imp.name}`).toEqual(coreSignature(lowerFunction(abi, fn!)));
    }
    expect(exports.find((exp) => exp.name === '_start')?.type).toEqual({ params: [], results: [] });
  });

  it('the guests other than hostcalls.wasm import every hostcall between them (so that some case can reach each one)', () => {
    const imported = new Set(
      guests()
        .filter((guest) => guest !== 'hostcalls')
        .flatMap((guest) => readModuleInterface(readFileSync(join(guestDir, `${guest}.wasm`))).imports.map((imp) => `${imp.module}#${imp.name}`)),
    );
    const missing = abi.modules.flatMap((m) => m.functions.map((f) => `${m.name}#${f.name}`)).filter((h) => !imported.has(h));
    expect(missing).toEqual([]);
  });

  it('hostcalls.wasm imports all 251 hostcalls through witx.h', () => {
    const { imports } = readModuleInterface(readFileSync(join(guestDir, 'hostcalls.wasm')));
    const names = imports.filter((imp) => imp.module.startsWith('fastly_')).map((imp) => `${imp.module}#${imp.name}`);
    expect(new Set(names)).toEqual(new Set(abi.modules.flatMap((m) => m.functions.map((f) => `${m.name}#${f.name}`))));
  });
});
