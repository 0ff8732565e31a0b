import { Command, CommanderError } from 'commander';
import { packageVersion } from '../version.js';
import { asUsageError, UsageError } from './errors.js';
import { registerAbi } from './abi.js';
import { registerAdapt } from './adapt.js';
import { registerInspect } from './inspect.js';
import { registerRun } from './run.js';
import { registerServe, valuesAfterEquals } from './serve.js';

export function buildProgram(): Command {
  const program = new Command('witshim')
    .description('Run legacy Fastly Compute (WITX) WebAssembly modules as components')
    .version(packageVersion(), '-V, --version')
    .exitOverride()
    .showHelpAfterError('(run with --help for usage)');
  registerAbi(program);
  registerAdapt(program);
  registerInspect(program);
  registerServe(program);
  registerRun(program);
  return program;
}

/** Runs the CLI and returns the process exit code; never calls process.exit itself. */
export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(valuesAfterEquals(argv), { from: 'user' });
    // Commands report a non-zero outcome (such as `abi --compare` finding differences) here.
    return Number(process.exitCode ?? 0);
  } catch (thrown) {
    const err = asUsageError(thrown);
    if (err instanceof CommanderError) {
      // --help and --version arrive here as "errors" with exit code 0.
      return err.exitCode;
    }
    if (err instanceof UsageError) {
      process.stderr.write(`witshim: ${err.message}\n`);
      return err.exitCode;
    }
    throw err;
  }
}
