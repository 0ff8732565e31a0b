import { randomFillSync } from 'node:crypto';

/**
 * The `wasi:*@0.2.x` imports a guest sees, all local because they are per request: output goes
 * to the request's log, the environment is only the FASTLY_* variables, there are no preopened
 * directories, and timers block the worker. Randomness is node:crypto's (preview2-shim's module
 * did the same, but loading it cost every worker start ~20 ms).
 */
export interface WasiOptions {
  env: Record<string, string>;
  args: string[];
  /** Receives guest output; `raw` chunks as written, or complete lines when `lines` is set. */
  output(stream: 'stdout' | 'stderr', text: string): void;
  lines: boolean;
}

/** Thrown through the guest when it calls `wasi:cli/exit`; the runner turns it into a status. */
export class GuestExit extends Error {
  constructor(readonly code: number) {
    super(`guest exited with status ${code}`);
  }
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));

function randomBytes(len: bigint): Uint8Array {
  return randomFillSync(new Uint8Array(Number(len)));
}

function randomU64(): bigint {
  return randomFillSync(new BigUint64Array(1))[0]!;
}

const random = { getRandomBytes: randomBytes, getRandomU64: randomU64 };
const insecure = { getInsecureRandomBytes: randomBytes, getInsecureRandomU64: randomU64 };
/** WASI: the same pair for the life of the instance; here for the worker's, as preview2-shim did per process. */
let seed: [bigint, bigint] | undefined;
const insecureSeed = { insecureSeed: (): [bigint, bigint] => (seed ??= [randomU64(), randomU64()]) };

function sleepUntil(deadline: bigint): void {
  const remainingMs = Number(deadline - process.hrtime.bigint()) / 1e6;
  if (remainingMs > 0) Atomics.wait(sleeper, 0, 0, remainingMs);
}

class WasiPollable {
  /** Monotonic deadline in ns; undefined means always ready. */
  constructor(readonly deadline?: bigint) {}

  ready(): boolean {
    return this.deadline === undefined || process.hrtime.bigint() >= this.deadline;
  }

  block(): void {
    if (this.deadline !== undefined) sleepUntil(this.deadline);
  }
}

function poll(list: WasiPollable[]): Uint32Array {
  if (list.length === 0) throw new Error('wasi:io/poll.poll: empty list');
  for (;;) {
    const ready = list.flatMap((pollable, index) => (pollable.ready() ? [index] : []));
    if (ready.length > 0) return Uint32Array.from(ready);
    const earliest = list.reduce((min, pollable) => (pollable.deadline! < min ? pollable.deadline! : min), list[0]!.deadline!);
    sleepUntil(earliest);
  }
}

class IoError {
  constructor(private readonly message: string) {}

  toDebugString(): string {
    return this.message;
  }
}

const closed = { tag: 'closed' } as const;

class InputStream {
  read(): never {
    throw closed;
  }
  blockingRead(): never {
    throw closed;
  }
  skip(): never {
    throw closed;
  }
  blockingSkip(): never {
    throw closed;
  }
  subscribe(): WasiPollable {
    return new WasiPollable();
  }
}

class OutputStream {
  private pending = '';
  private readonly decoder = new TextDecoder();

  constructor(
    private readonly stream: 'stdout' | 'stderr',
    private readonly options: WasiOptions,
  ) {}

  checkWrite(): bigint {
    return 1n << 20n;
  }

  write(bytes: Uint8Array): void {
    const text = this.decoder.decode(bytes, { stream: true });
    if (!this.options.lines) {
      if (text) this.options.output(this.stream, text);
      return;
    }
    const lines = (this.pending + text).split('\n');
    this.pending = lines.pop()!;
    for (const line of lines) this.options.output(this.stream, line);
  }

  blockingWriteAndFlush(bytes: Uint8Array): void {
    this.write(bytes);
  }

  flush(): void {}

  blockingFlush(): void {}

  writeZeroes(length: bigint): void {
    this.write(new Uint8Array(Number(length)));
  }

  blockingWriteZeroesAndFlush(length: bigint): void {
    this.writeZeroes(length);
  }

  splice(): never {
    throw closed;
  }

  blockingSplice(): never {
    throw closed;
  }

  subscribe(): WasiPollable {
    return new WasiPollable();
  }

  /** Emits a last line that had no newline. */
  end(): void {
    if (this.options.lines && this.pending) this.options.output(this.stream, this.pending);
    this.pending = '';
  }
}

/** Never handed out: there are no preopens, so the guest can reach no file or directory. */
class Descriptor {}
class DirectoryEntryStream {}
class TerminalInput {}
class TerminalOutput {}

export interface Wasi {
  imports: Record<string, Record<string, unknown>>;
  /** Flushes partial output lines once the guest is done. */
  finish(): void;
}

export function createWasi(options: WasiOptions): Wasi {
  const stdout = new OutputStream('stdout', options);
  const stderr = new OutputStream('stderr', options);
  const stdin = new InputStream();
  const monotonicClock = {
    now: () => process.hrtime.bigint(),
    resolution: () => 1n,
    subscribeInstant: (when: bigint) => new WasiPollable(when),
    subscribeDuration: (duration: bigint) => new WasiPollable(process.hrtime.bigint() + duration),
  };
  const wallClock = {
    now() {
      const ms = Date.now();
      return { seconds: BigInt(Math.floor(ms / 1000)), nanoseconds: (ms % 1000) * 1_000_000 };
    },
    resolution: () => ({ seconds: 0n, nanoseconds: 1_000_000 }),
  };
  const imports: Record<string, Record<string, unknown>> = {
    'wasi:cli/environment': {
      // Read when asked: an instance may be made before the request it serves is known.
      getEnvironment: () => Object.entries(options.env),
      getArguments: () => options.args,
      initialCwd: () => undefined,
    },
    'wasi:cli/exit': {
      exit(status: { tag: 'ok' | 'err' }) {
        throw new GuestExit(status.tag === 'ok' ? 0 : 1);
      },
      exitWithCode(code: number) {
        throw new GuestExit(code);
      },
    },
    'wasi:cli/stdin': { getStdin: () => stdin },
    'wasi:cli/stdout': { getStdout: () => stdout },
    'wasi:cli/stderr': { getStderr: () => stderr },
    'wasi:cli/terminal-input': { TerminalInput },
    'wasi:cli/terminal-output': { TerminalOutput },
    'wasi:cli/terminal-stdin': { getTerminalStdin: () => undefined },
    'wasi:cli/terminal-stdout': { getTerminalStdout: () => undefined },
    'wasi:cli/terminal-stderr': { getTerminalStderr: () => undefined },
    'wasi:clocks/monotonic-clock': monotonicClock,
    'wasi:clocks/wall-clock': wallClock,
    'wasi:filesystem/preopens': { getDirectories: () => [] },
    'wasi:filesystem/types': { Descriptor, DirectoryEntryStream, filesystemErrorCode: () => undefined },
    'wasi:io/error': { Error: IoError },
    'wasi:io/poll': { Pollable: WasiPollable, poll },
    'wasi:io/streams': { InputStream, OutputStream },
    'wasi:random/random': random,
    'wasi:random/insecure': insecure,
    'wasi:random/insecure-seed': insecureSeed,
  };
  return {
    imports,
    finish() {
      stdout.end();
      stderr.end();
    },
  };
}
