import { PassThrough, Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import type { BackendSpec } from '../host/config.js';
import type { HeaderList } from '../host/protocol.js';
import { backendTarget, headerText, SendFailure, startBackendRequest, type BackendAnswer, type BackendDispatch, type BackendExchange } from './backend-client.js';
import type { BodyTarget } from './outbound.js';

/** A backend written as a JavaScript function: it gets the guest's request and answers it. */
export type BackendFunction = (request: Request) => Response | Promise<Response>;

/** Methods a WHATWG `Request` cannot carry a body for; the guest's body is read and dropped. */
const BODYLESS = new Set(['GET', 'HEAD']);

/**
 * Backend dispatch that answers from functions where one matches and goes to the network
 * otherwise. A backend matches by its name, or (so that dynamic backends reach them too) by the
 * host, or host and port, of its URL.
 */
export function functionBackends(functions: Record<string, BackendFunction>, fallback: BackendDispatch = startBackendRequest): BackendDispatch {
  const table = new Map(Object.entries(functions));
  return (spec, method, uri, head, knownLength, trailers) => {
    const url = new URL(spec.url);
    const fn = table.get(spec.name) ?? table.get(url.host) ?? table.get(url.hostname);
    return fn ? callFunction(fn, spec, method, uri, head.headers, head.manualFraming) : fallback(spec, method, uri, head, knownLength, trailers);
  };
}

function callFunction(fn: BackendFunction, spec: BackendSpec, method: string, uri: string, headerList: HeaderList, manualFraming: boolean): BackendExchange {
  const target = backendTarget(spec, uri);
  const headers = new Headers();
  for (const [name, value] of headerList) {
    if (!manualFraming && (name === 'content-length' || name === 'transfer-encoding')) continue;
    headers.append(name, headerText(value));
  }
  // As on the wire: the override wins, then the guest's Host, then the backend's.
  headers.set('host', spec.overrideHost ?? headers.get('host') ?? target.host);
  const body = new PassThrough();
  // Trailers have no place in a WHATWG Request; they are dropped.
  const request: BodyTarget = {
    get destroyed() {
      return body.destroyed;
    },
    write: (chunk) => body.write(chunk),
    end: () => body.end(),
    destroy: (error) => body.destroy(error),
    addTrailers: () => {},
    on: (event, listener) => body.on(event, listener),
    off: (event, listener) => body.off(event, listener),
  };
  const hasBody = !BODYLESS.has(method.toUpperCase());
  if (!hasBody) body.resume();
  const response = (async (): Promise<BackendAnswer> => {
    try {
      const init: RequestInit & { duplex: 'half' } = { method, headers, body: hasBody ? (Readable.toWeb(body) as ReadableStream) : undefined, duplex: 'half' };
      const answer = await fn(new Request(target, init));
      if (!(answer instanceof Response)) throw new TypeError('it must return a Response');
      const list: HeaderList = [];
      answer.headers.forEach((value, name) => list.push([name, Buffer.from(value, 'latin1')]));
      const length = answer.headers.get('content-length');
      const stream = answer.body ? Readable.fromWeb(answer.body as WebReadableStream<Uint8Array>) : Readable.from([]);
      return {
        ok: { status: answer.status, version: 'http11', headers: list, body: 0, knownLength: length !== null && /^\d+$/.test(length) ? BigInt(length) : undefined },
        stream,
      };
    } catch (err) {
      const failure = err instanceof SendFailure ? err : new SendFailure('internal-error', `backend function ${spec.name} failed: ${err instanceof Error ? err.message : String(err)}`);
      return { err: failure.tag, message: failure.message };
    }
  })();
  return { request, response };
}
