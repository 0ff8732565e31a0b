import { existsSync, openSync, readFileSync, watch, writeSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import type { Command } from 'commander';
import { findConfigFile } from '../api/config.js';
import { createServer, fullLogger, type HostcallTrace, type ListenOptions, type Server } from '../api/server.js';
import type { Logger } from '../server/logger.js';
import { DEFAULT_TARGET } from '../adapter/target.js';
import { parseTarget, TARGET_HELP } from './adapt.js';
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
  https?: boolean;
  tlsCert?: string;
  tlsKey?: string;
  tlsClientCa?: string;
  target: string;
  maxWaitingSandboxes?: string;
  traceHostcalls?: string | true;
  /** Commander's `--no-stand-in`: true unless given. */
  standIn: boolean;
}

/** Options with an optional value, given only as `--option=value`. */
const VALUE_AFTER_EQUALS = ['--trace-hostcalls'];

/**
 * `argv` with each bare option of VALUE_AFTER_EQUALS written `--option=`, so that commander
 * does not take the next argument as its value: `--trace-hostcalls app.wasm` must not read the
 * app as the trace file.
 */
export function valuesAfterEquals(argv: readonly string[]): string[] {
  return argv.map((arg) => (VALUE_AFTER_EQUALS.includes(arg) ? `${arg}=` : arg));
}

/**
 * `--trace-hostcalls[=FILE]`: each request's hostcall trace as a JSON line, into FILE (made
 * afresh) or, without one, onto stderr. Lines are written as requests end, synchronously, so
 * a server that is killed loses none.
 */
export function traceWriter(value: string | true | undefined): ((trace: HostcallTrace) => void) | undefined {
  if (value === undefined) return undefined;
  if (value === true || value === '') return (trace) => void process.stderr.write(`${JSON.stringify(trace)}\n`);
  let fd: number;
  try {
    fd = openSync(value, 'w');
  } catch (err) {
    throw new UsageError(`cannot write --trace-hostcalls ${value}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  return (trace) => void writeSync(fd, `${JSON.stringify(trace)}\n`);
}

function readPem(flag: string, path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read ${flag} ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

/** `--tls-cert` with `--tls-key` serve HTTPS with that certificate; `--https` alone with a self-signed one for localhost. */
export function tlsFlags(flags: Pick<ServeFlags, 'https' | 'tlsCert' | 'tlsKey' | 'tlsClientCa'>): ListenOptions['tls'] {
  if ((flags.tlsCert === undefined) !== (flags.tlsKey === undefined)) throw new UsageError('--tls-cert and --tls-key go together');
  const ca = flags.tlsClientCa === undefined ? undefined : readPem('--tls-client-ca', flags.tlsClientCa);
  if (flags.tlsCert !== undefined && flags.tlsKey !== undefined) {
    const identity = { cert: readPem('--tls-cert', flags.tlsCert), key: readPem('--tls-key', flags.tlsKey), ca };
    // Checked before the app is loaded: not PEM, or a key that is not the certificate's.
    try {
      createSecureContext(identity);
    } catch (err) {
      throw new UsageError(`bad --tls-cert / --tls-key: ${(err as Error).message.split('\n')[0]}`);
    }
    return identity;
  }
  if (ca !== undefined) throw new UsageError('--tls-client-ca needs --tls-cert and --tls-key');
  return flags.https ? 'self-signed' : undefined;
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

/** `-C`: the file must exist; without it the API looks for `fastly.toml` here, then beside the app. */
export function configFlag(path: string | undefined): string | undefined {
  if (path !== undefined && !existsSync(path)) throw new UsageError(`cannot read ${path}: no such file`);
  return path;
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
    .option('--https', 'serve HTTPS with a self-signed certificate for localhost (unless --tls-cert is given)')
    .option('--tls-cert <file>', 'serve HTTPS with this PEM certificate (chain)')
    .option('--tls-key <file>', 'the PEM private key of --tls-cert')
    .option('--tls-client-ca <file>', 'PEM CA certificates to verify client certificates against')
    .option('--target <target>', `legacy modules only: ${TARGET_HELP}`, DEFAULT_TARGET)
    .option('--trace-hostcalls [file]', 'write each request\'s legacy hostcalls and their statuses as JSON lines to FILE (--trace-hostcalls=FILE), or to stderr')
    .option('--max-waiting-sandboxes <n>', 'guests that may wait for a further request at once (reusable sandboxes; 0: none)')
    .option('--spare-workers <n>', 'started, idle guest workers kept ahead of demand (default: one per core)')
    .option('--max-body <bytes>', `request bodies larger than this are refused with 413 (default ${PLATFORM_REQUEST_LIMITS.bodyBytes})`)
    .option('--no-stand-in', "build a legacy module's own glue before serving it, instead of starting on the prebuilt stand-in glue while it is built")
    .option('--stats <seconds>', 'print a stats line (workers, requests in flight, connections, memory, file descriptors) this often');
  addLimitOptions(command).action(async (app: string, flags: ServeFlags) => {
    const { host, port } = parseAddress(flags.addr);
    const tls = tlsFlags(flags);
    const target = parseTarget(flags.target);
    const maxWaiting = parseWaitingSandboxes(flags.maxWaitingSandboxes);
    const limits = guestLimits(flags);
    const spareWorkers = flags.spareWorkers === undefined ? undefined : positiveInteger('--spare-workers', flags.spareWorkers);
    const statsSeconds = flags.stats === undefined ? undefined : positiveInteger('--stats', flags.stats);
    const requestLimits = flags.maxBody === undefined ? {} : { bodyBytes: positiveInteger('--max-body', flags.maxBody) };
    const traceHostcalls = traceWriter(flags.traceHostcalls);
    const logger = fullLogger(flags);
    // The file found without -C is the one watched and re-read on reload.
    const configPath = configFlag(flags.config) ?? findConfigFile(app);
    const server = await createServer(app, {
      config: configPath,
      target,
      sandboxLimits: maxWaiting === undefined ? {} : { maxWaiting },
      limits,
      requestLimits,
      spareWorkers,
      logger,
      logStdout: flags.logStdout,
      logStderr: flags.logStderr,
      traceHostcalls,
      standIn: flags.standIn,
    });
    const url = await server.listen({ host, port, tls }).catch(async (err: NodeJS.ErrnoException) => {
      await server.close();
      if (err.code === 'EADDRINUSE' || err.code === 'EACCES') throw new UsageError(`cannot listen on ${flags.addr}: ${err.code}`);
      throw err;
    });
    logger.info(`Listening on ${url}`);
    if (flags.watch) watchAndReload(app, configPath, server, logger);
    if (statsSeconds !== undefined) setInterval(() => logger.info(statsLine(server.stats())), statsSeconds * 1000).unref();
    await new Promise<void>((resolveStop) => {
      const stop = () => void server.close().then(resolveStop);
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
  });
}

function watchAndReload(app: string, configPath: string | undefined, server: Server, logger: Logger): void {
  let timer: NodeJS.Timeout | undefined;
  const reload = () => {
    clearTimeout(timer);
    // Editors and compilers write in bursts; reload once things settle.
    timer = setTimeout(async () => {
      const started = process.hrtime.bigint();
      try {
        await server.reload(app, configPath);
        // From the settled change to the new guest's workers ready: what an edit costs before it is served.
        logger.info(`Reloaded in ${(Number(process.hrtime.bigint() - started) / 1e6).toFixed(0)}ms`);
      } catch (err) {
        logger.error(`reload failed, still serving the previous version: ${(err as Error).message}`);
      }
    }, 200);
  };
  for (const path of [app, configPath].filter((path): path is string => path !== undefined)) watch(path, reload).unref();
}
