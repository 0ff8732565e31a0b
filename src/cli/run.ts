import type { Command } from 'commander';
import { runOnce } from '../api/server.js';
import { configFlag } from './serve.js';

interface RunFlags {
  config?: string;
}

export function registerRun(program: Command): void {
  program
    .command('run')
    .description('Run an app once as a command (wasi:cli/run), passing stdout and stderr through')
    .argument('<app.wasm>', 'the app to run')
    .argument('[args...]', 'arguments for the app')
    .option('-C, --config <fastly.toml>', 'fastly.toml whose [local_server] describes backends and stores')
    .action(async (app: string, args: string[], flags: RunFlags) => {
      const result = await runOnce(app, args, { config: configFlag(flags.config) });
      process.exitCode = result.exitCode;
    });
}
