import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { isReplayed, replayExtensionMethod, takeExtensionMethod } from '../src/server/extension-methods.js';
import { rawExchange } from './support/raw-http.js';

/** A bare Node server wired as the dev server wires it, answering after `delayMs` (by path). */
async function server(options: http.ServerOptions = {}): Promise<{ server: http.Server; port: number; errors: string[] }> {
  const errors: string[] = [];
  const srv = http.createServer(options, (req, res) => {
    const method = takeExtensionMethod(req);
    if (method !== undefined) {
      req.method = method;
      res.shouldKeepAlive = false;
    }
    let body = '';
    req.setEncoding('latin1');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      const delay = Number(/delay=(\d+)/.exec(req.url ?? '')?.[1] ?? 0);
      setTimeout(() => res.end(`${req.method} ${req.url} body=${body}`), delay);
    });
  });
  srv.on('clientError', (err: Error & { code?: string }, socket) => {
    if (isReplayed(socket)) return;
    errors.push(err.code ?? err.message);
    if (err.code === 'HPE_INVALID_METHOD') void replayExtensionMethod(srv, err, socket as Socket);
    else socket.destroy();
  });
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', () => resolve()));
  return { server: srv, port: (srv.address() as AddressInfo).port, errors };
}

let current: http.Server | undefined;
afterEach(() => {
  current?.closeAllConnections();
  current?.close();
});

describe('extension methods through a replayed connection', () => {
  it('outlive the failed parser: no request timeout answers 408 mid-request', async () => {
    const { server: srv, port, errors } = await server({ headersTimeout: 300, requestTimeout: 400, connectionsCheckingInterval: 50 });
    current = srv;
    const answer = await rawExchange(port, ['HELLO /x?delay=900 HTTP/1.1\r\nHost: x\r\n\r\n']);
    expect(answer).toMatch(/^HTTP\/1\.1 200 OK\r\n[^]*Connection: close\r\n[^]*\r\n\r\nHELLO \/x\?delay=900 body=$/);
    expect(errors).toEqual(['HPE_INVALID_METHOD']);
  });

  it('answer after a slower request pipelined ahead of them, with their body', async () => {
    const { server: srv, port } = await server();
    current = srv;
    const answer = await rawExchange(port, ['GET /first?delay=300 HTTP/1.1\r\nHost: x\r\n\r\nmkthing /second HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc']);
    expect(answer.indexOf('GET /first')).toBeGreaterThan(0);
    expect(answer.indexOf('mkthing /second body=abc')).toBeGreaterThan(answer.indexOf('GET /first'));
  });

  it('later requests on the replayed connection are not read (it closes), nor given the extension method', async () => {
    const { server: srv, port } = await server();
    current = srv;
    const answer = await rawExchange(port, ['HELLO /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n']);
    expect(answer.match(/(HELLO|GET) \/\w/g)).toEqual(['HELLO /a']);
  });
});
