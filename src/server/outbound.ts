import type { HeaderList } from '../host/protocol.js';
import type { InboundSource } from './inbound.js';

type Piece = { bytes: Uint8Array } | { source: InboundSource } | { end: true; trailers?: HeaderList } | { abort: true };

const PUMP_CHUNK = 64 * 1024;
const CHUNKED = /(?:^|\W)chunked(?:$|\W)/i;

/**
 * Settles the `trailer` header of an outgoing head (a flat name, value list) the way the message
 * will be framed: when chunked, it declares the trailers known before the body unless already
 * there; otherwise it is dropped, since no trailers can follow and Node refuses to send one.
 * `chunkable`: Node chunks this message when it names neither a length nor a transfer-encoding.
 */
export function settleTrailerHeader(headers: string[], chunkable: boolean, trailers: HeaderList | undefined): string[] {
  let length = false;
  let encoding: string | undefined;
  let declared = false;
  for (let index = 0; index < headers.length; index += 2) {
    const name = headers[index]!.toLowerCase();
    if (name === 'content-length') length = true;
    else if (name === 'transfer-encoding') encoding = headers[index + 1];
    else if (name === 'trailer') declared = true;
  }
  const chunked = encoding !== undefined ? CHUNKED.test(encoding) : !length && chunkable;
  if (!chunked) return declared ? headers.filter((_, index) => headers[index - (index % 2)]!.toLowerCase() !== 'trailer') : headers;
  if (declared || !trailers?.length) return headers;
  return [...headers, 'trailer', [...new Set(trailers.map(([name]) => name))].join(', ')];
}
const latin1 = new TextDecoder('latin1');

/**
 * What a body is written into: the members of Node's `OutgoingMessage` (a `ServerResponse`, a
 * backend `ClientRequest`) that `OutboundBody` uses, so that an in-process response or a
 * JavaScript-function backend can stand in for a socket.
 */
export interface BodyTarget {
  readonly destroyed: boolean;
  write(chunk: Uint8Array): boolean;
  end(): unknown;
  destroy(error?: Error): unknown;
  addTrailers(headers: ReadonlyArray<[string, string]>): void;
  on(event: 'drain' | 'close', listener: () => void): unknown;
  off(event: 'drain' | 'close', listener: () => void): unknown;
}

/**
 * A body on its way out (downstream response, backend request): pieces are written in order,
 * main-side sources piped through as they fill, waiting for `drain` when the peer is slow.
 * Its trailers are those of the sources piped through, then the guest's, sent at the end when
 * the message is chunked (Node drops them otherwise, as HTTP/1.1 has no other place for them).
 */
export class OutboundBody {
  private queue: Piece[] = [];
  private running = false;
  private finished = false;
  private readonly trailers: HeaderList = [];

  constructor(
    private readonly target: BodyTarget,
    /** Resolves once the source may have more to give. */
    private readonly changed: () => Promise<void>,
    private readonly onError: (message: string) => void,
  ) {}

  bytes(bytes: Uint8Array): void {
    this.push({ bytes });
  }
  source(source: InboundSource): void {
    this.push({ source });
  }
  end(trailers?: HeaderList): void {
    this.push({ end: true, trailers });
  }
  abort(): void {
    this.push({ abort: true });
  }

  get done(): boolean {
    return this.finished;
  }

  private push(piece: Piece): void {
    if (this.finished) return;
    this.queue.push(piece);
    if (!this.running) void this.run();
  }

  private async run(): Promise<void> {
    this.running = true;
    try {
      for (let piece = this.queue.shift(); piece && !this.finished; piece = this.queue.shift()) {
        if ('bytes' in piece) await this.write(piece.bytes);
        else if ('source' in piece) await this.pump(piece.source);
        else if ('end' in piece) {
          this.finished = true;
          this.trailers.push(...(piece.trailers ?? []));
          if (this.trailers.length > 0) this.target.addTrailers(this.trailers.map(([name, value]) => [name, latin1.decode(value)] as [string, string]));
          this.target.end();
        } else {
          this.finished = true;
          this.target.destroy(new Error('body aborted by the guest'));
        }
      }
    } catch (err) {
      this.finished = true;
      this.onError(err instanceof Error ? err.message : String(err));
      this.target.destroy();
    } finally {
      this.running = false;
    }
  }

  private async pump(source: InboundSource): Promise<void> {
    for (;;) {
      while (!source.ready()) await this.changed();
      const chunk = source.take(PUMP_CHUNK);
      if (chunk === undefined) {
        this.trailers.push(...(source.trailers() ?? []));
        return;
      }
      await this.write(chunk);
    }
  }

  private async write(bytes: Uint8Array): Promise<void> {
    if (this.target.destroyed) throw new Error('peer went away');
    if (!this.target.write(bytes)) {
      await new Promise<void>((resolve, reject) => {
        const cleanup = () => {
          this.target.off('drain', onDrain);
          this.target.off('close', onClose);
        };
        const onDrain = () => (cleanup(), resolve());
        const onClose = () => (cleanup(), reject(new Error('peer went away')));
        this.target.on('drain', onDrain);
        this.target.on('close', onClose);
      });
    }
  }
}
