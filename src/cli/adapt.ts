import type { Command } from 'commander';
import { readFileSync, writeFileSync } from 'node:fs';
import { UsageError } from './errors.js';

interface AdaptCliOptions {
  output: string;
  unknownImports: 'error' | 'trap';
}

export function registerAdapt(program: Command): void {
  program
    .command('adapt')
    .description('wrap a legacy Fastly Compute core module into a component')
    .argument('<in.wasm>', 'the legacy module')
    .requiredOption('-o, --output <out.wasm>', 'where to write the component')
    .option('--unknown-imports <mode>', 'imports outside the ABI: "error" refuses, "trap" builds stubs that trap when called', 'error')
    .action(async (input: string, opts: AdaptCliOptions) => {
      if (opts.unknownImports !== 'error' && opts.unknownImports !== 'trap') {
        throw new UsageError(`--unknown-imports must be "error" or "trap", not "${opts.unknownImports}"`);
      }
      const bytes = readInput(input);
      // Loaded here, not at start-up: wasm-tools costs every other command (serve) ~0.2 s to load.
      const { adapt, AdaptError } = await import('../adapt/index.js');
      const started = Date.now();
      let component: Uint8Array;
      try {
        component = await adapt(bytes, { unknownImports: opts.unknownImports });
      } catch (err) {
        if (err instanceof AdaptError) throw new UsageError(`${input}: ${err.message}`);
        throw err;
      }
      try {
        writeFileSync(opts.output, component);
      } catch (err) {
        throw new UsageError(`cannot write ${opts.output}: ${(err as Error).message}`);
      }
      process.stderr.write(`adapted ${input} -> ${opts.output} (${component.length} bytes, ${Date.now() - started} ms)\n`);
    });
}

export function readInput(path: string): Uint8Array {
  try {
    return new Uint8Array(readFileSync(path));
  } catch (err) {
    throw new UsageError(`cannot read ${path}: ${(err as Error).message}`);
  }
}
