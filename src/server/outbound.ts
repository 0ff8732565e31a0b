import type { Writable } from 'node:stream';
import type { InboundSource } from './inbound.js';

type Piece = { bytes: Uint8Array } | { source: InboundSource } | { end: true } | { abort: true };

const PUMP_CHUNK = 64 * 1024;

/**
 * A body on its way out (downstream response, backend request): pieces are written in order,
 * main-side sources piped through as they fill, waiting for `drain` when the peer is slow.
 */
export class OutboundBody {
  private queue: Piece[] = [];
  private running = false;
  private finished = false;

  constructor(
    private readonly target: Writable,
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
  end(): void {
    this.push({ end: true });
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
      if (chunk === undefined) return;
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
