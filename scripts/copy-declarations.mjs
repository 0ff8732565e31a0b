// tsc does not copy .d.ts files from src/ into its output: the host's WIT declarations
// (src/host/wit-types, which dist's own declarations refer to) are copied here by `npm run build`.
// Usage: node scripts/copy-declarations.mjs [outDir]   (default: dist)
import { cpSync } from 'node:fs';
import { join, resolve } from 'node:path';

const root = join(import.meta.dirname, '..');
const outDir = resolve(process.argv[2] ?? join(root, 'dist'));
cpSync(join(root, 'src/host/wit-types'), join(outDir, 'host/wit-types'), { recursive: true });
