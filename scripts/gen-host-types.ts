// Writes the host's WIT declarations into src/host/wit-types/ (committed; test/host-types.test.ts checks they are current).
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { hostDeclarations } from '../src/wit/host-types.js';

const target = join(import.meta.dirname, '../src/host/wit-types');
rmSync(target, { recursive: true, force: true });
for (const [name, text] of Object.entries(await hostDeclarations())) {
  mkdirSync(dirname(join(target, name)), { recursive: true });
  writeFileSync(join(target, name), text);
}
console.log(`host declarations written to ${target}`);
