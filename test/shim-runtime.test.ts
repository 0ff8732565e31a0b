import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parse } from '@bytecodealliance/jco-transpile/wasm-tools';
import { transpile } from '@bytecodealliance/jco';
import { adapt } from '../src/adapt/index.js';

/**
 * Runs an adapted guest (test/fixtures/shim/select-guest.wat) under jco with a small in-test
 * host that records every call, to prove what the adapter sends to the component ABI for
 * `select` / `is_ready` with tagged and untagged handles.
 */
const DISPOSE: symbol = (Symbol as { dispose?: symbol }).dispose ?? Symbol.for('dispose');

describe('select and is_ready through the adapter', async () => {
  const guest = await parse(readFileSync(join(import.meta.dirname, 'fixtures', 'shim', 'select-guest.wat'), 'utf8'));
  const component = await adapt(guest);
  const { files } = await transpile(component, { name: 'guest', instantiation: 'sync', noTypescript: true } as never);
  const dir = mkdtempSync(join(tmpdir(), 'witshim-shim-'));
  writeFileSync(join(dir, 'guest.mjs'), files['guest.js']);
  const bindings = (await import(pathToFileURL(join(dir, 'guest.mjs')).href)) as {
    instantiate: (get: (name: string) => WebAssembly.Module, imports: object) => {
      httpIncoming: { handle: (req: object, body: object) => void };
    };
  };

  const calls: string[] = [];
  let reported = new Uint8Array();
  class Pollable {
    constructor(readonly label: string) {}
    isReady() {
      calls.push(`is-ready ${this.label}`);
      return true;
    }
    [DISPOSE]() {
      calls.push(`drop ${this.label}`);
    }
  }
  class CacheEntry {
    static lookup() {
      calls.push('cache lookup');
      return new CacheEntry();
    }
    subscribe() {
      calls.push('subscribe cache-entry');
      return new Pollable('subscribed');
    }
  }
  class Unused {}
  const host = {
    'fastly:compute/async-io': {
      Pollable,
      select: (list: Pollable[]) => {
        calls.push(`select ${list.map((p) => p.label).join(',')}`);
        return 1;
      },
      selectWithTimeout: (list: Pollable[], ms: number) => {
        calls.push(`select-with-timeout ${list.map((p) => p.label).join(',')} ${ms}ms`);
        return undefined;
      },
    },
    'fastly:compute/cache': { Entry: CacheEntry, ReplaceEntry: Unused, ExtraLookupOptions: Unused },
    'fastly:compute/http-cache': { Entry: Unused },
    'fastly:compute/http-body': {
      new: () => new Pollable('body'),
      write: (_b: Pollable, buf: Uint8Array) => {
        reported = buf.slice();
        return buf.length;
      },
      writeFront: () => {},
      close: () => calls.push('close'),
    },
    'fastly:compute/http-req': { Request: Unused },
  };
  const instance = bindings.instantiate((name) => new WebAssembly.Module(new Uint8Array(files[name])), host);
  instance.httpIncoming.handle(new Unused(), new Pollable('downstream'));
  const word = (i: number) => new DataView(reported.buffer).getUint32(i * 4, true);

  it('returns the legacy statuses', () => {
    expect(reported.length).toBe(44);
    expect(word(0)).toBe(0); // cache lookup
    expect(word(1)).toBe(0); // body new
    expect(word(2)).toBe(0); // select [cache entry, body]
    expect(word(3)).toBe(0); // is_ready(cache entry)
    expect(word(4)).toBe(2); // select of an empty list: inval
    expect(word(5)).toBe(3); // select of u32::MAX: badf
    expect(word(6)).toBe(0); // select with a timeout that expires
    expect(word(7)).toBe(3); // a cache handle passed to body close: badf
  });

  it('tags cache handles and reports ready indices and timeouts', () => {
    expect(word(8) & 0xf000_0000).toBe(0x1000_0000);
    expect(word(9)).toBe(1);
    expect(word(10)).toBe(0xffff_ffff);
  });

  it('subscribes to tagged handles, passes untagged ones through, drops only what it created', () => {
    expect(calls).toEqual([
      'cache lookup',
      'subscribe cache-entry',
      'select subscribed,body',
      'drop subscribed',
      'subscribe cache-entry',
      'is-ready subscribed',
      'drop subscribed',
      'select-with-timeout body 5ms',
    ]);
  });
});
