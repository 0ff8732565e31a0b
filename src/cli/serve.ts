import { existsSync, readFileSync, watch } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { Command } from 'commander';
import { emptyHostConfig, LOOPBACK_GEO, type HostConfig } from '../host/config.js';
import { prepareGuest } from '../server/artifacts.js';
import { ConfigError, loadFastlyToml } from '../server/config.js';
import { consoleLogger } from '../server/logger.js';
import { startDevServer } from '../server/server.js';
import { UsageError } from './errors.js';

interface ServeFlags {
  config?: string;
  addr: string;
  watch?: boolean;
  logStdout?: boolean;
  logStderr?: boolean;
  maxWaitingSandboxes?: string;
}

/** `--max-waiting-sandboxes`: a count, 0 turning reuse off. */
export function parseWaitingSandboxes(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d{1,6}$/.test(text)) throw new UsageError(`--max-waiting-sandboxes must be a whole number, got ${text}`);
  return Number(text);
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

export async function prepareApp(path: string) {
  try {
    return await prepareGuest(readApp(path));
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw new UsageError(`${path}: ${(err as Error).message.split('\n')[0]}`);
  }
}

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('Serve a Compute app (legacy core module or component) on a local HTTP server')
    .argument('<app.wasm>', 'the app to serve')
    .option('-C, --config <fastly.toml>', 'fastly.toml whose [local_server] describes backends and stores')
    .option('--addr <host:port>', 'address to listen on', '127.0.0.1:7676')
    .option('--watch', 'reload when the app or fastly.toml changes')
    .option('--log-stdout', 'treat guest stdout as a log endpoint named "stdout"')
    .option('--log-stderr', 'treat guest stderr as a log endpoint named "stderr"')
    .option('--max-waiting-sandboxes <n>', 'guests that may wait for a further request at once (reusable sandboxes; 0: none)')
    .action(async (app: string, flags: ServeFlags) => {
      const { host, port } = parseAddress(flags.addr);
      const maxWaiting = parseWaitingSandboxes(flags.maxWaitingSandboxes);
      const logger = consoleLogger({ logStdout: flags.logStdout, logStderr: flags.logStderr });
      const server = await startDevServer({ artifacts: await prepareApp(app), config: loadConfig(app, flags.config), host, port, logger, sandboxLimits: maxWaiting === undefined ? {} : { maxWaiting } }).catch((err: NodeJS.ErrnoException) => {
        throw err.code === 'EADDRINUSE' || err.code === 'EACCES' ? new UsageError(`cannot listen on ${flags.addr}: ${err.code}`) : err;
      });
      logger.info(`Listening on ${server.url}`);
      if (flags.watch) watchAndReload(app, flags.config, server, logger);
      await new Promise<void>((resolveStop) => {
        const stop = () => void server.close().then(resolveStop);
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
    });
}

function watchAndReload(app: string, configPath: string | undefined, server: Awaited<ReturnType<typeof startDevServer>>, logger: ReturnType<typeof consoleLogger>): void {
  let timer: NodeJS.Timeout | undefined;
  const reload = () => {
    clearTimeout(timer);
    // Editors and compilers write in bursts; reload once things settle.
    timer = setTimeout(async () => {
      const started = process.hrtime.bigint();
      try {
        await server.reload(await prepareApp(app), loadConfig(app, configPath));
        // From the settled change to the new guest's workers ready: what an edit costs before it is served.
        logger.info(`Reloaded in ${(Number(process.hrtime.bigint() - started) / 1e6).toFixed(0)}ms`);
      } catch (err) {
        logger.error(`reload failed, still serving the previous version: ${(err as Error).message}`);
      }
    }, 200);
  };
  for (const path of [app, configPath].filter((path): path is string => path !== undefined)) watch(path, reload).unref();
}
