import type { Command } from 'commander';
import { runOnce } from '../api/server.js';
import { addLimitOptions, guestLimits, RUN_LIMITS, type LimitFlags } from './limit-flags.js';
import { configFlag } from './serve.js';

interface RunFlags extends LimitFlags {
  config?: string;
}

export function registerRun(program: Command): void {
  const command = program
    .command('run')
    .description('Run an app once as a command (wasi:cli/run), passing stdout and stderr through')
    .argument('<app.wasm>', 'the app to run')
    .argument('[args...]', 'arguments for the app')
    .option('-C, --config <fastly.toml>', 'fastly.toml whose [local_server] describes backends and stores');
  addLimitOptions(command, RUN_LIMITS).action(async (app: string, args: string[], flags: RunFlags) => {
    const result = await runOnce(app, args, { config: configFlag(flags.config), limits: guestLimits(flags, RUN_LIMITS) });
    process.exitCode = result.exitCode;
  });
}
