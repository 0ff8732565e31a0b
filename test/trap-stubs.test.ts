import { describe, expect, it } from 'vitest';
import { trapStubs } from '../src/adapt/trap-stubs.js';

describe('stubs for unknown imports', () => {
  it('write the import name to stderr, then trap', async () => {
    const stub = await trapStubs([{ module: 'other', name: 'thing', kind: 'function', type: { params: ['i32'], results: ['i32'] } }]);
    const memory = new WebAssembly.Memory({ initial: 1 });
    const written: string[] = [];
    const instance = new WebAssembly.Instance(new WebAssembly.Module(new Uint8Array(stub)), {
      env: { memory },
      'wasi:cli/stderr@0.2.6': { 'get-stderr': () => 7 },
      'wasi:io/streams@0.2.6': {
        '[method]output-stream.blocking-write-and-flush': (stream: number, ptr: number, len: number) => {
          expect(stream).toBe(7);
          written.push(new TextDecoder().decode(new Uint8Array(memory.buffer, ptr, len)));
        },
      },
    });
    const call = instance.exports['other::thing'] as (x: number) => number;
    expect(() => call(1)).toThrow(WebAssembly.RuntimeError);
    expect(written).toEqual(['witshim: other::thing is not part of the Fastly ABI\n']);
  });
});
