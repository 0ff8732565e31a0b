import type { ServiceMethod } from './protocol.js';

/**
 * KV stores (`fastly:compute/kv-store`, legacy `fastly_kv_store` / `fastly_object_store`):
 * the methods the worker calls on the main thread, and the platform's documented limits, which
 * both sides check (the worker to fail before copying a value across, the main side because it
 * is the store).
 */

/** `kv-store.insert-mode`, as jco passes the WIT enum. */
export type KvInsertMode = 'overwrite' | 'add' | 'append' | 'prepend';

/** The `kv-error` cases a store operation fails with (`extra` is never produced). */
export type KvErrorCase = 'bad-request' | 'precondition-failed' | 'payload-too-large' | 'internal-error' | 'too-many-requests' | 'generic-error';

export type KvError = { tag: KvErrorCase };

/** A value found under a key. */
export interface KvFound {
  value: Uint8Array;
  metadata?: string;
  generation: bigint;
}

export interface KvInsertArgs {
  store: string;
  key: string;
  value: Uint8Array;
  mode: KvInsertMode;
  ifGenerationMatch?: bigint;
  metadata?: string;
  ttlSec?: number;
}

export interface KvListArgs {
  store: string;
  cursor?: string;
  limit?: number;
  prefix?: string;
}

export type KvMethods = {
  /** Fails with the open-error `not-found` for a store `fastly.toml` does not name. */
  'kv.open': ServiceMethod<{ store: string }, null>;
  'kv.lookup': ServiceMethod<{ store: string; key: string }, KvFound | undefined>;
  'kv.insert': ServiceMethod<KvInsertArgs, null>;
  /** True when a live entry was deleted. */
  'kv.delete': ServiceMethod<{ store: string; key: string }, boolean>;
  /** One page of keys as the platform's JSON (see `KvListPage`). */
  'kv.list': ServiceMethod<KvListArgs, Uint8Array>;
};

/** The JSON body of a list page: keys in order, and where the next page starts. */
export interface KvListPage {
  data: string[];
  meta: { limit: number; prefix?: string; next_cursor?: string };
}

/** Fastly: "KV stores support a maximum key size of 1024 bytes in UTF-8 format". */
export const KV_MAX_KEY_BYTES = 1024;
/** Fastly: values "have a maximum size of 25MB" (raised to 100 MB only on request). */
export const KV_MAX_VALUE_BYTES = 25 * 1024 * 1024;
/** Fastly's KV item API: "The metadata can contain up to 2,000 bytes". */
export const KV_MAX_METADATA_BYTES = 2000;
/** A page holds this many keys when the guest gives no limit (the platform's and Viceroy's default). */
export const KV_DEFAULT_LIST_LIMIT = 1000;
/** Fastly reserves keys under this prefix (ACME HTTP-01 challenges are answered by the platform). */
export const KV_RESERVED_PREFIX = '.well-known/acme-challenge/';
/** Characters the SDK documentation lists as forbidden anywhere in a key. */
const FORBIDDEN_KEY_CHARS = /[#;?^|\r\n]/;

const encoder = new TextEncoder();

/** Whether `text` takes more than `limit` bytes in UTF-8 (a UTF-16 code unit never takes more than 3, which spares encoding short strings). */
export function utf8Over(text: string, limit: number): boolean {
  return text.length * 3 > limit && encoder.encode(text).length > limit;
}

/**
 * Why `key` is not a valid KV key, or undefined when it is. The rules are Fastly's documented
 * ones: 1–1024 UTF-8 bytes; not `.` or `..` (keys double as URL path segments in the API); not
 * under `.well-known/acme-challenge/`; none of `#;?^|` CR LF; and no single-character key that
 * is a control character or space (U+0000–U+0020) or a non-character (U+FFFE, U+FFFF).
 */
export function kvKeyProblem(key: string): string | undefined {
  if (key.length === 0) return 'a key cannot be empty';
  if (utf8Over(key, KV_MAX_KEY_BYTES)) return `a key is at most ${KV_MAX_KEY_BYTES} bytes`;
  if (key === '.' || key === '..') return 'a key cannot be `.` or `..`';
  if (key.startsWith(KV_RESERVED_PREFIX)) return `a key cannot start with ${KV_RESERVED_PREFIX}`;
  if (FORBIDDEN_KEY_CHARS.test(key)) return 'a key cannot contain any of #;?^| CR LF';
  if (key.length === 1) {
    const code = key.charCodeAt(0);
    if (code <= 0x20 || code === 0xfffe || code === 0xffff) return 'a one-character key cannot be a control character, space or non-character';
  }
  return undefined;
}

/** Why metadata is refused (it travels as an HTTP header value on the platform), or undefined. */
export function kvMetadataProblem(metadata: string): string | undefined {
  if (utf8Over(metadata, KV_MAX_METADATA_BYTES)) return `metadata is at most ${KV_MAX_METADATA_BYTES} bytes`;
  if (/[\r\n]/.test(metadata)) return 'metadata cannot contain CR or LF';
  return undefined;
}
