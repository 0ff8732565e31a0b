/**
 * What the on-disk builds (adapted components, transpiled glue, shapes, stand-ins) are keyed by:
 * a short hash of their inputs, and the version of jco that transpiled them.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

export function hashOf(...parts: Array<string | Uint8Array>): string {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(part).update('\0');
  return hash.digest('hex').slice(0, 32);
}

let jco: string | undefined;
export function jcoVersion(): string {
  if (jco) return jco;
  const pkg = join(dirname(new URL(import.meta.resolve('@bytecodealliance/jco')).pathname), '..', 'package.json');
  jco = (JSON.parse(readFileSync(pkg, 'utf8')) as { version: string }).version;
  return jco;
}
