import http from 'node:http';
import net from 'node:net';

/**
 * Sends `chunks` as raw bytes on one connection (`gapMs` apart, so a request can arrive in
 * pieces) and resolves with everything the server sent until it closed the connection, or
 * until `idleMs` passed without bytes once something arrived.
 */
export function rawExchange(port: number, chunks: string[], options: { host?: string; gapMs?: number; idleMs?: number } = {}): Promise<string> {
  const { host = '127.0.0.1', gapMs = 50, idleMs = 3000 } = options;
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, host);
    let received = '';
    let idle: NodeJS.Timeout | undefined;
    const finish = () => {
      clearTimeout(idle);
      socket.destroy();
      resolve(received);
    };
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      received += chunk;
      clearTimeout(idle);
      idle = setTimeout(finish, idleMs);
    });
    socket.on('close', finish);
    socket.on('error', reject);
    socket.on('connect', async () => {
      for (const [index, chunk] of chunks.entries()) {
        if (index > 0) await new Promise((r) => setTimeout(r, gapMs));
        socket.write(chunk, 'latin1');
      }
    });
  });
}

/** A GET that records the informational responses (1xx) that come before the final one. */
export function getWithInformational(url: string): Promise<{ informational: Array<{ status: number; headers: http.IncomingHttpHeaders }>; status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const informational: Array<{ status: number; headers: http.IncomingHttpHeaders }> = [];
    const req = http.get(url, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ informational, status: res.statusCode ?? 0, text }));
    });
    req.on('information', (info) => informational.push({ status: info.statusCode, headers: info.headers }));
    req.on('error', reject);
  });
}
