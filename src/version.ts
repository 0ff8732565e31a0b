import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

/** The repository root: this file lives in src/ (tests) or dist/ (built CLI), one level down. */
export const projectRoot = join(dirname(fileURLToPath(import.meta.url)), '..');

let cached: string | undefined;

export function packageVersion(): string {
  cached ??= (JSON.parse(readFileSync(join(projectRoot, 'package.json'), 'utf8')) as { version: string }).version;
  return cached;
}
