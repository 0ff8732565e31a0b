import { X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import type { DownstreamTls } from '../host/protocol.js';
import { cacheRoot } from './artifacts.js';

/** A certificate chain and its key, PEM; `ca` verifies client certificates when given. */
export interface TlsIdentity {
  cert: string;
  key: string;
  ca?: string;
}

/** The self-signed certificate lasts this long; a new one is made when less than a day is left. */
const SELF_SIGNED_DAYS = 30;
const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * A self-signed certificate for `localhost`, `127.0.0.1` and `::1` (made by the `selfsigned`
 * package; kept under the cache directory so a browser's exception for it survives restarts).
 */
export async function selfSignedLocalhost(root = cacheRoot()): Promise<TlsIdentity> {
  const dir = join(root, 'tls');
  const certFile = join(dir, 'localhost.crt');
  const keyFile = join(dir, 'localhost.key');
  if (existsSync(certFile) && existsSync(keyFile)) {
    const cert = readFileSync(certFile, 'utf8');
    if (Date.parse(new X509Certificate(cert).validTo) - Date.now() > DAY_MS) return { cert, key: readFileSync(keyFile, 'utf8') };
  }
  const { generate } = await import('selfsigned');
  const now = Date.now();
  const made = await generate([{ name: 'commonName', value: 'localhost' }], {
    keyType: 'ec',
    curve: 'P-256',
    notBeforeDate: new Date(now - DAY_MS),
    notAfterDate: new Date(now + SELF_SIGNED_DAYS * DAY_MS),
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames: [{ type: 2, value: 'localhost' }, { type: 7, ip: '127.0.0.1' }, { type: 7, ip: '::1' }] },
    ],
  });
  mkdirSync(dir, { recursive: true });
  // Key first: a reader that finds the certificate finds its key.
  for (const [file, text] of [[keyFile, made.private], [certFile, made.cert]] as const) {
    writeFileSync(`${file}.${process.pid}.tmp`, text, { mode: 0o600 });
    renameSync(`${file}.${process.pid}.tmp`, file);
  }
  return { cert: made.cert, key: made.private };
}

/** OpenSSL's verification errors, in the ABI's `client-cert-verify-result` terms. */
function verifyResult(error: Error | null | undefined): NonNullable<DownstreamTls['clientCertVerifyResult']> {
  if (!error) return 'ok';
  const code = (error as NodeJS.ErrnoException).code ?? error.message;
  if (code === 'CERT_HAS_EXPIRED' || code === 'CERT_NOT_YET_VALID') return 'certificate-expired';
  if (code === 'CERT_REVOKED') return 'certificate-revoked';
  if (/ISSUER|SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET/.test(code)) return 'unknown-ca';
  return 'bad-certificate';
}

/** What the guest may ask about a client's TLS connection. */
export function downstreamTls(socket: TLSSocket): DownstreamTls {
  const peer = socket.getPeerX509Certificate();
  return {
    protocol: socket.getProtocol() ?? '',
    cipherOpensslName: socket.getCipher()?.name ?? '',
    servername: typeof socket.servername === 'string' ? socket.servername : undefined,
    ...(peer ? { clientCertificate: peer.toString(), clientCertVerifyResult: socket.authorized ? 'ok' : verifyResult(socket.authorizationError) } : {}),
  };
}
