import type { Command } from 'commander';
import { consoleLogger } from '../server/logger.js';
import { WorkerPool } from '../server/pool.js';
import { RequestHost } from '../server/request-host.js';
import { guestEnvironment } from '../server/server.js';
import { addLimitOptions, guestLimits, RUN_LIMITS, type LimitFlags } from './limit-flags.js';
import { loadConfig, prepareApp } from './serve.js';

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
    const config = loadConfig(app, flags.config);
    const limits = guestLimits(flags, RUN_LIMITS);
    const pool = new WorkerPool(await prepareApp(app, limits.memoryBytes), config, { maxWorkers: 1, spareWorkers: 0, limits });
    const passthrough = consoleLogger();
    passthrough.guestOutput = (_id, stream, text) => void (stream === 'stdout' ? process.stdout : process.stderr).write(text);
    try {
      const { finished } = await pool.run((reply) => ({
        host: new RequestHost('run', undefined, reply, passthrough),
        message: { kind: 'command', args: [app, ...args], env: guestEnvironment(config, 'run') },
      }));
      process.exitCode = finished.exitCode ?? (finished.outcome === 'ok' ? 0 : 1);
    } finally {
      await pool.close();
    }
  });
}
