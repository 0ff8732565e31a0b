// `npm run test:compat [-- <case> ...]`: runs the compatibility cases (test/compat/cases/*.toml),
// all of them or the named ones, through test/compat-cases.test.ts.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = join(dirname(fileURLToPath(import.meta.url)), '../..');
const result = spawnSync(process.execPath, [join(repo, 'node_modules/vitest/vitest.mjs'), 'run', 'test/compat-cases.test.ts'], {
  cwd: repo,
  stdio: 'inherit',
  env: { ...process.env, WITSHIM_CASES: process.argv.slice(2).join(',') },
});
process.exitCode = result.status ?? 1;
