/**
 * The body of a cached object: chunks held in memory as the writer streams them in, readable
 * from the start (or a range) by any number of readers while it is still being written. A
 * reader is a main-side `Readable` that is pushed each chunk as it arrives, so a request on
 * another worker gets the first bytes before the writer finishes.
 */
import { Readable } from 'node:stream';
import type { HeaderList } from '../../../host/protocol.js';
import type { BodyRange } from '../../../host/services/cache.js';
import type { InboundSource } from '../../inbound.js';
import type { BodySink } from '../index.js';

/** A byte range to read (see `bodyRange` in src/host/services/cache.ts). */
export type ReadRange = BodyRange;

interface Reader {
  stream: Readable;
  range: ReadRange;
  /** Bytes of the body already considered for this reader. */
  seen: number;
  /** Its end was pushed (a range can end before the body does). */
  done: boolean;
}

/** How long a piped main-side source waits before it is asked again (it cannot tell this store when it fills). */
const SOURCE_POLL_MS = 1;
const PUMP_CHUNK = 64 * 1024;

export type BodyState = 'writing' | 'complete' | 'failed';

export class CachedBody {
  private chunks: Uint8Array[] = [];
  private size = 0;
  private readers = new Set<Reader>();
  state: BodyState = 'writing';
  /** Why the body failed (shown to readers as their stream's error). */
  failure: string | undefined;
  /** Called once when the body completes or fails. */
  onSettled: (() => void) | undefined;
  /** Writes that arrive in order: a piped main-side source holds the bytes written after it. */
  private queue: Array<{ bytes: Uint8Array } | { source: InboundSource } | { end: true } | { abort: string }> = [];
  private pumping = false;

  constructor(
    /** The length the writer promised, if any: more or fewer bytes fail the body. */
    readonly declaredLength: number | undefined,
    /** Bytes beyond which the body fails (the platform's object size limit). */
    private readonly maxBytes: number,
  ) {}

  /** A complete body from bytes in hand (tests, and updates that keep the old body). */
  static of(bytes: Uint8Array): CachedBody {
    const body = new CachedBody(bytes.length, Number.MAX_SAFE_INTEGER);
    body.append(bytes);
    body.finish();
    return body;
  }

  get length(): number {
    return this.size;
  }

  /** The whole length: once complete, else what the writer declared. */
  knownLength(): number | undefined {
    return this.state === 'complete' ? this.size : this.declaredLength;
  }

  /** The bytes, when complete. */
  bytes(): Uint8Array | undefined {
    if (this.state !== 'complete') return undefined;
    if (this.chunks.length !== 1) this.chunks = [Buffer.concat(this.chunks)];
    return this.chunks[0] ?? new Uint8Array(0);
  }

  /** What the worker's streaming body writes into (`ctx.addSink`). */
  sink(): BodySink {
    return {
      bytes: (bytes) => this.enqueue({ bytes }),
      source: (source) => this.enqueue({ source }),
      end: (_trailers?: HeaderList) => this.enqueue({ end: true }),
      abort: () => this.enqueue({ abort: 'the writer abandoned the body' }),
    };
  }

  /** A main-side stream of the body (or a range of it), fed as chunks arrive. */
  openReader(range: ReadRange = { start: 0 }): Readable {
    const stream = new Readable({ read() {} });
    const reader: Reader = { stream, range, seen: 0, done: false };
    this.readers.add(reader);
    stream.once('close', () => this.readers.delete(reader));
    for (const chunk of this.chunks) this.feed(reader, chunk);
    if (this.state !== 'writing') this.settle(reader);
    return stream;
  }

  /** Live readers (a leak check for tests). */
  get readerCount(): number {
    return this.readers.size;
  }

  private enqueue(item: CachedBody['queue'][number]): void {
    if (this.state !== 'writing') return;
    this.queue.push(item);
    if (!this.pumping) void this.pump();
  }

  private async pump(): Promise<void> {
    this.pumping = true;
    try {
      for (let item = this.queue.shift(); item && this.state === 'writing'; item = this.queue.shift()) {
        if ('bytes' in item) this.append(item.bytes);
        else if ('end' in item) this.finish();
        else if ('abort' in item) this.fail(item.abort);
        else await this.drain(item.source);
      }
    } finally {
      this.pumping = false;
    }
  }

  private async drain(source: InboundSource): Promise<void> {
    while (this.state === 'writing') {
      if (!source.ready()) {
        await new Promise((resolve) => setTimeout(resolve, SOURCE_POLL_MS));
        continue;
      }
      let chunk: Uint8Array | undefined;
      try {
        chunk = source.take(PUMP_CHUNK);
      } catch (err) {
        this.fail(`the piped body failed: ${(err as Error).message}`);
        return;
      }
      if (chunk === undefined) return;
      this.append(chunk);
    }
    source.destroy();
  }

  append(bytes: Uint8Array): void {
    if (this.state !== 'writing' || bytes.length === 0) return;
    if (this.size + bytes.length > this.maxBytes) return this.fail(`the object exceeds the cache's size limit of ${this.maxBytes} bytes`);
    if (this.declaredLength !== undefined && this.size + bytes.length > this.declaredLength) {
      return this.fail(`the body is longer than the declared length ${this.declaredLength}`);
    }
    this.chunks.push(bytes);
    this.size += bytes.length;
    for (const reader of this.readers) this.feed(reader, bytes);
  }

  finish(): void {
    if (this.state !== 'writing') return;
    if (this.declaredLength !== undefined && this.size !== this.declaredLength) {
      return this.fail(`the body ended after ${this.size} of its declared ${this.declaredLength} bytes`);
    }
    this.state = 'complete';
    for (const reader of this.readers) this.settle(reader);
    this.onSettled?.();
  }

  fail(reason: string): void {
    if (this.state !== 'writing') return;
    this.state = 'failed';
    this.failure = reason;
    this.chunks = [];
    this.queue = [];
    for (const reader of this.readers) this.settle(reader);
    this.onSettled?.();
  }

  private feed(reader: Reader, chunk: Uint8Array): void {
    if (reader.done) return;
    const offset = reader.seen;
    reader.seen += chunk.length;
    if ('suffix' in reader.range) return;
    const { start, end = Infinity } = reader.range;
    const from = Math.max(start - offset, 0);
    const to = Math.min(end - offset, chunk.length);
    if (from < to) reader.stream.push(chunk.subarray(from, to));
    // A range that ends inside what is written is done before the writer is.
    if (reader.seen >= end) this.close(reader);
  }

  private close(reader: Reader): void {
    reader.done = true;
    reader.stream.push(null);
    this.readers.delete(reader);
  }

  private settle(reader: Reader): void {
    if (reader.done || reader.stream.destroyed) return;
    if (this.state === 'failed') {
      reader.stream.destroy(new Error(this.failure));
      return;
    }
    if ('suffix' in reader.range) {
      const whole = this.bytes()!;
      reader.stream.push(whole.subarray(Math.max(whole.length - reader.range.suffix, 0)));
    }
    this.close(reader);
  }
}
