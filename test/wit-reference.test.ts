// Our wit/ must describe the same ABI as the published Fastly WIT, apart from
// the one designed change. The published copy lives outside the repository
// and is absent from a fresh clone, so these checks skip without it.

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { describeType, describeWitFunction, loadWit, type WitResolve } from '../src/wit/index.js';

const REFERENCE = path.resolve(fileURLToPath(new URL('..', import.meta.url)), '../shared/reference/fastly-abi');
const missing = !fs.existsSync(path.join(REFERENCE, 'wit'));
if (missing) console.warn(`skipping the reference WIT comparison: ${REFERENCE} not found`);

const DESIGNED_ADDITIONS = [
  'fastly:compute/cache@0.1.0#[method]entry.subscribe',
  'fastly:compute/cache@0.1.0#[method]replace-entry.subscribe',
  'fastly:compute/http-cache@0.1.0#[method]entry.subscribe',
];

const fastlyInterfaces = (r: WitResolve) => [...r.interfaces.values()].filter((i) => i.id.startsWith('fastly:'));

function functions(r: WitResolve): Map<string, string> {
  return new Map(fastlyInterfaces(r).flatMap((i) => [...i.functions.values()].map((f) => [`${i.id}#${f.name}`, describeWitFunction(r, f)] as const)));
}

function types(r: WitResolve): Map<string, string> {
  return new Map(fastlyInterfaces(r).flatMap((i) => [...i.types.values()].map((def) => [`${i.id}#${def.name}`, describeType({ kind: 'named', def })] as const)));
}

function worlds(r: WitResolve): Map<string, string[]> {
  return new Map(
    [...r.worlds.values()]
      .filter((w) => w.id.startsWith('fastly:'))
      .map((w) => [w.id, [...w.imports.map((i) => `import ${i.name}`), ...w.exports.map((e) => `export ${e.name}`)]]),
  );
}

describe.skipIf(missing)(`our wit/ against ${REFERENCE} (skipped when absent)`, () => {
  const reference = missing ? undefined : loadWit(path.join(REFERENCE, 'wit'));
  const ours = loadWit();

  it('has the same interfaces', () => {
    expect(fastlyInterfaces(ours).map((i) => i.id).sort()).toEqual(fastlyInterfaces(reference!).map((i) => i.id).sort());
  });

  it('has the same functions, except exactly the three added `subscribe` methods', () => {
    const theirs = functions(reference!);
    const mine = functions(ours);
    const differing = [...new Set([...theirs.keys(), ...mine.keys()])].filter((k) => theirs.get(k) !== mine.get(k)).sort();
    expect(differing).toEqual([...DESIGNED_ADDITIONS].sort());
    for (const k of DESIGNED_ADDITIONS) expect(theirs.has(k)).toBe(false);
    expect(theirs.size).toBe(mine.size - 3);
  });

  it('has identical types', () => {
    expect(types(ours)).toEqual(types(reference!));
  });

  it('has worlds with the same imports and exports', () => {
    expect(worlds(ours)).toEqual(worlds(reference!));
  });
});
