/**
 * What the on-disk builds (adapted components, transpiled glue, shapes, stand-ins) are keyed by:
 * a short hash of their inputs, and the versions of jco that transpile them.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

export function hashOf(...parts: Array<string | Uint8Array>): string {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(part).update('\0');
  return hash.digest('hex').slice(0, 32);
}

function versionOf(specifier: string): string {
  const pkg = join(dirname(new URL(import.meta.resolve(specifier)).pathname), '..', 'package.json');
  return (JSON.parse(readFileSync(pkg, 'utf8')) as { version: string }).version;
}

let transpilers: string | undefined;
/** Both jcos that may transpile a guest (see transpile.ts): what the glue depends on. */
export function transpilerVersions(): string {
  transpilers ??= `jco-glue@${versionOf('jco-glue')}+jco@${versionOf('@bytecodealliance/jco')}`;
  return transpilers;
}
