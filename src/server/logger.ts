/** Where the dev server's lines go: access log and endpoint lines on stdout, problems on stderr. */
export interface Logger {
  info(line: string): void;
  error(line: string): void;
  /** A line the guest printed on its stdout or stderr. */
  guestOutput(requestId: string, stream: 'stdout' | 'stderr', line: string): void;
  /** A line written to a `log` endpoint. */
  endpoint(name: string, line: string): void;
  /**
   * A request's hostcall trace as a traced adapter reported it (`--trace-hostcalls`): trace id,
   * status, trace id, status, … The API names them (`hostcall-trace.ts`, loaded only when tracing).
   */
  hostcalls?(requestId: string, reports: readonly number[]): void;
}

export interface ConsoleLoggerOptions {
  /** Treat guest stdout / stderr as log endpoints named `stdout` / `stderr`. */
  logStdout?: boolean;
  logStderr?: boolean;
}

export function consoleLogger(options: ConsoleLoggerOptions = {}): Logger {
  const out = (line: string) => process.stdout.write(`${line}\n`);
  const err = (line: string) => process.stderr.write(`${line}\n`);
  const logger: Logger = {
    info: out,
    error: err,
    endpoint: (name, line) => out(`${name} :: ${line}`),
    guestOutput(requestId, stream, line) {
      if ((stream === 'stdout' && options.logStdout) || (stream === 'stderr' && options.logStderr)) logger.endpoint(stream, line);
      else (stream === 'stdout' ? out : err)(`[${requestId}] ${line}`);
    },
  };
  return logger;
}
