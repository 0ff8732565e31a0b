/**
 * `witshim serve` alone, without the other commands' modules: what benchmarks and tests spawn
 * (a half-edited adapter elsewhere in the tree cannot stop it, and it starts faster). Takes the
 * same arguments as the CLI, `serve` first.
 */
import { Command } from 'commander';
import { registerServe, valuesAfterEquals } from './serve.js';

const program = new Command().exitOverride();
registerServe(program);
await program.parseAsync(valuesAfterEquals(process.argv.slice(2)), { from: 'user' });
