import { isIPv4, isIPv6 } from 'node:net';
import { fail, fitString } from './errors.js';
import { Headers } from './headers.js';
import type { DownstreamRequest, HttpVersion, MessageHead } from './protocol.js';

type FramingMode = 'automatic' | 'manually-from-headers';

/** Header and version methods shared by `http-req.request` and `http-resp.response`. */
abstract class Message {
  headers = new Headers();
  version: HttpVersion = 'http11';
  framing: FramingMode = 'automatic';

  getHeaderNames(maxLen: bigint, cursor: number): [string, number | undefined] {
    return this.headers.getNames(maxLen, cursor);
  }
  getHeaderValue(name: string, maxLen: bigint): Uint8Array | undefined {
    return this.headers.getValue(name, maxLen);
  }
  getHeaderValues(name: string, maxLen: bigint, cursor: number): [Uint8Array, number | undefined] {
    return this.headers.getValues(name, maxLen, cursor);
  }
  setHeaderValues(name: string, values: Uint8Array): void {
    this.headers.setPacked(name, values);
  }
  insertHeader(name: string, value: Uint8Array): void {
    this.headers.insert(name, value);
  }
  appendHeader(name: string, value: Uint8Array): void {
    this.headers.append(name, value);
  }
  removeHeader(name: string): void {
    this.headers.remove(name);
  }
  getVersion(): HttpVersion {
    return this.version;
  }
  setVersion(version: HttpVersion): void {
    this.version = version;
  }
  setFramingHeadersMode(mode: FramingMode): void {
    this.framing = mode;
  }

  head(): MessageHead {
    return { headers: this.headers.list(), version: this.version, manualFraming: this.framing === 'manually-from-headers' };
  }
}

/** A backend handle, which knows the session a request is handed off in. */
export interface HandoffTarget {
  handOff(kind: 'websocket' | 'grip', request: Request): void;
}

function handoffTarget(backend: unknown): HandoffTarget {
  if (typeof (backend as Partial<HandoffTarget> | undefined)?.handOff !== 'function') fail('invalid-argument');
  return backend as HandoffTarget;
}

const METHOD = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

export class Request extends Message {
  method = 'GET';
  uri = '/';
  /** The request this instance was started for, as opposed to ones the guest built. */
  downstream: DownstreamRequest | undefined;
  cacheOverride: unknown = { tag: 'none' };
  autoDecompress: Record<string, boolean> | undefined;

  static new(): Request {
    return new Request();
  }

  static fromDownstream(request: DownstreamRequest): Request {
    const created = new Request();
    created.method = request.method;
    created.uri = request.uri;
    created.version = request.version;
    created.headers = new Headers(request.headers);
    created.downstream = request;
    return created;
  }

  setCacheOverride(override: unknown): void {
    this.cacheOverride = override;
  }
  getMethod(maxLen: bigint): string {
    return fitString(this.method, maxLen);
  }
  setMethod(method: string): void {
    if (!METHOD.test(method)) fail('invalid-argument');
    this.method = method;
  }
  getUri(maxLen: bigint): string {
    return fitString(this.uri, maxLen);
  }
  setUri(uri: string): void {
    if (uri.length === 0 || /[\s\x00-\x1f]/.test(uri)) fail('invalid-argument');
    if (!uri.startsWith('/') && !URL.canParse(uri)) fail('invalid-argument');
    this.uri = uri;
  }
  setAutoDecompressResponse(encodings: Record<string, boolean>): void {
    this.autoDecompress = encodings;
  }
  redirectToWebsocketProxy(backend: unknown): void {
    handoffTarget(backend).handOff('websocket', this);
  }
  redirectToGripProxy(backend: unknown): void {
    handoffTarget(backend).handOff('grip', this);
  }
}

export class Response extends Message {
  status = 200;
  keepalive: 'automatic' | 'no-keepalive' = 'automatic';
  remoteAddress: string | undefined;
  remotePort: number | undefined;

  static new(): Response {
    return new Response();
  }

  getStatus(): number {
    return this.status;
  }
  setStatus(status: number): void {
    if (status < 100 || status > 999) fail('invalid-argument');
    this.status = status;
  }
  setHttpKeepaliveMode(mode: 'automatic' | 'no-keepalive'): void {
    this.keepalive = mode;
  }
  getRemoteIpAddr(): IpAddress | undefined {
    return this.remoteAddress === undefined ? undefined : toIpAddress(this.remoteAddress);
  }
  getRemotePort(): number | undefined {
    return this.remotePort;
  }
}

/** The WIT's `ip-address`: four octets or eight groups. */
export type IpAddress = import('./wit-types/interfaces/fastly-compute-types.js').IpAddress;
type Ipv4Address = import('./wit-types/interfaces/fastly-compute-types.js').Ipv4Address;
type Ipv6Address = import('./wit-types/interfaces/fastly-compute-types.js').Ipv6Address;

/**
 * Converts a textual address (as node:net reports it, or as written in fastly.toml) to the ABI's
 * `ip-address`: any IPv6 form (compressed, expanded, upper case, a zone, trailing dotted IPv4);
 * an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`, how dual-stack sockets report IPv4 peers) is
 * the IPv4 address.
 */
export function toIpAddress(address: string): IpAddress | undefined {
  if (isIPv4(address)) return { tag: 'ipv4', val: address.split('.').map(Number) as Ipv4Address };
  const groups = parseIpv6(address);
  if (!groups) return undefined;
  if (groups.slice(0, 5).every((group) => group === 0) && groups[5] === 0xffff) {
    return { tag: 'ipv4', val: [groups[6]! >> 8, groups[6]! & 0xff, groups[7]! >> 8, groups[7]! & 0xff] as Ipv4Address };
  }
  return { tag: 'ipv6', val: groups as Ipv6Address };
}

/** The eight 16-bit groups of an IPv6 address in any textual form; node:net decides what is valid. */
function parseIpv6(text: string): number[] | undefined {
  const withoutZone = text.split('%')[0]!;
  if (!isIPv6(withoutZone)) return undefined;
  // A trailing dotted IPv4 part stands for the last two groups.
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(withoutZone);
  const hex = dotted
    ? `${withoutZone.slice(0, dotted.index)}${((+dotted[1]! << 8) | +dotted[2]!).toString(16)}:${((+dotted[3]! << 8) | +dotted[4]!).toString(16)}`
    : withoutZone;
  const [head, tail] = hex.split('::');
  const parse = (part: string | undefined) => (part ? part.split(':').map((group) => parseInt(group, 16)) : []);
  const first = parse(head);
  const last = parse(tail);
  return [...first, ...new Array<number>(8 - first.length - last.length).fill(0), ...last];
}

export function formatIpAddress(address: IpAddress): string {
  return address.tag === 'ipv4' ? address.val.join('.') : address.val.map((group) => group.toString(16)).join(':');
}
