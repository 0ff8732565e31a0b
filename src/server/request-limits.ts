/**
 * Requests the server refuses before a guest sees them, with the status that says why: a header
 * line over the limit is 431, a request target over it 414, a declared body over it 413. Node's
 * own parser limit (the whole header section) answers 431 too, rather than a reset connection.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RequestLimits } from './limits.js';

/** Node's bound on a whole request head (its default is 16 KiB, below one platform-sized header). */
export const MAX_HEADER_SECTION_BYTES = 256 * 1024;

export interface Refusal {
  status: 413 | 414 | 431;
  reason: string;
}

export function refusal(req: IncomingMessage, limits: RequestLimits): Refusal | undefined {
  // Node decodes the head as latin1: one character per byte.
  if ((req.url?.length ?? 0) > limits.urlBytes) return { status: 414, reason: `the request target is longer than ${limits.urlBytes} bytes` };
  const raw = req.rawHeaders;
  for (let index = 0; index < raw.length; index += 2) {
    if (raw[index]!.length + raw[index + 1]!.length > limits.headerBytes) return { status: 431, reason: `header ${raw[index]} is longer than ${limits.headerBytes} bytes` };
  }
  const length = req.headers['content-length'];
  if (length !== undefined && /^\d+$/.test(length) && Number(length) > limits.bodyBytes) return { status: 413, reason: `the body is larger than ${limits.bodyBytes} bytes` };
  return undefined;
}

export function answer(res: ServerResponse, { status, reason }: Refusal): void {
  // The body the client may still be sending is not read: the connection closes after this.
  res.shouldKeepAlive = false;
  res.writeHead(status, { 'content-type': 'text/plain', connection: 'close' });
  res.end(`${reason}\n`);
}
