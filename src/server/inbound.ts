import type { IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import type { HeaderList } from '../host/protocol.js';

const HIGH_WATER = 1 << 20;

/**
 * A readable the guest pulls from on demand (downstream request body, backend response body):
 * buffers up to a high-water mark, then pauses the socket until the guest reads.
 */
export class InboundSource {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private ended = false;
  error: string | undefined;

  private idleTimer: NodeJS.Timeout | undefined;

  /**
   * `idleTimeoutMs` fails the source when the peer sends nothing for that long while it is read;
   * `message` is the HTTP message whose trailers follow the stream (itself, unless decoded);
   * past `maxBytes` the source fails and the stream is paused.
   */
  constructor(
    private readonly stream: Readable,
    private readonly onChange: () => void,
    private readonly idleTimeoutMs?: number,
    private readonly message?: IncomingMessage,
    private readonly maxBytes = Infinity,
  ) {
    this.armIdle();
    let received = 0;
    stream.on('data', (chunk: Buffer) => {
      received += chunk.length;
      if (received > this.maxBytes) {
        // A body without a declared length over the limit: the guest's next read fails.
        this.fail(`body larger than ${this.maxBytes} bytes`);
        this.chunks = [];
        // Paused, not destroyed: the connection stays up for the guest's answer.
        stream.pause();
        return;
      }
      this.armIdle();
      this.chunks.push(chunk);
      this.buffered += chunk.length;
      if (this.buffered >= HIGH_WATER) {
        // Waiting for the guest to read is not the peer's delay.
        clearTimeout(this.idleTimer);
        stream.pause();
      }
      onChange();
    });
    stream.on('end', () => {
      clearTimeout(this.idleTimer);
      this.ended = true;
      onChange();
    });
    stream.on('error', (err) => this.fail(err.message));
    stream.on('close', () => {
      if (!this.ended) this.fail('stream closed before its end');
    });
    stream.resume();
  }

  private armIdle(): void {
    if (this.idleTimeoutMs === undefined) return;
    clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => {
      this.fail(`no bytes for ${this.idleTimeoutMs} ms`);
      this.stream.destroy();
    }, this.idleTimeoutMs);
  }

  fail(message: string): void {
    clearTimeout(this.idleTimer);
    if (this.ended || this.error !== undefined) return;
    this.error = message;
    this.onChange();
  }

  ready(): boolean {
    return this.chunks.length > 0 || this.ended || this.error !== undefined;
  }

  /** Takes up to `max` buffered bytes; only call when `ready()`. Undefined means the end. */
  take(max: number): Buffer | undefined {
    const first = this.chunks[0];
    if (first === undefined) {
      if (this.error !== undefined) throw new Error(this.error);
      return undefined;
    }
    let taken: Buffer;
    if (first.length <= max) {
      this.chunks.shift();
      taken = first;
    } else {
      this.chunks[0] = first.subarray(max);
      taken = first.subarray(0, max);
    }
    this.buffered -= taken.length;
    if (this.buffered < HIGH_WATER && this.stream.isPaused()) {
      this.armIdle();
      this.stream.resume();
    }
    return taken;
  }

  /** The message's trailers, once the stream has ended. */
  trailers(): HeaderList | undefined {
    const raw = this.message?.rawTrailers ?? [];
    if (raw.length === 0) return undefined;
    const list: HeaderList = [];
    for (let index = 0; index < raw.length; index += 2) list.push([raw[index]!.toLowerCase(), Buffer.from(raw[index + 1]!, 'latin1')]);
    return list;
  }

  destroy(): void {
    clearTimeout(this.idleTimer);
    this.chunks = [];
    this.ended = true;
    this.stream.destroy();
  }
}
