import type http from 'node:http';
import type { Socket } from 'node:net';
import { Duplex } from 'node:stream';

/**
 * Requests with methods Node's parser does not know. llhttp accepts only a fixed list of methods
 * (`insecureHTTPParser` does not change that) and fails any other with `HPE_INVALID_METHOD`,
 * while the platform serves every RFC 9110 token as a method. So, on that error, the dev server
 * takes the connection back from the failed parser, puts a method Node knows in place of the
 * client's on the request line, and hands the connection to the same server as a new one: Node
 * parses the rest (headers, any framing of the body) as usual, and the request handler restores
 * the client's method, exactly as sent. That request's response closes the connection, so
 * anything pipelined behind it is never read with the wrong method.
 */

/** What stands in for the client's method while Node parses: a method with a body and no special handling. */
const PLACEHOLDER_METHOD = 'POST';
/** A method longer than this is not served (a request line Node would refuse anyway). */
const MAX_METHOD_LENGTH = 1024;
/** RFC 9110 §5.6.2 `token`. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

const METHOD = Symbol('witshim.extension-method');
/** Marks a client socket whose connection was taken from Node's parser: its errors are no longer HTTP's. */
const TAKEN = Symbol('witshim.taken-connection');
type TakenSocket = Socket & { [TAKEN]?: boolean };

/** Whether a `clientError` concerns a connection already replayed (answered through its replay). */
export function isReplayed(socket: unknown): boolean {
  return (socket as TakenSocket)[TAKEN] === true;
}

/** A client connection replayed to Node's HTTP server: bytes already read first, then the socket's. */
class ReplayedConnection extends Duplex {
  [METHOD]?: string;

  constructor(
    readonly socket: Socket,
    head: Buffer,
    method: string,
  ) {
    super();
    this[METHOD] = method;
    this.push(head);
    socket.on('data', (chunk: Buffer) => {
      if (!this.push(chunk)) socket.pause();
    });
    socket.on('end', () => this.push(null));
    socket.on('close', () => this.destroy());
    socket.on('error', () => this.destroy());
  }

  override _read(): void {
    this.socket.resume();
  }

  override _write(chunk: Buffer, encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.socket.write(chunk, encoding, callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.socket.end(() => callback());
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.socket.destroy();
    callback(error);
  }

  // What Node's server and the dev server read from a socket.
  get remoteAddress(): string | undefined {
    return this.socket.remoteAddress;
  }
  get remotePort(): number | undefined {
    return this.socket.remotePort;
  }
  get remoteFamily(): string | undefined {
    return this.socket.remoteFamily;
  }
  get localAddress(): string | undefined {
    return this.socket.localAddress;
  }
  get localPort(): number | undefined {
    return this.socket.localPort;
  }
  setTimeout(ms: number, callback?: () => void): this {
    this.socket.setTimeout(ms, callback);
    return this;
  }
  setNoDelay(noDelay?: boolean): this {
    this.socket.setNoDelay(noDelay);
    return this;
  }
  setKeepAlive(enable?: boolean, delay?: number): this {
    this.socket.setKeepAlive(enable, delay);
    return this;
  }
  destroySoon(): void {
    this.end();
  }
}

/** Node's parse error, with the chunk it failed in and where. */
interface ParseError extends Error {
  code?: string;
  rawPacket?: Buffer;
  bytesParsed?: number;
}

/** The internals of Node's server-side socket that taking a connection back touches. */
interface ServerSocket extends Socket {
  parser?: { _consumed?: boolean; unconsume?: () => void; remove?: () => void } | null;
  _httpMessage?: http.ServerResponse | null;
}

export type ExtensionOutcome = { served: true } | { served: false; reason: string };

/**
 * Serves the request whose method failed Node's parser through `server` again, or says why it
 * cannot (then the caller answers 400). Call it from `clientError` for `HPE_INVALID_METHOD`.
 */
export async function replayExtensionMethod(server: http.Server, error: ParseError, socket: ServerSocket): Promise<ExtensionOutcome> {
  const raw = error.rawPacket;
  if (!raw || error.bytesParsed === undefined) return { served: false, reason: 'no request bytes to replay' };
  // The request starts after the previous line end (Node skips blank lines between requests).
  let start = Math.min(error.bytesParsed, raw.length);
  while (start > 0 && raw[start - 1] !== 0x0a) start--;
  // Take the connection from the failed parser before more bytes reach it, and out of Node's
  // list of connections to time out: that parser never completes a request, so its request
  // timeout would otherwise answer 408 in the middle of this request's response.
  const parser = socket.parser;
  if (parser?._consumed) {
    parser.unconsume?.();
    parser._consumed = false;
  }
  parser?.remove?.();
  socket.parser = null;
  (socket as TakenSocket)[TAKEN] = true;
  for (const event of ['data', 'end', 'pause', 'resume', 'timeout'] as const) socket.removeAllListeners(event);
  socket.pause();
  let bytes = raw.subarray(start);
  // The method ends at the first space, which may still be on its way.
  while (bytes.indexOf(0x20) < 0 && bytes.length <= MAX_METHOD_LENGTH) {
    const more = await nextChunk(socket);
    if (!more) return { served: false, reason: 'the connection ended inside the request line' };
    bytes = Buffer.concat([bytes, more]);
  }
  const space = bytes.indexOf(0x20);
  const method = space < 0 ? '' : bytes.toString('latin1', 0, space);
  if (!TOKEN.test(method) || method.length > MAX_METHOD_LENGTH) return { served: false, reason: 'the method is not an RFC 9110 token' };
  // Responses to requests pipelined before this one go out first.
  while (socket._httpMessage && !socket.destroyed) await ended(socket._httpMessage);
  if (socket.destroyed) return { served: true };
  // Node armed its keep-alive timer for the previous request; this one takes as long as it takes.
  socket.setTimeout(0);
  server.emit('connection', new ReplayedConnection(socket, Buffer.concat([Buffer.from(PLACEHOLDER_METHOD), bytes.subarray(space)]), method));
  return { served: true };
}

/** A response finished, or its connection closed first. */
function ended(res: http.ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    res.once('finish', () => resolve());
    res.once('close', () => resolve());
  });
}

function nextChunk(socket: Socket): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const done = (chunk?: Buffer) => {
      socket.off('data', done);
      socket.off('end', ended);
      socket.off('close', ended);
      socket.pause();
      resolve(chunk);
    };
    const ended = () => done(undefined);
    socket.on('data', done);
    socket.once('end', ended);
    socket.once('close', ended);
    socket.resume();
  });
}

/**
 * The client's method for a request that came through `replayExtensionMethod` (taken once: later
 * requests on that connection are Node's own), or undefined.
 */
export function takeExtensionMethod(req: http.IncomingMessage): string | undefined {
  const connection = req.socket as unknown as { [METHOD]?: string };
  const method = connection[METHOD];
  if (method !== undefined) delete connection[METHOD];
  return method;
}
