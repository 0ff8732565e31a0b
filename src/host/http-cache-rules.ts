/**
 * The HTTP cache's rules, as pure functions of request and response heads: which requests may be
 * served from the cache, the key it files them under, how long a response stays fresh and what
 * of it is stored. They follow RFC 9111 and Fastly's documented readthrough-cache semantics
 * ("HTTP caching semantics", "About cache control headers", "HTTP status codes cached by
 * default"); where the two differ, Fastly's documentation wins, and the choice is noted here.
 * The worker (suggestions, preparing responses) and the main thread (the cache-override path of
 * `send`) both use them.
 */
import { createHash } from 'node:crypto';
import type { HeaderList } from './protocol.js';

const latin1 = new TextDecoder('latin1');
const encoder = new TextEncoder();

export const NS_PER_SECOND = 1_000_000_000n;

/** Only GET and HEAD go through the cache; Fastly passes every other method to the backend. */
export const CACHEABLE_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD']);

/** Fastly's "HTTP status codes cached by default"; any other status is not cached unless the guest says so. */
export const CACHEABLE_STATUSES: ReadonlySet<number> = new Set([200, 203, 300, 301, 302, 404, 410]);

/**
 * Freshness when the response states none: the "Default" column of Fastly's HTTP caching
 * semantics table for the readthrough cache (2 min). VCL services have a configurable fallback
 * TTL of 3600 s instead, which a Compute service has no setting for.
 */
export const DEFAULT_TTL_SECONDS = 120n;

/** Headers that describe one connection, not the stored response (RFC 9111 §3.1 drops them, and RFC 9110 §7.6.1 names them). */
const HOP_BY_HOP: ReadonlySet<string> = new Set(['connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade']);

/**
 * `Surrogate-Control` is addressed to this cache, which consumes it when storing. It stays on the
 * response `prepare-response-for-storage` returns, because guests (the SDKs) ask for the
 * suggested write options of that response.
 */
const CONSUMED_BY_CACHE = 'surrogate-control';

/** A request head as the rules need it. */
export interface RequestHead {
  method: string;
  uri: string;
  headers: HeaderList;
}

/** A response head as the rules need it. */
export interface ResponseHead {
  status: number;
  headers: HeaderList;
}

/** The write options the cache proposes for a response (`suggested-write-options`). */
export interface WriteSuggestion {
  maxAgeNs: bigint;
  initialAgeNs: bigint;
  staleWhileRevalidateNs: bigint;
  staleIfErrorNs: bigint;
  /** Request header names the response varies on, lower case, space separated ("" = none). */
  varyRule: string;
  /** The `Surrogate-Key` header's keys, space separated. */
  surrogateKeys: string;
  length: bigint | undefined;
  sensitiveData: boolean;
}

export function headerValues(headers: HeaderList, name: string): string[] {
  return headers.filter(([entry]) => entry.toLowerCase() === name).map(([, value]) => latin1.decode(value));
}

function header(headers: HeaderList, name: string): string | undefined {
  return headerValues(headers, name)[0];
}

/** Cache-Control / Surrogate-Control directives: lower-case name → value ("" when it has none). */
export function parseDirectives(values: string[]): Map<string, string> {
  const directives = new Map<string, string>();
  for (const value of values) {
    // Commas inside quoted values do not split directives.
    for (const part of value.match(/(?:[^,"]|"[^"]*")+/g) ?? []) {
      const [rawName, ...rest] = part.split('=');
      const name = rawName!.trim().toLowerCase();
      if (name === '' || directives.has(name)) continue; // RFC 9111 §4.2.1: the first occurrence counts.
      directives.set(name, rest.join('=').trim().replace(/^"(.*)"$/, '$1'));
    }
  }
  return directives;
}

/** A delta-seconds directive value, or undefined when absent or malformed (RFC 9111 §1.2.2). */
function seconds(directives: Map<string, string>, name: string): bigint | undefined {
  const value = directives.get(name);
  return value !== undefined && /^\d+$/.test(value) ? BigInt(value) : undefined;
}

function httpDate(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const time = Date.parse(text);
  return Number.isNaN(time) ? undefined : time;
}

export function isRequestCacheable(request: Pick<RequestHead, 'method'>): boolean {
  return CACHEABLE_METHODS.has(request.method.toUpperCase());
}

/**
 * The key the platform files a request under, as VCL's default `vcl_hash` builds it: the URL's
 * path and query, and the host (the `Host` header, else the URL's authority). Hashed with
 * SHA-256 to the 32 bytes an override key also has.
 */
export function suggestedCacheKey(request: RequestHead): Uint8Array {
  let path = request.uri;
  let host = header(request.headers, 'host');
  if (!request.uri.startsWith('/')) {
    try {
      const url = new URL(request.uri);
      path = url.pathname + url.search;
      host ??= url.host;
    } catch {
      // An unparsable URI (the guest set it) is keyed as written.
    }
  }
  return new Uint8Array(createHash('sha256').update(encoder.encode(`${host ?? ''}\n${path}`)).digest());
}

/** Why a response may not be stored, or undefined when it may. */
export function uncacheableReason(response: ResponseHead, request?: Pick<RequestHead, 'headers'>): string | undefined {
  const cacheControl = parseDirectives(headerValues(response.headers, 'cache-control'));
  const surrogate = parseDirectives(headerValues(response.headers, 'surrogate-control'));
  if (!CACHEABLE_STATUSES.has(response.status)) return `status ${response.status} is not cached by default`;
  // Fastly: "private - Don't store"; RFC 9111 §5.2.2.3/§5.2.2.7: no shared cache stores these.
  if (cacheControl.has('private')) return 'Cache-Control: private';
  if (cacheControl.has('no-store') || surrogate.has('no-store')) return 'no-store';
  // Fastly does not cache responses that set cookies (its default VCL passes them).
  if (headerValues(response.headers, 'set-cookie').length > 0) return 'Set-Cookie';
  // RFC 9111 §4.1: `Vary: *` never matches a later request.
  if (varyNames(response.headers).includes('*')) return 'Vary: *';
  // RFC 9111 §3.5: a shared cache reuses an answer to an authorized request only when the response allows it.
  if (request && headerValues(request.headers, 'authorization').length > 0) {
    if (!['public', 's-maxage', 'must-revalidate'].some((name) => cacheControl.has(name))) return 'Authorization on the request';
  }
  return undefined;
}

function varyNames(headers: HeaderList): string[] {
  const names = headerValues(headers, 'vary').flatMap((value) => value.split(','));
  return [...new Set(names.map((name) => name.trim().toLowerCase()).filter((name) => name !== ''))];
}

/** The Vary rule a response asks for: its `Vary` names, lower case, space separated. */
export function varyRule(headers: HeaderList): string {
  return varyNames(headers).join(' ');
}

/**
 * Freshness lifetime in seconds, in Fastly's order of preference: `Surrogate-Control: max-age`,
 * `Cache-Control: s-maxage`, `Cache-Control: max-age`, `Expires` less `Date`; else the default.
 * `no-cache` (RFC 9111 §5.2.2.4: store, but revalidate before each use) makes it 0, so a lookup
 * finds the object stale and is asked to revalidate.
 */
export function freshnessSeconds(response: ResponseHead, nowMs: number): bigint {
  const cacheControl = parseDirectives(headerValues(response.headers, 'cache-control'));
  const surrogate = parseDirectives(headerValues(response.headers, 'surrogate-control'));
  const explicit = seconds(surrogate, 'max-age') ?? seconds(cacheControl, 's-maxage') ?? seconds(cacheControl, 'max-age');
  if (explicit !== undefined) return explicit;
  if (cacheControl.has('no-cache')) return 0n;
  const expiresText = header(response.headers, 'expires');
  if (expiresText !== undefined) {
    const expires = httpDate(expiresText);
    // RFC 9111 §5.3: an invalid Expires (such as "0") means already expired.
    if (expires === undefined) return 0n;
    const date = httpDate(header(response.headers, 'date')) ?? nowMs;
    return expires > date ? BigInt(Math.floor((expires - date) / 1000)) : 0n;
  }
  return DEFAULT_TTL_SECONDS;
}

/** Age when received (RFC 9111 §4.2.3): the larger of the `Age` header and now less `Date`. */
export function initialAgeSeconds(response: ResponseHead, nowMs: number): bigint {
  const ageText = header(response.headers, 'age');
  const age = ageText !== undefined && /^\s*\d+\s*$/.test(ageText) ? BigInt(ageText.trim()) : 0n;
  const date = httpDate(header(response.headers, 'date'));
  const apparent = date !== undefined && nowMs > date ? BigInt(Math.floor((nowMs - date) / 1000)) : 0n;
  return age > apparent ? age : apparent;
}

/** An RFC 5861 extension: Surrogate-Control first, then Cache-Control; 0 when neither says. */
function staleSeconds(response: ResponseHead, name: 'stale-while-revalidate' | 'stale-if-error'): bigint {
  const surrogate = parseDirectives(headerValues(response.headers, 'surrogate-control'));
  const cacheControl = parseDirectives(headerValues(response.headers, 'cache-control'));
  return seconds(surrogate, name) ?? seconds(cacheControl, name) ?? 0n;
}

function contentLength(headers: HeaderList): bigint | undefined {
  if (headerValues(headers, 'transfer-encoding').length > 0) return undefined;
  const value = header(headers, 'content-length');
  return value !== undefined && /^\s*\d+\s*$/.test(value) ? BigInt(value.trim()) : undefined;
}

export function suggestWriteOptions(response: ResponseHead, nowMs: number): WriteSuggestion {
  return {
    maxAgeNs: freshnessSeconds(response, nowMs) * NS_PER_SECOND,
    initialAgeNs: initialAgeSeconds(response, nowMs) * NS_PER_SECOND,
    staleWhileRevalidateNs: staleSeconds(response, 'stale-while-revalidate') * NS_PER_SECOND,
    staleIfErrorNs: staleSeconds(response, 'stale-if-error') * NS_PER_SECOND,
    varyRule: varyRule(response.headers),
    surrogateKeys: headerValues(response.headers, 'surrogate-key').join(' ').trim().split(/\s+/).filter(Boolean).join(' '),
    length: contentLength(response.headers),
    sensitiveData: false,
  };
}

export type StorageAction = 'insert' | 'update' | 'do-not-store' | 'record-uncacheable';

/**
 * What to do with a backend response in a transaction. A 304 answers a revalidation: it updates
 * the stored object when there is one, and is not stored otherwise (it has no body to store).
 * A server error (5xx) is not stored but not recorded as uncacheable either, so a stale object
 * stays usable under stale-if-error and the next request tries again. Anything else is inserted
 * when the rules allow it, else recorded as uncacheable (Fastly's hit-for-pass), so concurrent
 * requests for it stop waiting on each other.
 */
export function storageAction(response: ResponseHead, request: Pick<RequestHead, 'headers'>, hasStoredObject: boolean): StorageAction {
  if (response.status === 304) return hasStoredObject ? 'update' : 'do-not-store';
  if (response.status >= 500) return 'do-not-store';
  return uncacheableReason(response, request) === undefined ? 'insert' : 'record-uncacheable';
}

/** The response `prepare-response-for-storage` proposes: without hop-by-hop headers. */
export function headersForPreparation(headers: HeaderList): HeaderList {
  return headers.filter(([name]) => !HOP_BY_HOP.has(name.toLowerCase()));
}

/** The headers kept with a stored response. */
export function headersForStorage(headers: HeaderList): HeaderList {
  return headersForPreparation(headers).filter(([name]) => name.toLowerCase() !== CONSUMED_BY_CACHE);
}

/**
 * A stored response's headers freshened by a 304 (RFC 9111 §4.3.4): each header the 304 carries
 * replaces the stored ones of that name, except the framing headers that describe the 304 itself.
 */
export function freshenHeaders(stored: HeaderList, notModified: HeaderList): HeaderList {
  const keepStored = new Set(['content-length', 'content-encoding', 'content-range', 'content-type']);
  const updates = headersForStorage(notModified).filter(([name]) => !keepStored.has(name.toLowerCase()));
  const replaced = new Set(updates.map(([name]) => name.toLowerCase()));
  return [...stored.filter(([name]) => !replaced.has(name.toLowerCase())), ...updates];
}

/** A stored response as the client gets it: `Age` is the time it has spent in caches, in whole seconds. */
export function headersForClient(stored: HeaderList, ageNs: bigint): HeaderList {
  const age: [string, Uint8Array] = ['age', encoder.encode(String(ageNs / NS_PER_SECOND))];
  return [...stored.filter(([name]) => name.toLowerCase() !== 'age'), age];
}

/** The request header values a Vary rule selects, in the rule's order (compared to pick a variant). */
export function varySignature(rule: string, requestHeaders: HeaderList): string {
  if (rule === '') return '';
  return rule
    .split(' ')
    .map((name) => `${name}:${headerValues(requestHeaders, name).join(',')}`)
    .join('\n');
}

/** `http-req.cache-override-details` as jco passes it. */
export interface CacheOverrideDetails {
  ttl?: number;
  staleWhileRevalidate?: number;
  pci: boolean;
  surrogateKey?: string;
}

/**
 * A request's cache override wins over what the response says (Fastly: "Override the caching
 * behavior of this request"); its surrogate keys are added to the response's ("to include the
 * given surrogate key"), and an empty one adds nothing.
 */
export function applyOverride(suggestion: WriteSuggestion, override: CacheOverrideDetails | undefined): WriteSuggestion {
  if (!override) return suggestion;
  return {
    ...suggestion,
    maxAgeNs: override.ttl !== undefined ? BigInt(override.ttl) * NS_PER_SECOND : suggestion.maxAgeNs,
    staleWhileRevalidateNs: override.staleWhileRevalidate !== undefined ? BigInt(override.staleWhileRevalidate) * NS_PER_SECOND : suggestion.staleWhileRevalidateNs,
    sensitiveData: suggestion.sensitiveData || override.pci,
    surrogateKeys: [...new Set([...suggestion.surrogateKeys.split(' '), ...(override.surrogateKey ?? '').trim().split(/\s+/)].filter(Boolean))].join(' '),
  };
}
