import { existsSync, readFileSync, watch } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { Command } from 'commander';
import { emptyHostConfig, LOOPBACK_GEO, type HostConfig } from '../host/config.js';
import { prepareGuest } from '../server/artifacts.js';
import { ConfigError, loadFastlyToml } from '../server/config.js';
import { consoleLogger } from '../server/logger.js';
import { startDevServer } from '../server/server.js';
import { statsLine } from '../server/stats.js';
import { PLATFORM_REQUEST_LIMITS } from '../server/limits.js';
import { UsageError } from './errors.js';
import { addLimitOptions, guestLimits, positiveInteger, type LimitFlags } from './limit-flags.js';

interface ServeFlags extends LimitFlags {
  config?: string;
  spareWorkers?: string;
  stats?: string;
  maxBody?: string;
  addr: string;
  watch?: boolean;
  logStdout?: boolean;
  logStderr?: boolean;
}

export function parseAddress(text: string): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(text);
  const port = match ? Number(match[3]) : NaN;
  if (!match || port > 65535) throw new UsageError(`--addr must be HOST:PORT (e.g. 127.0.0.1:7676), got ${text}`);
  return { host: (match[1] ?? match[2])!, port };
}

export function readApp(path: string): Uint8Array {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new UsageError(`cannot read ${path}: ${(err as Error).message}`);
  }
}

/** fastly.toml from -C, else beside the app or in the working directory, else an empty config. */
export function loadConfig(app: string, explicit: string | undefined): HostConfig {
  const warn = (message: string) => process.stderr.write(`witshim: warning: ${message}\n`);
  const candidates = explicit ? [explicit] : [resolve('fastly.toml'), resolve(dirname(app), 'fastly.toml')];
  const path = candidates.find((candidate) => existsSync(candidate));
  if (explicit && !path) throw new UsageError(`cannot read ${explicit}: no such file`);
  if (!path) {
    const config = emptyHostConfig();
    config.geolocation.addresses = { '127.0.0.1': LOOPBACK_GEO, '::1': LOOPBACK_GEO };
    return config;
  }
  try {
    return loadFastlyToml(path, warn);
  } catch (err) {
    if (err instanceof ConfigError) throw new UsageError(err.message);
    throw err;
  }
}

export async function prepareApp(path: string, memoryBytes?: number) {
  try {
    return await prepareGuest(readApp(path), undefined, { memoryBytes });
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw new UsageError(`${path}: ${(err as Error).message.split('\n')[0]}`);
  }
}

export function registerServe(program: Command): void {
  const command = program
    .command('serve')
    .description('Serve a Compute app (legacy core module or component) on a local HTTP server')
    .argument('<app.wasm>', 'the app to serve')
    .option('-C, --config <fastly.toml>', 'fastly.toml whose [local_server] describes backends and stores')
    .option('--addr <host:port>', 'address to listen on', '127.0.0.1:7676')
    .option('--watch', 'reload when the app or fastly.toml changes')
    .option('--log-stdout', 'treat guest stdout as a log endpoint named "stdout"')
    .option('--log-stderr', 'treat guest stderr as a log endpoint named "stderr"')
    .option('--spare-workers <n>', 'started, idle guest workers kept ahead of demand (default: one per core)')
    .option('--max-body <bytes>', `request bodies larger than this are refused with 413 (default ${PLATFORM_REQUEST_LIMITS.bodyBytes})`)
    .option('--stats <seconds>', 'print a stats line (workers, requests in flight, connections, memory, file descriptors) this often');
  addLimitOptions(command).action(async (app: string, flags: ServeFlags) => {
    const { host, port } = parseAddress(flags.addr);
    const limits = guestLimits(flags);
    const spareWorkers = flags.spareWorkers === undefined ? undefined : positiveInteger('--spare-workers', flags.spareWorkers);
    const statsSeconds = flags.stats === undefined ? undefined : positiveInteger('--stats', flags.stats);
    const requestLimits = { ...PLATFORM_REQUEST_LIMITS, ...(flags.maxBody === undefined ? {} : { bodyBytes: positiveInteger('--max-body', flags.maxBody) }) };
    const logger = consoleLogger({ logStdout: flags.logStdout, logStderr: flags.logStderr });
    const artifacts = await prepareApp(app, limits.memoryBytes);
    const server = await startDevServer({ artifacts, config: loadConfig(app, flags.config), host, port, logger, limits, requestLimits, spareWorkers }).catch((err: NodeJS.ErrnoException) => {
      throw err.code === 'EADDRINUSE' || err.code === 'EACCES' ? new UsageError(`cannot listen on ${flags.addr}: ${err.code}`) : err;
    });
    logger.info(`Listening on ${server.url}`);
    if (flags.watch) watchAndReload(app, flags.config, server, logger, limits.memoryBytes);
    if (statsSeconds !== undefined) setInterval(() => logger.info(statsLine(server.stats())), statsSeconds * 1000).unref();
    await new Promise<void>((resolveStop) => {
      const stop = () => void server.close().then(resolveStop);
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
  });
}

function watchAndReload(app: string, configPath: string | undefined, server: Awaited<ReturnType<typeof startDevServer>>, logger: ReturnType<typeof consoleLogger>, memoryBytes: number): void {
  let timer: NodeJS.Timeout | undefined;
  const reload = () => {
    clearTimeout(timer);
    // Editors and compilers write in bursts; reload once things settle.
    timer = setTimeout(async () => {
      try {
        await server.reload(await prepareApp(app, memoryBytes), loadConfig(app, configPath));
        logger.info('Reloaded');
      } catch (err) {
        logger.error(`reload failed, still serving the previous version: ${(err as Error).message}`);
      }
    }, 200);
  };
  for (const path of [app, configPath].filter((path): path is string => path !== undefined)) watch(path, reload).unref();
}
