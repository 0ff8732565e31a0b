import type { Command } from 'commander';
import { readFileSync, writeFileSync } from 'node:fs';
import { ADAPTER_TARGETS, DEFAULT_TARGET, isAdapterTarget, type AdapterTarget } from '../adapter/target.js';
import { UsageError } from './errors.js';

interface AdaptCliOptions {
  output: string;
  unknownImports: 'error' | 'trap';
  target: string;
}

/** `--target`, checked: the WIT the adapter is generated against. */
export function parseTarget(value: string): AdapterTarget {
  if (!isAdapterTarget(value)) throw new UsageError(`--target must be ${ADAPTER_TARGETS.map((t) => `"${t}"`).join(' or ')}, not "${value}"`);
  return value;
}

export const TARGET_HELP = 'the WIT the adapter speaks: "subscribe" (this project\'s, for witshim serve) or "published" (fastly:compute@0.1.0 as published, for other hosts)';

export function registerAdapt(program: Command): void {
  program
    .command('adapt')
    .description('wrap a legacy Fastly Compute core module into a component')
    .argument('<in.wasm>', 'the legacy module')
    .requiredOption('-o, --output <out.wasm>', 'where to write the component')
    .option('--unknown-imports <mode>', 'imports outside the ABI: "error" refuses, "trap" builds stubs that trap when called', 'error')
    .option('--target <target>', TARGET_HELP, DEFAULT_TARGET)
    .action(async (input: string, opts: AdaptCliOptions) => {
      if (opts.unknownImports !== 'error' && opts.unknownImports !== 'trap') {
        throw new UsageError(`--unknown-imports must be "error" or "trap", not "${opts.unknownImports}"`);
      }
      const target = parseTarget(opts.target);
      const bytes = readInput(input);
      // Loaded here, not at start-up: wasm-tools costs every other command (serve) ~0.2 s to load.
      const { adapt, AdaptError } = await import('../adapt/index.js');
      const started = Date.now();
      let component: Uint8Array;
      try {
        component = await adapt(bytes, { unknownImports: opts.unknownImports, target });
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
