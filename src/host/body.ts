import type { MainChannel } from './channel.js';
import { fail } from './errors.js';
import { checkName, checkValue } from './headers.js';
import { dispose, Pollable, type Readiness, type Waiter } from './pollable.js';
import type { BodySegment, OutgoingBody } from './protocol.js';

let nextSink = 1;

/**
 * `http-body.body`. Its contents are a queue of segments: bytes the guest wrote, and the
 * unread rest of main-side streams (the downstream request, backend responses), pulled only
 * when the guest reads. Once attached to a sink (streaming send), writes go straight out.
 */
export class Body extends Pollable {
  private segments: BodySegment[] = [];
  private sink: number | undefined;
  private closed = false;
  /** Length promised by the origin of a main-side stream (its content-length). */
  private promisedLength: bigint | undefined;
  private readonly trailers: Array<[string, Uint8Array]> = [];

  constructor(private readonly channel: MainChannel) {
    super();
  }

  static fromSource(channel: MainChannel, source: number, knownLength: bigint | undefined): Body {
    const body = new Body(channel);
    body.segments.push({ source });
    body.promisedLength = knownLength;
    return body;
  }

  static fromBytes(channel: MainChannel, bytes: Uint8Array): Body {
    const body = new Body(channel);
    if (bytes.length > 0) body.segments.push(bytes);
    return body;
  }

  protected override waiter(): Waiter {
    return { wait: (items, timeoutMs) => this.channel.call({ op: 'wait', items, timeoutMs }).index };
  }

  override readiness(): Readiness {
    if (this.sink !== undefined) return true;
    const front = this.segments[0];
    if (front === undefined || front instanceof Uint8Array) return true;
    return front;
  }

  read(chunkSize: number): Uint8Array {
    if (this.sink !== undefined) fail('invalid-argument');
    for (;;) {
      const front = this.segments[0];
      if (front === undefined) return new Uint8Array(0);
      if (front instanceof Uint8Array) {
        if (front.length <= chunkSize) {
          this.segments.shift();
          return front;
        }
        this.segments[0] = front.subarray(chunkSize);
        return front.subarray(0, chunkSize);
      }
      const reply = this.channel.call({ op: 'read', source: front.source, max: chunkSize });
      if (reply.error !== undefined) fail('http-incomplete');
      if (reply.end) {
        this.segments.shift();
        for (const [name, value] of reply.trailers ?? []) this.trailers.push([name.toLowerCase(), value]);
        continue;
      }
      if (this.promisedLength !== undefined) this.promisedLength -= BigInt(reply.bytes!.length);
      return reply.bytes!;
    }
  }

  write(bytes: Uint8Array): number {
    if (this.closed) fail('invalid-argument');
    if (bytes.length === 0) return 0;
    const copy = bytes.slice();
    if (this.sink !== undefined) this.channel.notify({ op: 'sink-write', sink: this.sink, bytes: copy });
    else this.segments.push(copy);
    this.promisedLength = undefined;
    return bytes.length;
  }

  writeFront(bytes: Uint8Array): void {
    if (this.sink !== undefined) fail('invalid-argument');
    if (bytes.length > 0) this.segments.unshift(bytes.slice());
    this.promisedLength = undefined;
  }

  /** Moves everything `src` holds to the end of this body. */
  append(src: Body): void {
    if (src.sink !== undefined) fail('invalid-argument');
    const moved = src.takeSegments();
    if (this.sink !== undefined) {
      for (const segment of moved) {
        if (segment instanceof Uint8Array) this.channel.notify({ op: 'sink-write', sink: this.sink, bytes: segment });
        else this.channel.notify({ op: 'sink-pipe', sink: this.sink, source: segment.source });
      }
    } else {
      this.segments.push(...moved);
    }
    this.promisedLength = undefined;
  }

  knownLength(): bigint | undefined {
    if (this.sink !== undefined) return undefined;
    if (this.segments.every((segment) => segment instanceof Uint8Array)) {
      return BigInt(this.segments.reduce((sum, segment) => sum + (segment as Uint8Array).length, 0));
    }
    if (this.segments.length === 1) return this.promisedLength;
    return undefined;
  }

  /** Hands the whole body over for a non-streaming send. */
  transfer(): OutgoingBody {
    const knownLength = this.knownLength();
    return { segments: this.takeSegments(), knownLength, ...this.takeTrailers() };
  }

  /** Starts streaming: what is buffered goes now, later writes follow until `close`. */
  startStreaming(): OutgoingBody {
    if (this.sink !== undefined) fail('invalid-argument');
    this.sink = nextSink++;
    return { segments: this.takeSegments(), sink: this.sink };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.sink !== undefined) this.channel.notify({ op: 'sink-close', sink: this.sink, ...this.takeTrailers() });
    else this.releaseSources();
  }

  /** What is sent as the body's trailers: those the guest appended, and those of streams it read to their end (as Viceroy's body yields). */
  private takeTrailers(): { trailers?: Array<[string, Uint8Array]> } {
    const taken = this.trailers.splice(0);
    return taken.length > 0 ? { trailers: taken } : {};
  }

  appendTrailer(name: string, value: Uint8Array): void {
    // Checked now, as Viceroy does: they go on the wire only when the body ends.
    this.trailers.push([checkName(name), checkValue(value)]);
  }

  /** Trailers the guest added, and those of main-side streams read to their end. */
  trailerList(): Array<[string, Uint8Array]> {
    return this.trailers;
  }

  /** Incoming trailers follow the body, so they are known only once every stream in it was read. */
  trailersReady(): boolean {
    if (this.sink !== undefined) fail('invalid-argument');
    return this.segments.every((segment) => segment instanceof Uint8Array);
  }

  [dispose](): void {
    if (this.closed) return;
    this.closed = true;
    if (this.sink !== undefined) this.channel.notify({ op: 'sink-abort', sink: this.sink });
    else this.releaseSources();
  }

  private takeSegments(): BodySegment[] {
    const taken = this.segments;
    this.segments = [];
    return taken;
  }

  private releaseSources(): void {
    for (const segment of this.takeSegments()) {
      if (!(segment instanceof Uint8Array)) this.channel.notify({ op: 'drop-source', source: segment.source });
    }
  }
}
